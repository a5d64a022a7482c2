//! Where records go: keyed records by the Java client's murmur2 (checked against the
//! partitions the producer reports), keyless records sticky (KIP-480: runs that fill a batch,
//! spread over every partition), explicit partitions first, and the other strategies.

mod producer_support;

use std::collections::BTreeSet;
use std::time::Duration;

use ferrokafka::partitioner::partition_for_key;
use ferrokafka::producer::ProducerRecord;
use ferrokafka::Partitioner;
use producer_support::{broker, client, config, fetch_topic, producer, within};

const PARTITIONS: i32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_go_where_murmur2_says_and_explicit_partitions_win() {
    let broker = broker(PARTITIONS).await;
    let p = producer(config(&broker.bootstrap())).await;
    let mut deliveries = Vec::new();
    for i in 0..1000 {
        let key = format!("user-{i}");
        let d = p
            .send(ProducerRecord::new("keyed").key(key.clone()).value("v"))
            .await
            .expect("send");
        deliveries.push((key, d));
    }
    let explicit = p
        .send(
            ProducerRecord::new("keyed")
                .key("user-1")
                .partition(5)
                .value("here"),
        )
        .await
        .expect("send");
    let mut used = BTreeSet::new();
    for (key, d) in deliveries {
        let m = within("delivery", d).await.expect("delivered");
        assert_eq!(
            m.partition,
            partition_for_key(key.as_bytes(), PARTITIONS),
            "{key}"
        );
        used.insert(m.partition);
    }
    assert_eq!(used.len(), PARTITIONS as usize);
    assert_eq!(
        within("delivery", explicit)
            .await
            .expect("delivered")
            .partition,
        5
    );
    p.close().await.expect("close");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_records_stick_to_a_partition_per_batch_and_spread() {
    let broker = broker(PARTITIONS).await;
    let p = producer(
        config(&broker.bootstrap())
            .batch_size(1024)
            .linger(Duration::from_millis(5)),
    )
    .await;
    let n = 3000;
    let mut partitions = Vec::new();
    let mut deliveries = Vec::new();
    for i in 0..n {
        let d = p
            .send(ProducerRecord::new("sticky").value(format!("{i:06}-{}", "s".repeat(90))))
            .await
            .expect("send");
        partitions.push(d.partition());
        deliveries.push(d);
    }
    for d in deliveries {
        within("delivery", d).await.expect("delivered");
    }
    let used: BTreeSet<i32> = partitions.iter().copied().collect();
    assert_eq!(
        used.len(),
        PARTITIONS as usize,
        "keyless records reach every partition"
    );
    // Sticky: the partition changes once per batch (about nine 100-byte records in 1 KiB),
    // not per record.
    let switches = partitions.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches <= n / 5,
        "{switches} partition switches for {n} records: not sticky"
    );
    assert!(
        switches >= n / 20,
        "{switches} switches: batches did not move on"
    );
    // Each run is contiguous in its partition's log.
    let reader = client(&broker.bootstrap()).await;
    let log = fetch_topic(&reader, "sticky", PARTITIONS).await;
    let total: usize = log.iter().map(Vec::len).sum();
    assert_eq!(total, n);
    for records in &log {
        let indexes: Vec<usize> = records
            .iter()
            .map(|r| {
                std::str::from_utf8(&r.value.as_ref().unwrap()[..6])
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(indexes.windows(2).all(|w| w[0] < w[1]), "send order kept");
    }
    reader.close().await;
    p.close().await.expect("close");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_and_ignore_keys() {
    let broker = broker(PARTITIONS).await;
    let rr = producer(config(&broker.bootstrap()).partitioner(Partitioner::RoundRobin)).await;
    let mut got = Vec::new();
    for i in 0..12 {
        let d = rr
            .send(ProducerRecord::new("rr").key("same").value(format!("{i}")))
            .await
            .expect("send");
        got.push(d.partition());
    }
    let first = got[0];
    let expected: Vec<i32> = (0..12).map(|i| (first + i) % PARTITIONS).collect();
    assert_eq!(got, expected, "one partition after the other, keys ignored");
    rr.close().await.expect("close");

    // A linger longer than the test: the first batch cannot leave before all 20 are in it.
    let sticky = producer(
        config(&broker.bootstrap())
            .partitioner(Partitioner::IgnoreKeys)
            .linger(Duration::from_secs(3600))
            .delivery_timeout(Duration::from_secs(4000)),
    )
    .await;
    let mut got = BTreeSet::new();
    for i in 0..20 {
        let d = sticky
            .send(
                ProducerRecord::new("ignore")
                    .key(format!("k{i}"))
                    .value("v"),
            )
            .await
            .expect("send");
        got.insert(d.partition());
    }
    assert_eq!(
        got.len(),
        1,
        "keys ignored: all in the sticky partition's first batch"
    );
    sticky.close().await.expect("close");
    broker.shutdown().await;
}
