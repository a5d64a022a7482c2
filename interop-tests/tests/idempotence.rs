//! Idempotent producers of other clients: librdkafka with `enable.idempotence=true` and the
//! Java producer (idempotent by default) write through every target with many batches in
//! flight, and every peer reads back exactly what was sent.
//!
//! Then the reason the broker de-duplicates: on the in-process mini-broker, the connection is
//! dropped right after the third Produce has been written, so the client sees a disconnect for
//! requests that did land. Its retries must be answered with the original offsets: every
//! record is delivered exactly once, in order.

use std::time::Duration;

use ferrokafka_interop_tests::peers::{java, rdkafka as rd};
use ferrokafka_interop_tests::record::{assert_same, sample};
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};
use ferrokafka_mini_broker::{ApiKey, MiniBroker, When};

const WAIT: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 3;

/// librdkafka settings that make many small batches and keep five requests in flight.
const RD_IDEMPOTENT: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("linger.ms", "0"),
    ("batch.num.messages", "4"),
    ("max.in.flight.requests.per.connection", "5"),
];

/// The same for the Java producer (idempotence is its default; said here to be sure).
const JAVA_IDEMPOTENT: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("linger.ms", "0"),
    ("batch.size", "200"),
    ("max.in.flight.requests.per.connection", "5"),
];

/// Reads back every partition of `delivered` and compares it with `sent`.
fn read_back(t: &Target, topic: &str, sent: &[TestRecord], delivered: &[(i32, i64)], who: &str) {
    for p in 0..PARTITIONS {
        let sent_p: Vec<TestRecord> = sent.iter().filter(|r| r.partition == p).cloned().collect();
        let offsets: Vec<i64> = delivered
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, o)| *o)
            .collect();
        let Some(&base) = offsets.first() else {
            continue;
        };
        let consecutive: Vec<i64> = (base..base + offsets.len() as i64).collect();
        assert_eq!(offsets, consecutive, "{who}: offsets in partition {p}");
        let got = rd::consume(&t.bootstrap, topic, p, base, sent_p.len(), WAIT, &[]);
        assert_same(&sent_p, &got, &format!("{who} -> rdkafka, {:?}", t.kind));
        let (low, high) = rd::watermarks(&t.bootstrap, topic, p);
        assert_eq!(
            high - low,
            sent_p.len() as i64,
            "{who}: nothing extra in partition {p}"
        );
    }
}

scenario!(rdkafka_idempotent_producer, |t: &Target| {
    let topic = unique_topic("rd-idem");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let sent = sample(120, PARTITIONS);
    let delivered = rd::produce(&t.bootstrap, &topic, &sent, RD_IDEMPOTENT);
    read_back(t, &topic, &sent, &delivered, "rdkafka idempotent");
});

scenario!(java_idempotent_producer, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("java-idem");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let sent = sample(120, PARTITIONS);
    let delivered = java::produce(&t.bootstrap, &topic, &sent, JAVA_IDEMPOTENT);
    read_back(t, &topic, &sent, &delivered, "java idempotent");
});

/// A mini-broker on its own runtime, so a test can reach its fault hook.
struct InProcess {
    runtime: tokio::runtime::Runtime,
    broker: Option<MiniBroker>,
}

impl InProcess {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let broker = runtime.block_on(MiniBroker::start()).expect("mini-broker");
        InProcess {
            runtime,
            broker: Some(broker),
        }
    }

    fn broker(&self) -> &MiniBroker {
        self.broker.as_ref().expect("running")
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            self.runtime.block_on(broker.shutdown());
        }
    }
}

/// Produces `n` records to one partition while the broker drops the connection after
/// applying the third Produce, then checks that each landed exactly once, in order.
fn exactly_once_through_a_dropped_connection(
    who: &str,
    n: usize,
    produce: impl FnOnce(&str, &str, &[TestRecord]) -> Vec<(i32, i64)>,
) {
    let mini = InProcess::start();
    let broker = mini.broker();
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("idem-drop");
    rd::admin::create_topic(&bootstrap, &topic, 1, &[]).expect("create topic");
    broker
        .faults()
        .drop_connection(ApiKey::Produce, 3, When::AfterApplying);
    let sent = sample(n, 1);
    let delivered = produce(&bootstrap, &topic, &sent);
    assert_eq!(broker.faults().fired(), 1, "{who}: the fault fired");
    let expected: Vec<(i32, i64)> = (0..n as i64).map(|o| (0, o)).collect();
    assert_eq!(
        delivered, expected,
        "{who}: each record reported once, in order"
    );
    let (low, high) = rd::watermarks(&bootstrap, &topic, 0);
    assert_eq!((low, high), (0, n as i64), "{who}: nothing written twice");
    let got = rd::consume(&bootstrap, &topic, 0, 0, n, WAIT, &[]);
    assert_same(&sent, &got, &format!("{who} through a dropped connection"));
}

#[test]
fn rdkafka_idempotent_retries_after_a_dropped_connection() {
    exactly_once_through_a_dropped_connection("rdkafka", 200, |b, topic, sent| {
        rd::produce(b, topic, sent, RD_IDEMPOTENT)
    });
}

#[test]
fn java_idempotent_retries_after_a_dropped_connection() {
    if !java::available() {
        return;
    }
    exactly_once_through_a_dropped_connection("java", 200, |b, topic, sent| {
        java::produce(b, topic, sent, JAVA_IDEMPOTENT)
    });
}
