//! Admin and offset APIs through librdkafka against every target: CreateTopics (with configs),
//! DescribeConfigs, CreatePartitions, DeleteTopics, ListOffsets (watermarks and by time), and
//! LogAppendTime topics. The real broker's answers are the reference for the mini-broker's.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrokafka_interop_tests::peers::rdkafka as rd;
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};
use rdkafka::{Offset, Timestamp};

scenario!(create_describe_grow_delete, |t: &Target| {
    let topic = unique_topic("admin");
    rd::admin::create_topic(&t.bootstrap, &topic, 3, &[("retention.ms", "3600000")])
        .expect("create");
    assert_eq!(rd::partition_count(&t.bootstrap, &topic), Some(3));

    let again = rd::admin::create_topic(&t.bootstrap, &topic, 3, &[]);
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.contains("TopicAlreadyExists")),
        "{again:?}"
    );

    let configs = rd::admin::describe_topic_configs(&t.bootstrap, &topic);
    let get = |k: &str| configs.iter().find(|(n, _, _)| n == k).cloned();
    let (_, retention, default) = get("retention.ms").expect("retention.ms reported");
    assert_eq!((retention.as_deref(), default), (Some("3600000"), false));
    let (_, policy, default) = get("cleanup.policy").expect("cleanup.policy reported");
    assert_eq!((policy.as_deref(), default), (Some("delete"), true));

    rd::admin::create_partitions(&t.bootstrap, &topic, 5).expect("grow to 5");
    assert_eq!(rd::partition_count(&t.bootstrap, &topic), Some(5));
    let shrink = rd::admin::create_partitions(&t.bootstrap, &topic, 2);
    assert!(
        shrink
            .as_ref()
            .is_err_and(|e| e.contains("InvalidPartitions")),
        "{shrink:?}"
    );

    rd::admin::delete_topic(&t.bootstrap, &topic).expect("delete");
    let gone = rd::admin::delete_topic(&t.bootstrap, &topic);
    assert!(
        gone.as_ref()
            .is_err_and(|e| e.contains("UnknownTopicOrPartition")),
        "{gone:?}"
    );
});

scenario!(watermarks_and_offsets_by_time, |t: &Target| {
    let topic = unique_topic("times");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[]).expect("create");
    let records: Vec<TestRecord> = [100_000, 300_000, 200_000]
        .iter()
        .map(|ts| TestRecord {
            partition: 0,
            timestamp: Some(1_700_000_000_000 + ts),
            key: None,
            value: Some(b"x".to_vec()),
            headers: Vec::new(),
        })
        .collect();
    // One record per request, so each is its own batch, as Kafka's time index sees them.
    for r in &records {
        rd::produce(
            &t.bootstrap,
            &topic,
            std::slice::from_ref(r),
            &[("linger.ms", "0")],
        );
    }
    assert_eq!(rd::watermarks(&t.bootstrap, &topic, 0), (0, 3));
    let at = |ts: i64| rd::offset_for_time(&t.bootstrap, &topic, 0, 1_700_000_000_000 + ts);
    assert_eq!(at(150_000), Offset::Offset(1));
    assert_eq!(at(300_000), Offset::Offset(1));
    assert_eq!(at(0), Offset::Offset(0));
    assert_eq!(at(300_001), Offset::End);
});

scenario!(log_append_time_topic, |t: &Target| {
    let topic = unique_topic("lat");
    rd::admin::create_topic(
        &t.bootstrap,
        &topic,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .expect("create");
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let old = TestRecord {
        partition: 0,
        timestamp: Some(1_000),
        key: None,
        value: Some(b"stamped".to_vec()),
        headers: Vec::new(),
    };
    rd::produce(&t.bootstrap, &topic, &[old], &[]);
    match rd::first_timestamp(&t.bootstrap, &topic) {
        // Allow a little clock skew between the broker process and this one.
        Timestamp::LogAppendTime(ts) => assert!(ts >= before - 1000, "{ts} < {before}"),
        other => panic!("expected a LogAppendTime timestamp, got {other:?}"),
    }
});
