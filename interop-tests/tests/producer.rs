//! The ferrokafka producer against every broker target, checked by other clients:
//!
//! - what it writes with every ack mode and every codec, librdkafka and the Java consumer read
//!   back identically (key, value, headers with duplicates and nulls, timestamp, partition,
//!   consecutive offsets);
//! - for 10,000 keys on a 6-partition topic, its partition for each key equals librdkafka's
//!   (`partitioner=murmur2_random`) and the Java producer's default partitioner's, as their
//!   delivery reports give them.

use std::time::Duration;

use bytes::Bytes;
use ferrokafka::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use ferrokafka_interop_tests::peers::{java, rdkafka as rd};
use ferrokafka_interop_tests::record::{assert_same, sample};
use ferrokafka_interop_tests::runtime;
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};
use ferrokafka_protocol::record::{Compression, Header};

const WAIT: Duration = Duration::from_secs(60);

fn to_record(topic: &str, r: &TestRecord) -> ProducerRecord {
    let mut record = ProducerRecord::new(topic.to_owned());
    if r.partition >= 0 {
        record = record.partition(r.partition);
    }
    record.key = r.key.clone().map(Bytes::from);
    record.value = r.value.clone().map(Bytes::from);
    record.headers = r
        .headers
        .iter()
        .map(|(k, v)| match v {
            Some(v) => Header::new(k.clone(), v.clone()),
            None => Header::null(k.clone()),
        })
        .collect();
    record.timestamp = r.timestamp;
    record
}

/// Sends `records` with a producer configured by `config`; returns where each landed, or
/// `(partition, -1)` with `acks=0`.
async fn produce(
    bootstrap: &str,
    topic: &str,
    records: &[TestRecord],
    config: impl FnOnce(ProducerConfig) -> ProducerConfig,
) -> Vec<(i32, i64)> {
    let base = ProducerConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("ferrokafka-interop")
        .build()
        .expect("config");
    let producer = Producer::connect(config(base)).await.expect("producer");
    let mut deliveries = Vec::with_capacity(records.len());
    for r in records {
        deliveries.push(producer.send(to_record(topic, r)).await.expect("send"));
    }
    let mut out = Vec::with_capacity(records.len());
    for d in deliveries {
        let m = tokio::time::timeout(WAIT, d)
            .await
            .expect("delivery in time")
            .expect("delivered");
        out.push((m.partition, m.offset.unwrap_or(-1)));
    }
    producer.close().await.expect("close");
    out
}

scenario!(
    every_ack_mode_and_codec_reads_back_with_every_peer,
    |t: &Target| {
        const PARTITIONS: i32 = 3;
        let topic = unique_topic("fk-acks-codecs");
        rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
        let rt = runtime();
        let mut sent: Vec<TestRecord> = Vec::new();
        // acks=0 last: on a topic just created a real broker may refuse the first batches
        // (its leadership is still settling), and with acks=0 nobody hears it, as in Java.
        for acks in [Acks::All, Acks::Leader, Acks::None] {
            for codec in Compression::ALL {
                let mut records = sample(15, PARTITIONS);
                for (i, r) in records.iter_mut().enumerate() {
                    if let Some(v) = &mut r.value {
                        v.extend_from_slice(
                            format!(" acks={} {codec} {i}", acks.as_i16()).as_bytes(),
                        );
                    }
                }
                let delivered = rt.block_on(produce(&t.bootstrap, &topic, &records, |mut c| {
                    c.acks = acks;
                    c.compression = codec;
                    c
                }));
                for ((p, o), r) in delivered.iter().zip(&records) {
                    assert_eq!(*p, r.partition, "explicit partition kept");
                    assert_eq!(*o >= 0, acks != Acks::None, "offsets unless acks=0");
                }
                sent.extend(records);
            }
        }
        for p in 0..PARTITIONS {
            let want: Vec<TestRecord> = sent.iter().filter(|r| r.partition == p).cloned().collect();
            let got = rd::consume(&t.bootstrap, &topic, p, 0, want.len(), WAIT, &[]);
            assert_same(&want, &got, &format!("ferrokafka -> rdkafka, {:?}", t.kind));
            if java::available() {
                let got = java::consume(&t.bootstrap, &topic, p, 0, want.len(), &[]);
                assert_same(&want, &got, &format!("ferrokafka -> java, {:?}", t.kind));
            }
        }
    }
);

scenario!(keyed_partitions_match_librdkafka_and_java, |t: &Target| {
    const PARTITIONS: i32 = 6;
    const KEYS: usize = 10_000;
    let keyed: Vec<TestRecord> = (0..KEYS)
        .map(|i| TestRecord {
            partition: -1,
            timestamp: None,
            key: Some(format!("key-{i}-{}", i * 7919).into_bytes()),
            value: Some(b"v".to_vec()),
            headers: Vec::new(),
        })
        .collect();
    let ours_topic = unique_topic("fk-keys");
    rd::admin::create_topic(&t.bootstrap, &ours_topic, PARTITIONS, &[]).expect("create topic");
    let ours: Vec<i32> = runtime()
        .block_on(produce(&t.bootstrap, &ours_topic, &keyed, |mut c| {
            c.acks = Acks::Leader;
            c
        }))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let used: std::collections::BTreeSet<i32> = ours.iter().copied().collect();
    assert_eq!(
        used.len(),
        PARTITIONS as usize,
        "keys spread over every partition"
    );

    let rd_topic = unique_topic("rd-keys");
    rd::admin::create_topic(&t.bootstrap, &rd_topic, PARTITIONS, &[]).expect("create topic");
    let theirs = rd::produce(
        &t.bootstrap,
        &rd_topic,
        &keyed,
        &[("partitioner", "murmur2_random"), ("acks", "1")],
    );
    for (i, ((p, _), mine)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(p, mine, "key {i}: librdkafka chose {p}, ferrokafka {mine}");
    }

    if java::available() {
        let java_topic = unique_topic("java-keys");
        rd::admin::create_topic(&t.bootstrap, &java_topic, PARTITIONS, &[]).expect("create topic");
        let theirs = java::produce(
            &t.bootstrap,
            &java_topic,
            &keyed,
            &[
                ("linger.ms", "0"),
                ("acks", "1"),
                ("enable.idempotence", "false"),
            ],
        );
        for (i, ((p, _), mine)) in theirs.iter().zip(&ours).enumerate() {
            assert_eq!(p, mine, "key {i}: Java chose {p}, ferrokafka {mine}");
        }
    }
});
