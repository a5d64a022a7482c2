//! Peer clients against every broker target: what one client writes, every client reads back
//! identically (key, value, headers with duplicates, timestamp, partition, offset).

use std::time::Duration;

use ferrokafka_interop_tests::peers::{java, kcat, rdkafka as rd};
use ferrokafka_interop_tests::record::{assert_same, sample};
use ferrokafka_interop_tests::{scenario, unique_topic, Consumed, Target, TestRecord};

const PARTITIONS: i32 = 3;
const WAIT: Duration = Duration::from_secs(30);

/// Base offset of each partition for `delivered`, which must be consecutive per partition.
fn first_offsets(delivered: &[(i32, i64)]) -> Vec<(i32, i64, usize)> {
    let mut out: Vec<(i32, i64, usize)> = Vec::new();
    for (p, o) in delivered {
        match out.iter_mut().find(|(q, _, _)| q == p) {
            Some(entry) => {
                assert_eq!(
                    *o,
                    entry.1 + entry.2 as i64,
                    "offsets not consecutive in partition {p}"
                );
                entry.2 += 1;
            }
            None => out.push((*p, *o, 1)),
        }
    }
    out
}

/// Reads back everything `delivered` with each consumer peer and compares it to `sent`.
fn read_back_with_every_peer(
    t: &Target,
    topic: &str,
    sent: &[TestRecord],
    delivered: &[(i32, i64)],
    who: &str,
) {
    for (p, base, n) in first_offsets(delivered) {
        let sent_p: Vec<TestRecord> = sent.iter().filter(|r| r.partition == p).cloned().collect();
        let got = rd::consume(&t.bootstrap, topic, p, base, n, WAIT, &[]);
        assert_same(&sent_p, &got, &format!("{who} -> rdkafka, {:?}", t.kind));
        if java::available() {
            let got = java::consume(&t.bootstrap, topic, p, base, n, &[]);
            assert_same(&sent_p, &got, &format!("{who} -> java, {:?}", t.kind));
        }
        if kcat::available() {
            let got = kcat::consume(&t.bootstrap, topic, p, base, n, &[]);
            assert_same(&sent_p, &got, &format!("{who} -> kcat, {:?}", t.kind));
        }
    }
}

scenario!(rdkafka_writes_every_peer_reads, |t: &Target| {
    let topic = unique_topic("rd-all");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let sent = sample(24, PARTITIONS);
    let delivered = rd::produce(&t.bootstrap, &topic, &sent, &[("acks", "all")]);
    read_back_with_every_peer(t, &topic, &sent, &delivered, "rdkafka");
});

scenario!(java_writes_every_peer_reads, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("java-all");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let sent = sample(24, PARTITIONS);
    // The Java producer's defaults: acks=all with idempotence (InitProducerId).
    let delivered = java::produce(&t.bootstrap, &topic, &sent, &[("linger.ms", "5")]);
    read_back_with_every_peer(t, &topic, &sent, &delivered, "java");
});

