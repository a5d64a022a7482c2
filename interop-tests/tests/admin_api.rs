//! ferrokafka's [`Admin`] against every target: topics (create, grow, describe, delete),
//! the cluster, offsets (earliest, latest, by time, max timestamp; and the consumer's
//! offsets_for_times), DeleteRecords, configs (describe, incremental changes), groups (list,
//! describe, committed offsets, alter and delete them, delete groups), producers,
//! transactions, log dirs and leader elections. The real broker's answers are the
//! reference for the mini-broker's; records come from librdkafka, commits from our consumer.

use std::time::{Duration, Instant};

use ferrokafka::admin::{ConfigResource, OffsetSpec};
use ferrokafka::{
    Admin, ClientConfig, Consumer, ConsumerConfig, ErrorCode, NewTopic, TopicPartition,
};
use ferrokafka_interop_tests::peers::rdkafka as rd;
use ferrokafka_interop_tests::runtime;
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};

const BASE_TS: i64 = 1_700_000_000_000;

fn code<T: std::fmt::Debug>(r: &Result<T, ferrokafka::Error>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(ferrokafka::Error::code)
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

scenario!(topics_offsets_and_configs, |t: &Target| {
    let rt = runtime();
    let topic = unique_topic("admin-api");
    let other = unique_topic("admin-api-other");
    let missing = unique_topic("admin-api-missing");
    rt.block_on(async {
        let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");

        let cluster = admin.describe_cluster().await.expect("describe cluster");
        assert!(!cluster.brokers.is_empty(), "{cluster:?}");
        assert!(!cluster.cluster_id.is_empty(), "{cluster:?}");

        let created = admin
            .create_topics(&[
                NewTopic::new(&topic)
                    .partitions(1)
                    .config("retention.ms", "315360000000"),
                NewTopic::new(&other).partitions(2),
            ])
            .await
            .expect("create");
        assert!(created.iter().all(|(_, r)| r.is_ok()), "{created:?}");
        let again = admin
            .create_topics(&[NewTopic::new(&topic).partitions(1)])
            .await
            .expect("create again");
        assert_eq!(code(&again[0].1), Some(ErrorCode::TOPIC_ALREADY_EXISTS));

        let grown = admin
            .create_partitions(&[(&other, 3), (&topic, 1)])
            .await
            .expect("grow");
        assert!(grown[0].1.is_ok(), "{grown:?}");
        assert_eq!(
            code(&grown[1].1),
            Some(ErrorCode::INVALID_PARTITIONS),
            "one topic failing does not fail the other: {grown:?}"
        );

        // Kafka's brokers learn of new partitions a moment after CreatePartitions answers:
        // a bounded wait for them.
        let deadline = Instant::now() + Duration::from_secs(15);
        let described = loop {
            let described = admin
                .describe_topics(&[&other, &missing])
                .await
                .expect("describe topics");
            let grown = described[0]
                .1
                .as_ref()
                .is_ok_and(|d| d.partitions.len() == 3);
            if grown || Instant::now() > deadline {
                break described;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let d = described[0].1.as_ref().expect("other described");
        assert_eq!(
            d.partitions.iter().map(|p| p.partition).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert!(d.partitions.iter().all(|p| p.leader.is_some()), "{d:?}");
        assert_eq!(
            code(&described[1].1),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );

        let configs = admin
            .describe_configs(&[ConfigResource::Topic(topic.clone())])
            .await
            .expect("describe configs");
        let entries = configs[0].1.as_ref().expect("topic configs");
        let retention = entries
            .iter()
            .find(|e| e.name == "retention.ms")
            .expect("retention.ms");
        assert_eq!(
            (retention.value.as_deref(), retention.is_default),
            (Some("315360000000"), false)
        );
        let policy = entries
            .iter()
            .find(|e| e.name == "cleanup.policy")
            .expect("cleanup.policy");
        assert_eq!(
            (policy.value.as_deref(), policy.is_default),
            (Some("delete"), true)
        );
        admin.close().await;
    });

    // Five records at known times, one batch each (as Kafka's time index sees them).
    for (i, ts) in [100, 300, 200, 500, 400].iter().enumerate() {
        let r = TestRecord {
            partition: 0,
            timestamp: Some(BASE_TS + ts),
            key: None,
            value: Some(format!("r{i}").into_bytes()),
            headers: Vec::new(),
        };
        rd::produce(&t.bootstrap, &topic, &[r], &[("linger.ms", "0")]);
    }

    rt.block_on(async {
        let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let p0 = tp(&topic, 0);
        let mut offsets = Vec::new();
        for spec in [
            OffsetSpec::Earliest,
            OffsetSpec::Latest,
            OffsetSpec::Timestamp(BASE_TS + 250),
            OffsetSpec::MaxTimestamp,
        ] {
            let listed = admin
                .list_offsets(&[(p0.clone(), spec), (tp(&other, 2), OffsetSpec::Latest)])
                .await
                .expect("list offsets");
            assert_eq!(listed[1].1.as_ref().expect("other").offset, 0, "{listed:?}");
            offsets.push(listed[0].1.as_ref().expect("listed").offset);
        }
        assert_eq!(
            offsets,
            [0, 5, 1, 3],
            "earliest, latest, first at or after 250, the record at 500"
        );
        let twice = admin
            .list_offsets(&[
                (p0.clone(), OffsetSpec::Earliest),
                (p0.clone(), OffsetSpec::Latest),
            ])
            .await
            .expect("twice");
        assert_eq!(twice[0].1.as_ref().expect("first").offset, 0);
        assert_eq!(code(&twice[1].1), Some(ErrorCode::INVALID_REQUEST));

        let deleted = admin
            .delete_records(&[(p0.clone(), 2), (tp(&topic, 4), 0)])
            .await
            .expect("delete records");
        assert_eq!(deleted[0].1.as_ref().ok(), Some(&2));
        assert!(deleted[1].1.is_err(), "no partition 4: {deleted:?}");
        let earliest = admin
            .list_offsets(&[(p0.clone(), OffsetSpec::Earliest)])
            .await
            .expect("earliest after delete");
        assert_eq!(earliest[0].1.as_ref().expect("earliest").offset, 2);

        let deleted = admin
            .delete_topics(&[&other, &missing])
            .await
            .expect("delete topics");
        assert!(deleted[0].1.is_ok(), "{deleted:?}");
        assert_eq!(
            code(&deleted[1].1),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        admin.close().await;
    });
});

scenario!(groups, |t: &Target| {
    let rt = runtime();
    let topic = unique_topic("admin-groups");
    let group = unique_topic("admin-group");
    rd::admin::create_topic(&t.bootstrap, &topic, 2, &[]).expect("create");
    rt.block_on(async {
        let config = ConsumerConfig::builder()
            .client(ClientConfig::new(&t.bootstrap).expect("config"))
            .group_id(&group)
            .enable_auto_commit(false)
            .build()
            .expect("consumer config");
        let mut consumer = Consumer::new(config).await.expect("consumer");
        consumer
            .assign([tp(&topic, 0), tp(&topic, 1)])
            .expect("assign");
        consumer
            .commit_offsets([(tp(&topic, 0), 7), (tp(&topic, 1), 3)])
            .await
            .expect("commit");
        consumer.close().await.expect("close");

        let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect")
            .with_timeout(Duration::from_secs(30));
        let listed = admin.list_groups().await.expect("list groups");
        assert!(
            listed.iter().any(|g| g.group_id == group),
            "{group} in {listed:?}"
        );
        let offsets = admin
            .list_group_offsets(&group)
            .await
            .expect("group offsets");
        assert_eq!(
            offsets.into_iter().collect::<Vec<_>>(),
            [(tp(&topic, 0), 7), (tp(&topic, 1), 3)]
        );
        let described = admin
            .describe_groups(&[&group])
            .await
            .expect("describe groups");
        let d = described[0].1.as_ref().expect("described");
        assert_eq!((d.state.as_str(), d.members.len()), ("Empty", 0), "{d:?}");

        admin
            .alter_group_offsets(&group, &[(tp(&topic, 0), 2)])
            .await
            .expect("alter group offsets");
        let removed = admin
            .delete_group_offsets(&group, &[tp(&topic, 1)])
            .await
            .expect("delete group offsets");
        assert!(removed[0].1.is_ok(), "{removed:?}");
        let offsets = admin
            .list_group_offsets(&group)
            .await
            .expect("group offsets");
        assert_eq!(
            offsets.into_iter().collect::<Vec<_>>(),
            [(tp(&topic, 0), 2)],
            "altered and deleted"
        );

        let deleted = admin.delete_groups(&[&group]).await.expect("delete groups");
        assert!(deleted[0].1.is_ok(), "{deleted:?}");
        let again = admin.delete_groups(&[&group]).await.expect("delete again");
        assert_eq!(code(&again[0].1), Some(ErrorCode::GROUP_ID_NOT_FOUND));
        let offsets = admin
            .list_group_offsets(&group)
            .await
            .expect("offsets after");
        assert!(offsets.is_empty(), "{offsets:?}");
        admin.close().await;
    });
});

scenario!(config_changes, |t: &Target| {
    use ferrokafka::admin::AlterConfigOp::{Append, Delete, Set, Subtract};
    let rt = runtime();
    let topic = unique_topic("admin-configs");
    let missing = unique_topic("admin-configs-missing");
    rt.block_on(async {
        let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let created = admin
            .create_topics(&[NewTopic::new(&topic).partitions(1)])
            .await
            .expect("create");
        assert!(created[0].1.is_ok(), "{created:?}");
        let resource = ConfigResource::Topic(topic.clone());
        let value = |entries: &[ferrokafka::admin::ConfigEntry], key: &str| {
            let e = entries.iter().find(|e| e.name == key).expect("key");
            (e.value.clone().unwrap_or_default(), e.is_default)
        };
        // A topic just created may be unknown for a moment to a KRaft broker's metadata copy:
        // that answer is waited out (bounded).
        let describe = || async {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let described = admin
                    .describe_configs(std::slice::from_ref(&resource))
                    .await
                    .expect("describe")
                    .remove(0)
                    .1;
                match described {
                    Err(err)
                        if err.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                            && Instant::now() < deadline =>
                    {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    other => break other.expect("described"),
                }
            }
        };
        // A KRaft broker answers DescribeConfigs from its copy of the metadata log, which
        // follows an accepted change a moment later: wait (bounded) for `key` to read `want`.
        let settled = |key: &'static str, want: (String, bool)| {
            let describe = &describe;
            async move {
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                loop {
                    let now = value(&describe().await, key);
                    if now == want || std::time::Instant::now() > deadline {
                        return now;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };

        // The default as this broker has it (the scripts' real broker sets its own).
        let initial = value(&describe().await, "retention.ms");
        let changed = admin
            .incremental_alter_configs(&[(
                resource.clone(),
                vec![
                    Set("retention.ms".into(), "630720000000".into()),
                    Append("cleanup.policy".into(), "compact".into()),
                ],
            )])
            .await
            .expect("alter");
        assert!(changed[0].1.is_ok(), "{changed:?}");
        let want = ("630720000000".to_owned(), false);
        assert_eq!(settled("retention.ms", want.clone()).await, want);
        let want = ("delete,compact".to_owned(), false);
        assert_eq!(settled("cleanup.policy", want.clone()).await, want);

        let changed = admin
            .incremental_alter_configs(&[(
                resource.clone(),
                vec![
                    Delete("retention.ms".into()),
                    Subtract("cleanup.policy".into(), "delete".into()),
                ],
            )])
            .await
            .expect("alter back");
        assert!(changed[0].1.is_ok(), "{changed:?}");
        assert_eq!(settled("retention.ms", initial.clone()).await, initial);
        let want = ("compact".to_owned(), false);
        assert_eq!(settled("cleanup.policy", want.clone()).await, want);

        // Refusals, each for its resource alone, nothing changed.
        let refused = admin
            .incremental_alter_configs(&[
                (
                    resource.clone(),
                    vec![Set("retention.ms".into(), "soon".into())],
                ),
                (
                    resource.clone(),
                    vec![Set("no.such.config".into(), "1".into())],
                ),
                (
                    resource.clone(),
                    vec![Append("retention.ms".into(), "1".into())],
                ),
                (
                    ConfigResource::Topic(missing.clone()),
                    vec![Set("retention.ms".into(), "1".into())],
                ),
            ])
            .await
            .expect("refusals");
        let codes: Vec<Option<ErrorCode>> = refused.iter().map(|(_, r)| code(r)).collect();
        assert_eq!(
            codes,
            [
                Some(ErrorCode::INVALID_CONFIG),
                Some(ErrorCode::INVALID_CONFIG),
                Some(ErrorCode::INVALID_CONFIG),
                Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            ],
            "{refused:?}"
        );
        let messages: Vec<String> = refused
            .iter()
            .map(|(_, r)| match r {
                Err(ferrokafka::Error::Kafka { message, .. }) => {
                    message.clone().unwrap_or_default()
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            messages,
            [
                "Invalid value soon for configuration retention.ms: Not a number of type LONG"
                    .to_owned(),
                "Unknown topic config name: no.such.config".to_owned(),
                "Can't APPEND to key retention.ms because its type is not LIST.".to_owned(),
                format!("The topic '{missing}' does not exist."),
            ],
            "Kafka's messages"
        );
        let entries = describe().await;
        assert_eq!(value(&entries, "retention.ms"), initial);
        admin.close().await;
    });
});

scenario!(
    producers_transactions_log_dirs_elections_and_times,
    |t: &Target| {
        use ferrokafka::admin::ElectionType;
        use ferrokafka::{ProducerConfig, ProducerRecord, TransactionalProducer};
        let rt = runtime();
        let topic = unique_topic("admin-state");
        let txn_id = unique_topic("admin-txn");
        rd::admin::create_topic(&t.bootstrap, &topic, 2, &[]).expect("create");
        let records: Vec<TestRecord> = (0..3)
            .map(|i| TestRecord {
                partition: 0,
                timestamp: Some(BASE_TS + 100 * i64::from(i)),
                key: None,
                value: Some(vec![b'a' + i]),
                headers: Vec::new(),
            })
            .collect();
        rd::produce(
            &t.bootstrap,
            &topic,
            &records,
            &[("enable.idempotence", "true"), ("linger.ms", "0")],
        );
        rt.block_on(async {
            let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
                .await
                .expect("connect");

            // The consumer's offsetsForTimes, through the same lookup.
            let config = ConsumerConfig::builder()
                .client(ClientConfig::new(&t.bootstrap).expect("config"))
                .build()
                .expect("consumer config");
            let consumer = Consumer::new(config).await.expect("consumer");
            let times = consumer
                .offsets_for_times(&[(tp(&topic, 0), BASE_TS + 150), (tp(&topic, 1), BASE_TS)])
                .await
                .expect("offsets for times");
            assert_eq!(times.get(&tp(&topic, 0)), Some(&Some((2, BASE_TS + 200))));
            assert_eq!(times.get(&tp(&topic, 1)), Some(&None), "an empty partition");
            consumer.close().await.expect("close");

            let producers = admin
                .describe_producers(&[tp(&topic, 0), tp(&topic, 1)])
                .await
                .expect("describe producers");
            let p0 = producers[0].1.as_ref().expect("partition 0");
            assert_eq!(p0.len(), 1, "{producers:?}");
            assert_eq!(
                (
                    p0[0].last_sequence,
                    p0[0].last_timestamp,
                    p0[0].current_transaction_start_offset
                ),
                (2, BASE_TS + 200, None)
            );
            assert!(producers[1].1.as_ref().expect("partition 1").is_empty());

            // An open transaction, seen by ListTransactions, DescribeTransactions and
            // DescribeProducers.
            let mut c = ProducerConfig::new(&t.bootstrap).expect("producer config");
            c.set("transactional.id", &txn_id).expect("id");
            c.set("batch.size", "0").expect("batch");
            let mut producer = TransactionalProducer::connect(c)
                .await
                .expect("txn producer");
            producer.init_transactions().await.expect("init");
            let mut txn = producer.begin().await.expect("begin");
            txn.send(
                ProducerRecord::new(topic.clone())
                    .partition(1)
                    .value("t".to_owned()),
            )
            .await
            .expect("send");
            txn.flush().await.expect("flush");
            let listed = admin.list_transactions().await.expect("list transactions");
            let ours = listed
                .iter()
                .find(|l| l.transactional_id == txn_id)
                .expect("our transaction listed");
            assert_eq!(ours.state, "Ongoing");
            let described = admin
                .describe_transactions(&[&txn_id, "no-such-transactional-id"])
                .await
                .expect("describe transactions");
            let d = described[0].1.as_ref().expect("described");
            assert_eq!(
                (d.state.as_str(), d.producer_id, d.partitions.clone()),
                ("Ongoing", ours.producer_id, vec![tp(&topic, 1)])
            );
            assert_eq!(
                code(&described[1].1),
                Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
            );
            let producers = admin
                .describe_producers(&[tp(&topic, 1)])
                .await
                .expect("describe producers");
            let p1 = producers[0].1.as_ref().expect("partition 1");
            assert_eq!(
                p1.iter()
                    .map(|p| (p.producer_id, p.current_transaction_start_offset))
                    .collect::<Vec<_>>(),
                [(ours.producer_id, Some(0))]
            );
            txn.commit().await.expect("commit");
            producer.close().await.unwrap();

            let cluster = admin.describe_cluster().await.expect("cluster");
            let nodes: Vec<i32> = cluster.brokers.iter().map(|b| b.node_id).collect();
            let dirs = admin.describe_log_dirs(&nodes).await.expect("log dirs");
            let held: Vec<(TopicPartition, bool)> = dirs
                .iter()
                .flat_map(|(_, r)| r.as_ref().expect("described").clone())
                .flat_map(|d| d.replicas)
                .filter(|(tp, _, _)| tp.topic == topic)
                .map(|(tp, size, _)| (tp, size > 0))
                .collect();
            let mut held = held;
            held.sort();
            assert_eq!(held, [(tp(&topic, 0), true), (tp(&topic, 1), true)]);

            let elected = admin
                .elect_leaders(
                    ElectionType::Preferred,
                    Some(&[tp(&topic, 0), tp(&topic, 5)]),
                )
                .await
                .expect("elect leaders");
            let codes: Vec<Option<ErrorCode>> = elected.iter().map(|(_, r)| code(r)).collect();
            assert_eq!(
                codes,
                [
                    Some(ErrorCode::ELECTION_NOT_NEEDED),
                    Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                ]
            );
            admin.close().await;
        });
    }
);

// Every topic config Kafka knows is accepted, and its value checked as Kafka checks it: each
// bad value gets INVALID_CONFIG with Kafka's message (checked on real Kafka, where these
// strings come from); a topic with only good values is created, and DescribeConfigs reports
// every key Kafka reports, with Kafka's types.
scenario!(
    topic_config_values_are_checked_as_kafka_checks_them,
    |t: &Target| {
        let rt = runtime();
        rt.block_on(async {
            let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
                .await
                .expect("connect");
            let refused = [
            (
                "segment.bytes",
                "20000",
                "Invalid value 20000 for configuration segment.bytes: Value must be at least \
                 1048576",
            ),
            (
                "min.cleanable.dirty.ratio",
                "2",
                "Invalid value 2.0 for configuration min.cleanable.dirty.ratio: Value must be \
                 no more than 1",
            ),
            (
                "compression.type",
                "brotli",
                "Invalid value brotli for configuration compression.type: String must be one \
                 of: uncompressed, zstd, lz4, snappy, gzip, producer",
            ),
            (
                "cleanup.policy",
                "compact,shred",
                "Invalid value shred for configuration cleanup.policy: String must be one of: \
                 compact, delete",
            ),
            (
                "compression.gzip.level",
                "12",
                "Invalid value 12 for configuration compression.gzip.level: Value must be \
                 between 1 and 9 or equal to -1",
            ),
            (
                "preallocate",
                "yes",
                "Invalid value yes for configuration preallocate: Expected value to be either \
                 true or false",
            ),
            (
                "max.message.bytes",
                "2147483648",
                "Invalid value 2147483648 for configuration max.message.bytes: Not a number of \
                 type INT",
            ),
            (
                "message.timestamp.after.max.ms",
                "-1",
                "Invalid value -1 for configuration message.timestamp.after.max.ms: Value must \
                 be at least 0",
            ),
            (
                "message.downconversion.enable",
                "true",
                "Unknown topic config name: message.downconversion.enable",
            ),
            (
                "remote.storage.enable",
                "true",
                "Tiered Storage functionality is disabled in the broker. Topic cannot be \
                 configured with remote log storage.",
            ),
        ];
            let topics: Vec<String> = (0..refused.len())
                .map(|i| unique_topic(&format!("bad-config-{i}")))
                .collect();
            let created = admin
                .create_topics(
                    &refused
                        .iter()
                        .zip(&topics)
                        .map(|((k, v, _), name)| NewTopic::new(name).partitions(1).config(*k, *v))
                        .collect::<Vec<_>>(),
                )
                .await
                .expect("create");
            let got: Vec<(Option<ErrorCode>, Option<String>)> = created
                .iter()
                .map(|(_, r)| match r {
                    Err(ferrokafka::Error::Kafka { code, message, .. }) => {
                        (Some(*code), message.clone())
                    }
                    other => (None, Some(format!("{other:?}"))),
                })
                .collect();
            let want: Vec<(Option<ErrorCode>, Option<String>)> = refused
                .iter()
                .map(|(_, _, m)| (Some(ErrorCode::INVALID_CONFIG), Some((*m).to_owned())))
                .collect();
            assert_eq!(got, want, "{:?}", t.kind);

            // Good values of keys the broker only stores are accepted and reported.
            let good = unique_topic("good-config");
            let created = admin
                .create_topics(&[NewTopic::new(&good)
                    .partitions(1)
                    .config("compression.zstd.level", "7")
                    .config("preallocate", "TRUE")
                    .config("leader.replication.throttled.replicas", "0:1")
                    .config("max.compaction.lag.ms", "86400000")])
                .await
                .expect("create");
            assert!(created[0].1.is_ok(), "{:?}: {created:?}", t.kind);
            let configs = admin
                .describe_configs(&[ConfigResource::Topic(good.clone())])
                .await
                .expect("describe configs");
            let entries = configs[0].1.as_ref().expect("topic configs");
            let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            names.sort_unstable();
            assert_eq!(names.len(), 33, "{:?}: {names:?}", t.kind);
            assert!(!names.contains(&"internal.segment.bytes"), "{names:?}");
            let value = |k: &str| {
                entries
                    .iter()
                    .find(|e| e.name == k)
                    .and_then(|e| e.value.clone())
            };
            assert_eq!(value("compression.zstd.level").as_deref(), Some("7"));
            assert_eq!(
                value("leader.replication.throttled.replicas").as_deref(),
                Some("0:1")
            );
            assert_eq!(
                value("message.timestamp.after.max.ms").as_deref(),
                Some("3600000")
            );
            admin.close().await;
        });
    }
);

// ApiVersions lists Produce from v0, as Kafka 4.x does for older librdkafka's sake (it
// serves v3 and up); every other range starts where it is served.
scenario!(api_versions_lists_produce_from_v0, |t: &Target| {
    use ferrokafka::kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
    let rt = runtime();
    rt.block_on(async {
        let client = ferrokafka::Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let versions = client
            .send_to_any(
                // Kafka refuses v3+ requests without a valid client software name.
                ApiVersionsRequest::default()
                    .with_client_software_name("ferrokafka-interop".into())
                    .with_client_software_version("1.0".into()),
            )
            .await
            .expect("ApiVersions");
        let produce = versions
            .api_keys
            .iter()
            .find(|k| k.api_key == ApiKey::Produce as i16)
            .expect("Produce listed");
        assert_eq!(produce.min_version, 0, "{:?}: {produce:?}", t.kind);
        assert!(produce.max_version >= 12, "{:?}: {produce:?}", t.kind);
        client.close().await;
    });
});

// Group configs (resource type 32), as clients of KIP-848 and share groups use them: every
// key reported with Kafka's default for any group id, a change through
// IncrementalAlterConfigs reported as set on the group, and bad changes refused with
// INVALID_CONFIG and Kafka's messages (the broker's bounds named by their settings).
scenario!(group_configs_are_checked_and_reported, |t: &Target| {
    use ferrokafka::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use ferrokafka::kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    use ferrokafka::kafka_protocol::messages::{
        DescribeConfigsRequest, IncrementalAlterConfigsRequest,
    };
    use ferrokafka::kafka_protocol::protocol::StrBytes;

    let group = unique_topic("configured-group");
    let rt = runtime();
    rt.block_on(async {
        let client = ferrokafka::Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let describe = |name: &str| {
            DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(32)
                    .with_resource_name(StrBytes::from_string(name.to_owned())),
            ])
        };
        let values = |r: &ferrokafka::kafka_protocol::messages::DescribeConfigsResponse| {
            let mut v: Vec<(String, String, i8)> = r.results[0]
                .configs
                .iter()
                .map(|c| {
                    (
                        c.name.to_string(),
                        c.value.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                        c.config_source,
                    )
                })
                .collect();
            v.sort();
            v
        };
        let alter = |configs: &[(&str, &str)]| {
            IncrementalAlterConfigsRequest::default().with_resources(vec![
                AlterConfigsResource::default()
                    .with_resource_type(32)
                    .with_resource_name(StrBytes::from_string(group.clone()))
                    .with_configs(
                        configs
                            .iter()
                            .map(|(k, v)| {
                                AlterableConfig::default()
                                    .with_name(StrBytes::from_string((*k).to_owned()))
                                    .with_config_operation(0)
                                    .with_value(Some(StrBytes::from_string((*v).to_owned())))
                            })
                            .collect(),
                    ),
            ])
        };

        let before = client
            .send_to_any(describe(&group))
            .await
            .expect("describe");
        assert_eq!(before.results[0].error_code, 0, "{before:?}");
        let before = values(&before);
        assert_eq!(before.len(), 10, "{:?}: {before:?}", t.kind);
        for (name, value) in [
            ("consumer.session.timeout.ms", "45000"),
            ("share.auto.offset.reset", "latest"),
            ("share.isolation.level", "read_uncommitted"),
        ] {
            assert!(
                before.contains(&(name.to_owned(), value.to_owned(), 5)),
                "{:?}: {before:?}",
                t.kind
            );
        }

        let altered = client
            .send_to_any(alter(&[
                ("consumer.session.timeout.ms", "50000"),
                ("share.auto.offset.reset", "earliest"),
            ]))
            .await
            .expect("alter");
        assert_eq!(altered.responses[0].error_code, 0, "{altered:?}");
        // Kafka's brokers learn of the change a moment after the controller took it.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let after = loop {
            let after = values(
                &client
                    .send_to_any(describe(&group))
                    .await
                    .expect("describe"),
            );
            let done = after.contains(&("consumer.session.timeout.ms".into(), "50000".into(), 8));
            if done || std::time::Instant::now() > deadline {
                break after;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for (name, value) in [
            ("consumer.session.timeout.ms", "50000"),
            ("share.auto.offset.reset", "earliest"),
        ] {
            assert!(
                after.contains(&(name.to_owned(), value.to_owned(), 8)),
                "{:?}: {after:?}",
                t.kind
            );
        }

        let refused = [
            (("nope", "1"), "Unknown group config name: nope"),
            (
                ("consumer.session.timeout.ms", "10000"),
                "consumer.session.timeout.ms must be greater than or equal to \
                 group.consumer.min.session.timeout.ms",
            ),
            (
                ("consumer.heartbeat.interval.ms", "20000"),
                "consumer.heartbeat.interval.ms must be less than or equal to \
                 group.consumer.max.heartbeat.interval.ms",
            ),
            (
                ("share.auto.offset.reset", "sometimes"),
                "Invalid value sometimes for configuration share.auto.offset.reset: Invalid \
                 value `sometimes` for configuration share.auto.offset.reset. The value must be \
                 either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'.",
            ),
            (
                ("share.record.lock.duration.ms", "abc"),
                "Invalid value abc for configuration share.record.lock.duration.ms: Not a \
                 number of type INT",
            ),
        ];
        for ((k, v), message) in refused {
            let answer = client.send_to_any(alter(&[(k, v)])).await.expect("alter");
            let r = &answer.responses[0];
            assert_eq!(
                (
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.to_string())
                ),
                (ErrorCode::INVALID_CONFIG.0, Some(message.to_owned())),
                "{:?}: {k}={v}",
                t.kind
            );
        }

        let unnamed = client.send_to_any(describe("")).await.expect("describe");
        assert_eq!(
            (
                unnamed.results[0].error_code,
                unnamed.results[0]
                    .error_message
                    .as_ref()
                    .map(|m| m.to_string())
            ),
            (
                ErrorCode::INVALID_REQUEST.0,
                Some("Group name must not be empty".to_owned())
            ),
            "{:?}",
            t.kind
        );
        client.close().await;
    });
});

// DescribeGroups with `include_authorized_operations`, as Kafka without an authorizer
// answers it: every group operation allowed (READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS,
// ALTER_CONFIGS: bit n is Kafka's operation code n), and "not asked" when not asked.
scenario!(group_authorized_operations, |t: &Target| {
    use ferrokafka::kafka_protocol::messages::{DescribeGroupsRequest, GroupId};
    use ferrokafka::kafka_protocol::protocol::StrBytes;

    let topic = unique_topic("group-ops");
    let group = unique_topic("group-ops-group");
    let rt = runtime();
    rt.block_on(async {
        let admin = Admin::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        admin
            .create_topics(&[NewTopic::new(&topic).partitions(1)])
            .await
            .expect("create")[0]
            .1
            .as_ref()
            .expect("created");
        admin
            .alter_group_offsets(&group, &[(tp(&topic, 0), 0)])
            .await
            .expect("commit an offset: the group exists, empty");
        let client = ferrokafka::Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let coordinator = client
            .find_coordinator(ferrokafka::CoordinatorType::Group, &group)
            .await
            .expect("coordinator")
            .node_id;
        let mut got = Vec::new();
        for asked in [true, false] {
            let described = client
                .send_to(
                    coordinator,
                    DescribeGroupsRequest::default()
                        .with_groups(vec![GroupId(StrBytes::from_string(group.clone()))])
                        .with_include_authorized_operations(asked),
                )
                .await
                .expect("DescribeGroups");
            let g = &described.groups[0];
            got.push((
                g.error_code,
                g.group_state.to_string(),
                g.authorized_operations,
            ));
        }
        let group_ops = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);
        assert_eq!(
            got,
            vec![
                (0, "Empty".to_owned(), group_ops),
                (0, "Empty".to_owned(), i32::MIN)
            ],
            "{:?}",
            t.kind
        );
        client.close().await;
        admin.close().await;
    });
});
