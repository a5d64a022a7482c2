//! Transactions with other clients: librdkafka's and the Java client's transactional
//! producers commit and abort on every target, and consumers read back what each isolation
//! level promises: read_committed readers (librdkafka, Java) see the committed transactions
//! only, read_uncommitted readers see every record. Then exactly-once processing: offsets sent
//! to a transaction (`send_offsets_to_transaction`, `sendOffsetsToTransaction`) become the
//! group's committed offsets only when the transaction commits.
//!
//! Then zombie fencing as a Java application sees it with transaction version 2 (KIP-890),
//! which Kafka 4.x and the mini-broker both advertise.
//!
//! Every scenario expects the same records and offsets on every target, so the mini-broker's
//! results are checked against Kafka's own.

use std::time::{Duration, Instant};

use ferrokafka_interop_tests::peers::{java, rdkafka as rd};
use ferrokafka_interop_tests::record::{in_partition, records, three_transactions};
use ferrokafka_interop_tests::{scenario, unique_topic, Consumed, Target, TestRecord};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const WAIT: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 2;
const COMMITTED: &[(&str, &str)] = &[("isolation.level", "read_committed")];
const UNCOMMITTED: &[(&str, &str)] = &[("isolation.level", "read_uncommitted")];

/// How a transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Commit,
    Abort,
}

/// A librdkafka transactional producer, initialised (InitProducerId done).
fn rd_transactional(bootstrap: &str, transactional_id: &str) -> BaseProducer {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", transactional_id)
        .set("linger.ms", "0")
        .set("log_level", "4")
        .create()
        .expect("rdkafka transactional producer");
    producer.init_transactions(WAIT).expect("init_transactions");
    producer
}

/// Sends `records` to `topic` and flushes (inside the producer's open transaction).
fn rd_send(producer: &BaseProducer, topic: &str, records: &[TestRecord]) {
    for r in records {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic)
            .partition(r.partition)
            .headers(headers);
        if let Some(k) = &r.key {
            rec = rec.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            rec = rec.payload(v.as_slice());
        }
        if let Some(ts) = r.timestamp {
            rec = rec.timestamp(ts);
        }
        producer.send(rec).map_err(|(e, _)| e).expect("enqueue");
        producer.poll(Duration::ZERO);
    }
    producer.flush(WAIT).expect("flush");
}

/// One transaction of `records`, ended as `end`.
fn rd_transaction(producer: &BaseProducer, topic: &str, records: &[TestRecord], end: End) {
    producer.begin_transaction().expect("begin_transaction");
    rd_send(producer, topic, records);
    match end {
        End::Commit => producer.commit_transaction(WAIT).expect("commit"),
        End::Abort => producer.abort_transaction(WAIT).expect("abort"),
    }
}

/// The Java producer's settings for one transaction.
fn java_transaction(id: &str, end: End) -> Vec<(&str, &str)> {
    let mut settings = vec![("transactional.id", id), ("linger.ms", "0")];
    if end == End::Abort {
        settings.push(("peer.abort", "true"));
    }
    settings
}

/// Reads every partition with each reader and compares with what each isolation level
/// promises: `committed` for read_committed readers, `all` for read_uncommitted ones.
fn check_reads(t: &Target, topic: &str, committed: &[TestRecord], all: &[TestRecord], who: &str) {
    for p in 0..PARTITIONS {
        let want = in_partition(committed, p);
        let got = rd::consume(&t.bootstrap, topic, p, 0, want.len(), WAIT, COMMITTED);
        assert_eq!(
            records(&got),
            want,
            "{who}: rdkafka read_committed, partition {p}"
        );
        let offsets: Vec<i64> = got.iter().map(|c| c.offset).collect();

        let every = in_partition(all, p);
        let got = rd::consume(&t.bootstrap, topic, p, 0, every.len(), WAIT, UNCOMMITTED);
        assert_eq!(
            records(&got),
            every,
            "{who}: rdkafka read_uncommitted, partition {p}"
        );

        if java::available() {
            let got = java::consume(
                &t.bootstrap,
                topic,
                p,
                0,
                want.len(),
                &[("isolation.level", "read_committed")],
            );
            assert_eq!(
                records(&got),
                want,
                "{who}: java read_committed, partition {p}"
            );
            let java_offsets: Vec<i64> = got.iter().map(|c| c.offset).collect();
            assert_eq!(
                java_offsets, offsets,
                "{who}: the same offsets for both readers"
            );
        }
        // Nothing after the last transaction but its marker: the end is stable.
        let (_, high) = rd::watermarks(&t.bootstrap, topic, p);
        assert_eq!(
            high,
            every.len() as i64 + 3,
            "{who}: partition {p} holds the records and three markers"
        );
    }
}