scenario!(kcat_writes_every_peer_reads, |t: &Target| {
    if !kcat::available() {
        return;
    }
    let topic = unique_topic("kcat-all");
    let pairs: Vec<(String, String)> = (0..10)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    let headers = [("h", "one"), ("h", "two"), ("x", "y")];
    kcat::produce(
        &t.bootstrap,
        &topic,
        0,
        &pairs,
        &headers,
        &[("compression.codec", "lz4")],
    )
    .unwrap_or_else(|e| panic!("kcat produce failed with {e}"));
    let sent: Vec<TestRecord> = pairs
        .iter()
        .map(|(k, v)| TestRecord {
            partition: 0,
            timestamp: None,
            key: Some(k.clone().into_bytes()),
            value: Some(v.clone().into_bytes()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
                .collect(),
        })
        .collect();
    let (low, high) = rd::watermarks(&t.bootstrap, &topic, 0);
    assert_eq!(high - low, 10, "kcat wrote 10 records");
    let delivered: Vec<(i32, i64)> = (low..high).map(|o| (0, o)).collect();
    read_back_with_every_peer(t, &topic, &sent, &delivered, "kcat");
});

scenario!(rdkafka_every_ack_mode_and_codec, |t: &Target| {
    let topic = unique_topic("acks-codecs");
    let mut expected: Vec<Vec<u8>> = Vec::new();
    // acks=0 last: each round is its own producer, and fire-and-forget requests from separate
    // connections may reach the broker in any order; the acknowledged rounds are in order.
    for acks in ["1", "all", "0"] {
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let records: Vec<TestRecord> = (0..20)
                .map(|i| TestRecord {
                    partition: 0,
                    timestamp: Some(1_700_000_000_000 + i),
                    key: Some(format!("{acks}-{codec}-{i}").into_bytes()),
                    value: Some(
                        format!("payload {acks} {codec} {i} {}", "z".repeat(50)).into_bytes(),
                    ),
                    headers: vec![("codec".into(), Some(codec.as_bytes().to_vec()))],
                })
                .collect();
            // acks=0 needs idempotence off (librdkafka refuses the combination otherwise).
            let settings = [
                ("acks", acks),
                ("compression.codec", codec),
                ("linger.ms", "5"),
            ];
            let delivered = rd::produce(&t.bootstrap, &topic, &records, &settings);
            if acks != "0" {
                assert!(
                    delivered.iter().all(|(_, o)| *o >= 0),
                    "acks={acks} reports offsets"
                );
            }
            expected.extend(records.into_iter().filter_map(|r| r.value));
        }
    }
    let n = expected.len();
    let acked = 2 * 5 * 20;
    let check = |got: Vec<Consumed>, who: &str| {
        let values: Vec<Vec<u8>> = got.into_iter().filter_map(|c| c.record.value).collect();
        assert_eq!(values.len(), n, "{who} read back every record");
        assert_eq!(
            values[..acked],
            expected[..acked],
            "{who} read back the acknowledged ack modes and codecs in order"
        );
        // Within one acks=0 producer (one codec) the order holds; between them it need not.
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let prefix = format!("payload 0 {codec} ");
            let of_codec = |v: &&Vec<u8>| v.starts_with(prefix.as_bytes());
            let got: Vec<&Vec<u8>> = values[acked..].iter().filter(of_codec).collect();
            let want: Vec<&Vec<u8>> = expected[acked..].iter().filter(of_codec).collect();
            assert_eq!(got, want, "{who} read back acks=0 {codec} in order");
        }
    };
    check(
        rd::consume(&t.bootstrap, &topic, 0, 0, n, WAIT, &[]),
        "rdkafka",
    );
    if java::available() {
        check(java::consume(&t.bootstrap, &topic, 0, 0, n, &[]), "java");
    }
});

scenario!(java_every_codec, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("java-codecs");
    let mut sent = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let records: Vec<TestRecord> = sample(10, 1);
        let settings = [
            ("compression.type", codec),
            ("acks", "1"),
            ("enable.idempotence", "false"),
        ];
        java::produce(&t.bootstrap, &topic, &records, &settings);
        sent.extend(records);
    }
    let got = rd::consume(&t.bootstrap, &topic, 0, 0, sent.len(), WAIT, &[]);
    assert_same(&sent, &got, "java codecs -> rdkafka");
});

scenario!(kcat_lists_broker_and_topic, |t: &Target| {
    if !kcat::available() {
        return;
    }
    let topic = unique_topic("listed");
    rd::admin::create_topic(&t.bootstrap, &topic, 2, &[]).expect("create topic");
    let listing = kcat::list(&t.bootstrap);
    let port = t.bootstrap.rsplit(':').next().expect("port");
    assert!(
        listing.contains(&format!(":{port}")),
        "broker with our port in:\n{listing}"
    );
    assert!(
        listing.contains(&format!("topic \"{topic}\" with 2 partitions")),
        "topic in:\n{listing}"
    );
});
