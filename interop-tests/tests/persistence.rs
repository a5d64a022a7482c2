//! Persistence as a third-party client sees it: librdkafka writes to a mini-broker with a data
//! dir (`--data-dir`), the broker stops, a new one starts on the same directory, and
//! librdkafka reads back every record it was told was written, at the offset it was told,
//! byte for byte (keys, values, headers, timestamps).

use std::time::Duration;

use ferrokafka_interop_tests::peers::rdkafka as rd;
use ferrokafka_interop_tests::record::sample;
use ferrokafka_interop_tests::{runtime, unique_topic};
use ferrokafka_mini_broker::MiniBroker;

/// Removes the data dir however the test ends.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn rdkafka_reads_back_after_a_restart_what_it_wrote_before() {
    let dir = std::env::temp_dir().join(unique_topic("ferrokafka-rd-restart"));
    let _cleanup = RemoveOnDrop(dir.clone());
    let rt = runtime();
    let start = || {
        rt.block_on(MiniBroker::builder().data_dir(&dir).start())
            .expect("start on the data dir")
    };
    let topic = unique_topic("restart");
    let records = sample(300, 3);
    let delivered = {
        let broker = start();
        let bootstrap = broker.bootstrap();
        rd::admin::create_topic(&bootstrap, &topic, 3, &[("retention.ms", "-1")]).expect("create");
        let settings = [("acks", "all"), ("enable.idempotence", "true")];
        let delivered = rd::produce(&bootstrap, &topic, &records, &settings);
        rt.block_on(broker.shutdown());
        delivered
    };

    let broker = start();
    let bootstrap = broker.bootstrap();
    for partition in 0..3 {
        let mut want: Vec<(i64, _)> = records
            .iter()
            .zip(&delivered)
            .filter(|(r, _)| r.partition == partition)
            .map(|(r, (_, offset))| (*offset, r.clone()))
            .collect();
        want.sort_by_key(|(offset, _)| *offset);
        let got: Vec<(i64, _)> =
            rd::read_all(&bootstrap, &topic, partition, Duration::from_secs(20), &[])
                .into_iter()
                .map(|c| (c.offset, c.record))
                .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want, "partition {partition}");
    }
    rt.block_on(broker.shutdown());
}