scenario!(rdkafka_transactions_commit_and_abort, |t: &Target| {
    let topic = unique_topic("rd-txn");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let (parts, committed, all) = three_transactions(PARTITIONS);
    let producer = rd_transactional(&t.bootstrap, &unique_topic("rd-txn-id"));
    rd_transaction(&producer, &topic, &parts[0], End::Commit);
    rd_transaction(&producer, &topic, &parts[1], End::Abort);
    rd_transaction(&producer, &topic, &parts[2], End::Commit);
    drop(producer);
    check_reads(t, &topic, &committed, &all, "rdkafka transactions");
});

scenario!(java_transactions_commit_and_abort, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("java-txn");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let (parts, committed, all) = three_transactions(PARTITIONS);
    let id = unique_topic("java-txn-id");
    for (records, end) in parts.iter().zip([End::Commit, End::Abort, End::Commit]) {
        java::produce(&t.bootstrap, &topic, records, &java_transaction(&id, end));
    }
    check_reads(t, &topic, &committed, &all, "java transactions");
});

/// A consumer of `group` for reading its committed offsets (librdkafka asks with
/// `require_stable`, so it waits out open transactions).
fn committed_offset(bootstrap: &str, group: &str, topic: &str, partition: i32) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("log_level", "4")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let committed = consumer
        .committed_offsets(tpl, WAIT)
        .expect("committed offsets");
    match committed.elements()[0].offset() {
        Offset::Offset(o) => o,
        other => other.to_raw().unwrap_or(-1001),
    }
}

/// Values of the records a reader got.
fn values(got: &[Consumed]) -> Vec<String> {
    got.iter()
        .map(|c| String::from_utf8(c.record.value.clone().unwrap_or_default()).expect("utf-8"))
        .collect()
}

fn plain(values: std::ops::Range<usize>, prefix: &str) -> Vec<TestRecord> {
    values
        .map(|i| TestRecord {
            partition: 0,
            timestamp: Some(1_700_000_000_000 + i as i64),
            key: None,
            value: Some(format!("{prefix}-{i}").into_bytes()),
            headers: Vec::new(),
        })
        .collect()
}

scenario!(rdkafka_consume_transform_produce, |t: &Target| {
    // Exactly-once processing: a group member reads the input, a transactional producer
    // writes the output and the member's next offsets in one transaction.
    let input = unique_topic("eos-in");
    let output = unique_topic("eos-out");
    for topic in [&input, &output] {
        rd::admin::create_topic(&t.bootstrap, topic, 1, &[]).expect("create topic");
    }
    let group = unique_topic("eos-group");
    rd::produce(&t.bootstrap, &input, &plain(0..10, "in"), &[]);

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &t.bootstrap)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "100")
        .set("log_level", "4")
        .create()
        .expect("group consumer");
    consumer.subscribe(&[&input]).expect("subscribe");
    let mut read = Vec::new();
    let deadline = Instant::now() + WAIT;
    while read.len() < 10 {
        assert!(
            Instant::now() < deadline,
            "read {} of 10 input records",
            read.len()
        );
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.expect("consume");
            read.push(String::from_utf8(m.payload().unwrap_or_default().to_vec()).expect("utf-8"));
        }
    }

    let producer = rd_transactional(&t.bootstrap, &unique_topic("eos-id"));
    let process = |from: usize, to: usize, end: End| {
        producer.begin_transaction().expect("begin");
        let out: Vec<TestRecord> = (from..to)
            .map(|i| TestRecord {
                value: Some(format!("out-{}", read[i]).into_bytes()),
                ..plain(i..i + 1, "x").remove(0)
            })
            .collect();
        rd_send(&producer, &output, &out);
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(&input, 0, Offset::Offset(to as i64))
            .expect("offset");
        let metadata = consumer.group_metadata().expect("group metadata");
        producer
            .send_offsets_to_transaction(&offsets, &metadata, WAIT)
            .expect("send_offsets_to_transaction");
        match end {
            End::Commit => producer.commit_transaction(WAIT).expect("commit"),
            End::Abort => producer.abort_transaction(WAIT).expect("abort"),
        }
    };
    process(0, 6, End::Commit);
    assert_eq!(committed_offset(&t.bootstrap, &group, &input, 0), 6);
    process(6, 10, End::Abort);
    assert_eq!(
        committed_offset(&t.bootstrap, &group, &input, 0),
        6,
        "the aborted transaction's offsets are dropped"
    );
    drop(producer);
    drop(consumer);

    let want: Vec<String> = (0..6).map(|i| format!("out-in-{i}")).collect();
    let got = rd::consume(&t.bootstrap, &output, 0, 0, 6, WAIT, COMMITTED);
    assert_eq!(values(&got), want, "rdkafka read_committed output");
    let got = rd::consume(&t.bootstrap, &output, 0, 0, 10, WAIT, UNCOMMITTED);
    assert_eq!(
        got.len(),
        10,
        "rdkafka read_uncommitted sees the aborted output too"
    );
    if java::available() {
        let got = java::consume(
            &t.bootstrap,
            &output,
            0,
            0,
            6,
            &[("isolation.level", "read_committed")],
        );
        assert_eq!(values(&got), want, "java read_committed output");
    }
});

