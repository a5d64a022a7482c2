//! Kafka's per-request partition limit (the KRaft controller's 10,000 partitions per
//! CreateTopics, KAFKA-17870), from ferrokafka's [`Admin`] and librdkafka's, against every
//! target: a request adding up to more than the limit is refused whole with POLICY_VIOLATION
//! and Kafka's message, and creates nothing.

use ferrokafka::{Admin, ClientConfig, ErrorCode, NewTopic};
use ferrokafka_interop_tests::peers::rdkafka as rd;
use ferrokafka_interop_tests::runtime;
use ferrokafka_interop_tests::{scenario, unique_topic, Target};

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
