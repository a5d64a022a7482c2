//! Limits as peers see them.
//!
//! Kafka's per-request partition limit (the KRaft controller's 10,000 partitions per
//! CreateTopics, KAFKA-17870), from ferrokafka's [`Admin`] and librdkafka's, against every
//! target: a request adding up to more than the limit is refused whole with POLICY_VIOLATION
//! and Kafka's message, and creates nothing.
//!
//! The mini-broker's memory budget (`--max-memory`; Kafka has none, its nearest is a full log
//! directory, which answers the same KAFKA_STORAGE_ERROR), from librdkafka: writes past it
//! fail after the producer's timeout, and what was acknowledged is read back whole.

use std::time::Duration;

use ferrokafka::{Admin, ClientConfig, ErrorCode, NewTopic};
use ferrokafka_interop_tests::peers::rdkafka as rd;
use ferrokafka_interop_tests::runtime;
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};
use ferrokafka_mini_broker::MiniBroker;

scenario!(create_topics_over_the_per_request_limit, |t: &Target| {
    let (a, b) = (unique_topic("limit-a"), unique_topic("limit-b"));
    runtime().block_on(async {
        let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        // Each fits alone; together they pass 10,000.
        let results = admin
            .create_topics(&[
                NewTopic::new(&a).partitions(6_000),
                NewTopic::new(&b).partitions(4_001),
            ])
            .await
            .expect("create");
        assert_eq!(results.len(), 2, "{results:?}");
        for (topic, result) in &results {
            let err = result.as_ref().expect_err("refused");
            assert_eq!(
                err.code(),
                Some(ErrorCode::POLICY_VIOLATION),
                "{topic}: {err}"
            );
            assert!(
                err.to_string()
                    .contains("Excessively large number of partitions per request."),
                "{topic}: {err}"
            );
        }
        let described = admin.describe_topics(&[&a]).await.expect("describe");
        assert_eq!(
            described[0]
                .1
                .as_ref()
                .err()
                .and_then(ferrokafka::Error::code),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "nothing was created: {described:?}"
        );
    });
    let refused = rd::admin::create_topic(&t.bootstrap, &unique_topic("limit-rd"), 10_001, &[]);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("PolicyViolation")),
        "{refused:?}"
    );
});

#[test]
fn rdkafka_meets_the_memory_budget_as_a_full_disk() {
    // Kept for the whole test: its workers serve the broker while librdkafka blocks here.
    let rt = runtime();
    let broker = rt
        .block_on(MiniBroker::builder().max_memory(64 * 1024).start())
        .expect("start");
    let bootstrap = broker.bootstrap();
    let topic = unique_topic("budget");
    // About 200 KiB in all, three times the budget.
    let records: Vec<TestRecord> = (0..2_000)
        .map(|i| TestRecord {
            partition: 0,
            timestamp: None,
            key: None,
            value: Some(format!("{i:05}{}", "x".repeat(95)).into_bytes()),
            headers: Vec::new(),
        })
        .collect();
    let settings = [
        ("message.timeout.ms", "3000"),
        ("linger.ms", "5"),
        ("batch.num.messages", "100"),
    ];
    let results = rd::try_produce(&bootstrap, &topic, &records, &settings);
    let delivered: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|(_, offset)| *offset))
        .collect();
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert!(
        !delivered.is_empty() && failed > 0,
        "{} delivered, {failed} failed (first: {:?})",
        delivered.len(),
        results.iter().find_map(|r| r.as_ref().err())
    );
    let got = rd::consume(
        &bootstrap,
        &topic,
        0,
        0,
        delivered.len(),
        Duration::from_secs(30),
        &[],
    );
    let read: Vec<i64> = got.iter().map(|c| c.offset).collect();
    assert_eq!(read, delivered, "every acknowledged record, in order");
    rt.block_on(broker.shutdown());
}