scenario!(java_send_offsets_to_transaction, |t: &Target| {
    if !java::available() {
        return;
    }
    let input = unique_topic("java-eos-in");
    let output = unique_topic("java-eos-out");
    for topic in [&input, &output] {
        rd::admin::create_topic(&t.bootstrap, topic, 1, &[]).expect("create topic");
    }
    let group = unique_topic("java-eos-group");
    let id = unique_topic("java-eos-id");
    let offsets = |offset: i64| format!("{group}:{input}:0:{offset}");
    let committed_at = offsets(7);
    let mut settings = java_transaction(&id, End::Commit);
    settings.push(("peer.send.offsets", &committed_at));
    java::produce(&t.bootstrap, &output, &plain(0..3, "a"), &settings);
    assert_eq!(committed_offset(&t.bootstrap, &group, &input, 0), 7);

    let aborted_at = offsets(9);
    let mut settings = java_transaction(&id, End::Abort);
    settings.push(("peer.send.offsets", &aborted_at));
    java::produce(&t.bootstrap, &output, &plain(3..5, "b"), &settings);
    assert_eq!(
        committed_offset(&t.bootstrap, &group, &input, 0),
        7,
        "the aborted transaction's offsets are dropped"
    );
    let got = rd::consume(&t.bootstrap, &output, 0, 0, 3, WAIT, COMMITTED);
    assert_eq!(values(&got), vec!["a-0", "a-1", "a-2"]);
    let got = java::consume(
        &t.bootstrap,
        &output,
        0,
        0,
        3,
        &[("isolation.level", "read_committed")],
    );
    assert_eq!(values(&got), vec!["a-0", "a-1", "a-2"]);
});

scenario!(java_fenced_producer_sees_kafka_exceptions, |t: &Target| {
    // Kafka 4.x with transaction version 2: the fenced instance's next send, to a partition
    // new to its transaction, fails with InvalidProducerEpochException (Produce answered
    // INVALID_PRODUCER_EPOCH; a version 1 client would first have asked AddPartitionsToTxn and
    // got ProducerFencedException) and its commit rethrows it; the new instance commits and
    // aborts as usual.
    if !java::available() {
        return;
    }
    let topic = unique_topic("java-fence");
    rd::admin::create_topic(&t.bootstrap, &topic, 2, &[]).expect("create topic");
    let steps = java::txn_fence(&t.bootstrap, &topic, &unique_topic("java-fence-id"));
    let steps: Vec<(&str, &str)> = steps
        .iter()
        .map(|(step, outcome)| (step.as_str(), outcome.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("a-send-1", "ok 0"),
            ("b-init", "ok"),
            ("a-send-2", "InvalidProducerEpochException"),
            ("a-commit", "InvalidProducerEpochException"),
            ("b-commit", "ok"),
            ("b-abort", "ok"),
            ("read", "b-1"),
        ],
        "{:?}",
        t.kind
    );
});
