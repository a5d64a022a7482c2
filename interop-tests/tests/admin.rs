//! Admin and offset APIs through librdkafka against every target: CreateTopics (with configs),
//! DescribeConfigs, CreatePartitions, DeleteTopics, DeleteRecords, ListOffsets (watermarks and
//! by time), and LogAppendTime topics. The real broker's answers are the reference for the mini-broker's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

// DeleteRecords as Kafka answers it: the low watermark moves to the offset (and reads and
// ListOffsets follow), an offset below it changes nothing, "up to the high watermark" empties
// the partition, an offset beyond the high watermark is OFFSET_OUT_OF_RANGE and a compacted
// topic POLICY_VIOLATION.
scenario!(delete_records, |t: &Target| {
    let topic = unique_topic("purge");
    rd::admin::create_topic(&t.bootstrap, &topic, 2, &[]).expect("create");
    let record = |partition: i32, value: String| TestRecord {
        partition,
        timestamp: None,
        key: None,
        value: Some(value.into_bytes()),
        headers: Vec::new(),
    };
    let records: Vec<TestRecord> = (0..10)
        .map(|i| record(0, format!("v{i}")))
        .chain((0..4).map(|i| record(1, format!("w{i}"))))
        .collect();
    rd::produce(&t.bootstrap, &topic, &records, &[]);
    assert_eq!(rd::watermarks(&t.bootstrap, &topic, 0), (0, 10));

    let deleted =
        rd::admin::delete_records(&t.bootstrap, &topic, &[(0, Some(6)), (1, None)]).unwrap();
    assert_eq!(deleted, vec![(0, Ok(6)), (1, Ok(4))]);
    assert_eq!(rd::watermarks(&t.bootstrap, &topic, 0), (6, 10));
    assert_eq!(rd::watermarks(&t.bootstrap, &topic, 1), (4, 4));
    let left: Vec<(i64, Option<Vec<u8>>)> =
        rd::consume(&t.bootstrap, &topic, 0, 6, 4, Duration::from_secs(30), &[])
            .into_iter()
            .map(|c| (c.offset, c.record.value))
            .collect();
    let expected: Vec<(i64, Option<Vec<u8>>)> = (6..10)
        .map(|i| (i, Some(format!("v{i}").into_bytes())))
        .collect();
    assert_eq!(left, expected, "reads start at the new low watermark");

    let below = rd::admin::delete_records(&t.bootstrap, &topic, &[(0, Some(2))]).unwrap();
    assert_eq!(below, vec![(0, Ok(6))], "below the start: nothing changes");
    let beyond = rd::admin::delete_records(&t.bootstrap, &topic, &[(0, Some(11))]).unwrap();
    assert!(
        beyond[0]
            .1
            .as_ref()
            .is_err_and(|e| e.contains("OffsetOutOfRange")),
        "{beyond:?}"
    );
    // librdkafka looks up leaders first and fails the whole request for a partition that
    // does not exist (on every broker); the raw answer is checked in the mini-broker's tests.
    let unknown = rd::admin::delete_records(&t.bootstrap, &topic, &[(7, Some(0))]);
    assert!(
        unknown.as_ref().is_err_and(|e| e.contains("NoEnt")),
        "{unknown:?}"
    );

    let compacted = unique_topic("purge-compacted");
    rd::admin::create_topic(
        &t.bootstrap,
        &compacted,
        1,
        &[("cleanup.policy", "compact")],
    )
    .expect("create compacted");
    let refused = rd::admin::delete_records(&t.bootstrap, &compacted, &[(0, None)]).unwrap();
    assert!(
        refused[0]
            .1
            .as_ref()
            .is_err_and(|e| e.contains("PolicyViolation")),
        "{refused:?}"
    );
});

// DeleteRecords answers request by request, the same from every target: an unknown topic and
// a partition that does not exist get UNKNOWN_TOPIC_OR_PARTITION with low watermark -1, a
// negative offset other than -1 OFFSET_OUT_OF_RANGE, and the rest of the request is still
// carried out (per-partition results, in an order of the broker's choosing).
scenario!(delete_records_answers, |t: &Target| {
    use ferrokafka::kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use ferrokafka::kafka_protocol::messages::{DeleteRecordsRequest, TopicName};
    use ferrokafka::kafka_protocol::protocol::StrBytes;
    use ferrokafka::{Client, ClientConfig};

    let topic = unique_topic("purge-answers");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[]).expect("create");
    let records: Vec<TestRecord> = (0..3)
        .map(|i| TestRecord {
            partition: 0,
            timestamp: None,
            key: None,
            value: Some(vec![b'a' + i]),
            headers: Vec::new(),
        })
        .collect();
    rd::produce(&t.bootstrap, &topic, &records, &[]);
    let name = |s: &str| TopicName(StrBytes::from_string(s.to_owned()));
    let part = |index: i32, offset: i64| {
        DeleteRecordsPartition::default()
            .with_partition_index(index)
            .with_offset(offset)
    };
    let unknown = unique_topic("never-created");
    let request = |topics: Vec<(&str, Vec<DeleteRecordsPartition>)>| {
        DeleteRecordsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, partitions)| {
                        DeleteRecordsTopic::default()
                            .with_name(name(t))
                            .with_partitions(partitions)
                    })
                    .collect(),
            )
    };
    let requests = [
        request(vec![
            (&topic, vec![part(0, 2), part(5, 0)]),
            (&unknown, vec![part(0, 0)]),
        ]),
        request(vec![(&topic, vec![part(0, -5)])]),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answers = rt.block_on(async {
        let client = Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let node = *client.cluster().brokers.keys().next().expect("a broker");
        let mut answers = Vec::new();
        for r in requests {
            answers.push(client.send_to(node, r).await.expect("DeleteRecords"));
        }
        client.close().await;
        answers
    });
    let results = |i: usize| {
        let mut out: Vec<(String, i32, i64, i16)> = answers[i]
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let topic = t.name.0.to_string();
                    (topic, p.partition_index, p.low_watermark, p.error_code)
                })
            })
            .collect();
        out.sort();
        out
    };
    // (topic, partition, low watermark, error): 3 is UNKNOWN_TOPIC_OR_PARTITION, 1
    // OFFSET_OUT_OF_RANGE.
    let mut expected = vec![
        (topic.clone(), 0, 2, 0),
        (topic.clone(), 5, -1, 3),
        (unknown.clone(), 0, -1, 3),
    ];
    expected.sort();
    assert_eq!(results(0), expected);
    assert_eq!(results(1), vec![(topic.clone(), 0, -1, 1)]);
});

// OffsetForLeaderEpoch answers as a new topic's leader gives them: epoch 0 ends at the log end
// (0 for an empty partition), an epoch the leader never had is unknown (-1, -1), a current
// epoch newer than the leader's UNKNOWN_LEADER_EPOCH, a partition that does not exist
// UNKNOWN_TOPIC_OR_PARTITION.
scenario!(offset_for_leader_epoch_answers, |t: &Target| {
    use ferrokafka::kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    use ferrokafka::kafka_protocol::messages::{BrokerId, OffsetForLeaderEpochRequest, TopicName};
    use ferrokafka::kafka_protocol::protocol::StrBytes;
    use ferrokafka::{Client, ClientConfig};

    let topic = unique_topic("epochs");
    rd::admin::create_topic(&t.bootstrap, &topic, 2, &[]).expect("create");
    let records: Vec<TestRecord> = (0..3)
        .map(|i| TestRecord {
            partition: 0,
            timestamp: None,
            key: None,
            value: Some(vec![b'a' + i]),
            headers: Vec::new(),
        })
        .collect();
    rd::produce(&t.bootstrap, &topic, &records, &[]);
    let part = |partition: i32, current: i32, epoch: i32| {
        OffsetForLeaderPartition::default()
            .with_partition(partition)
            .with_current_leader_epoch(current)
            .with_leader_epoch(epoch)
    };
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.clone())))
            .with_partitions(vec![
                part(0, -1, 0),
                part(0, 0, 0),
                part(0, -1, 7),
                part(0, 5, 0),
                part(1, -1, 0),
                part(9, -1, 0),
            ])]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answer = rt.block_on(async {
        let client = Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let leader = client.leader_for(&topic, 0).await.expect("leader");
        let answer = client
            .send_to(leader, request)
            .await
            .expect("OffsetForLeaderEpoch");
        client.close().await;
        answer
    });
    let got: Vec<(i32, i16, i32, i64)> = answer
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| (p.partition, p.error_code, p.leader_epoch, p.end_offset))
        .collect();
    // (partition, error, epoch, end offset): 75 is UNKNOWN_LEADER_EPOCH, 3
    // UNKNOWN_TOPIC_OR_PARTITION.
    assert_eq!(
        got,
        vec![
            (0, 0, 0, 3),
            (0, 0, 0, 3),
            (0, 0, -1, -1),
            (0, 75, -1, -1),
            (1, 0, 0, 0),
            (9, 3, -1, -1),
        ]
    );
});

// DescribeProducers, DescribeLogDirs and ElectLeaders as a single broker answers them: an
// idempotent producer's state in the partitions it wrote, a log directory holding the
// partitions asked for, and no election needed for a partition led by its only replica.
scenario!(producers_log_dirs_and_elections, |t: &Target| {
    use ferrokafka::kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
    use ferrokafka::kafka_protocol::messages::describe_producers_request::TopicRequest;
    use ferrokafka::kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    use ferrokafka::kafka_protocol::messages::{
        DescribeLogDirsRequest, DescribeProducersRequest, ElectLeadersRequest, TopicName,
    };
    use ferrokafka::kafka_protocol::protocol::StrBytes;
    use ferrokafka::{Client, ClientConfig};

    let topic = unique_topic("states");
    rd::admin::create_topic(&t.bootstrap, &topic, 2, &[]).expect("create");
    let records: Vec<TestRecord> = (0..4)
        .map(|i| TestRecord {
            partition: 0,
            timestamp: Some(1_700_000_000_000 + i64::from(i)),
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
    let name = || TopicName(StrBytes::from_string(topic.clone()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let leader = client.leader_for(&topic, 0).await.expect("leader");

        let producers = client
            .send_to(
                leader,
                DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
                    .with_name(name())
                    .with_partition_indexes(vec![0, 1, 7])]),
            )
            .await
            .expect("DescribeProducers");
        // (epoch, last sequence, last timestamp, coordinator epoch, open transaction's start)
        type State = (i32, i32, i64, i32, i64);
        let got: Vec<(i32, i16, Vec<State>)> = producers.topics[0]
            .partitions
            .iter()
            .map(|p| {
                let states = p
                    .active_producers
                    .iter()
                    .map(|s| {
                        (
                            s.producer_epoch,
                            s.last_sequence,
                            s.last_timestamp,
                            s.coordinator_epoch,
                            s.current_txn_start_offset,
                        )
                    })
                    .collect();
                (p.partition_index, p.error_code, states)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0, vec![(0, 3, 1_700_000_000_003, -1, -1)]),
                (1, 0, vec![]),
                (7, 3, vec![]),
            ],
            "(partition, error, [(epoch, last sequence, last timestamp, coordinator epoch, \
             open transaction)]); 3 is UNKNOWN_TOPIC_OR_PARTITION"
        );

        let dirs = client
            .send_to(
                leader,
                DescribeLogDirsRequest::default().with_topics(Some(vec![
                    DescribableLogDirTopic::default()
                        .with_topic(name())
                        .with_partitions(vec![0, 1]),
                ])),
            )
            .await
            .expect("DescribeLogDirs");
        assert_eq!(dirs.error_code, 0);
        let held: Vec<(i32, bool, i64)> = dirs
            .results
            .iter()
            .flat_map(|d| &d.topics)
            .filter(|t| t.name.0.as_str() == topic)
            .flat_map(|t| &t.partitions)
            .map(|p| (p.partition_index, p.partition_size > 0, p.offset_lag))
            .collect();
        let mut held = held;
        held.sort_unstable();
        assert_eq!(held, vec![(0, true, 0), (1, false, 0)], "{dirs:?}");

        let controller = client.cluster().controller.unwrap_or(leader);
        let elected = client
            .send_to(
                controller,
                ElectLeadersRequest::default()
                    .with_election_type(0)
                    .with_timeout_ms(10_000)
                    .with_topic_partitions(Some(vec![TopicPartitions::default()
                        .with_topic(name())
                        .with_partitions(vec![0, 9])])),
            )
            .await
            .expect("ElectLeaders");
        let got: Vec<(i32, i16)> = elected
            .replica_election_results
            .iter()
            .flat_map(|r| &r.partition_result)
            .map(|p| (p.partition_id, p.error_code))
            .collect();
        assert_eq!(
            got,
            vec![(0, 84), (9, 3)],
            "84 is ELECTION_NOT_NEEDED: {elected:?}"
        );
        let all = client
            .send_to(
                controller,
                ElectLeadersRequest::default()
                    .with_election_type(0)
                    .with_timeout_ms(10_000)
                    .with_topic_partitions(None),
            )
            .await
            .expect("ElectLeaders for all");
        // All partitions: every topic listed, no partition needing an election.
        assert_eq!(all.error_code, 0);
        assert!(
            all.replica_election_results
                .iter()
                .any(|r| r.topic.0.as_str() == topic),
            "{all:?}"
        );
        assert!(
            all.replica_election_results
                .iter()
                .all(|r| r.partition_result.is_empty()),
            "{all:?}"
        );
        client.close().await;
    });
});

// librdkafka's AlterConfigs (the legacy API: the given keys replace the topic's set) and
// DeleteGroups, answered as Kafka answers them.
scenario!(alter_configs_and_delete_groups, |t: &Target| {
    let topic = unique_topic("legacy-alter");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[("retention.ms", "3600000")])
        .expect("create");
    rd::admin::alter_topic_configs(&t.bootstrap, &topic, &[("max.message.bytes", "2048")])
        .expect("alter");
    // Accepted changes reach a KRaft broker's own view a moment later: bounded wait.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let configs = loop {
        let configs = rd::admin::describe_topic_configs(&t.bootstrap, &topic);
        let settled = configs
            .iter()
            .any(|(n, v, _)| n == "max.message.bytes" && v.as_deref() == Some("2048"));
        if settled || std::time::Instant::now() > deadline {
            break configs;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let get = |k: &str| configs.iter().find(|(n, _, _)| n == k).cloned();
    assert_eq!(
        get("max.message.bytes").map(|(_, v, d)| (v, d)),
        Some((Some("2048".to_owned()), false))
    );
    let retention = get("retention.ms").and_then(|(_, v, _)| v);
    assert_ne!(
        retention.as_deref(),
        Some("3600000"),
        "retention.ms was not in the new set: back to the broker's default"
    );
    // An invalid value changes nothing (the rdkafka crate reports this call's per-resource
    // result as Ok on every broker, so only the outcome is checked).
    let _ = rd::admin::alter_topic_configs(&t.bootstrap, &topic, &[("max.message.bytes", "big")]);
    let configs = rd::admin::describe_topic_configs(&t.bootstrap, &topic);
    assert!(
        configs
            .iter()
            .any(|(n, v, _)| n == "max.message.bytes" && v.as_deref() == Some("2048")),
        "{configs:?}"
    );

    let group = unique_topic("legacy-group");
    let missing = rd::admin::delete_group(&t.bootstrap, &group);
    assert!(
        missing
            .as_ref()
            .is_err_and(|e| e.contains("GroupIdNotFound")),
        "{missing:?}"
    );
});

// Authorized operations as Kafka without an authorizer reports them: every operation a topic
// (known or not) or the cluster supports when asked for, Kafka's "not requested" value
// (i32::MIN) otherwise.
scenario!(authorized_operations, |t: &Target| {
    use ferrokafka::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use ferrokafka::kafka_protocol::messages::{
        DescribeClusterRequest, MetadataRequest, TopicName,
    };
    use ferrokafka::kafka_protocol::protocol::StrBytes;
    use ferrokafka::{Client, ClientConfig};

    let topic = unique_topic("acl-ops");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[]).expect("create");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let named = |asked: bool| {
            MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(topic.clone())))),
                    MetadataRequestTopic::default().with_name(Some(TopicName(
                        StrBytes::from_string(unique_topic("acl-ops-missing")),
                    ))),
                ]))
                .with_allow_auto_topic_creation(false)
                .with_include_topic_authorized_operations(asked)
        };
        let mut got = Vec::new();
        for asked in [true, false] {
            let md = client.send_to_any(named(asked)).await.expect("Metadata");
            got.push(
                md.topics
                    .iter()
                    .map(|t| (t.error_code, t.topic_authorized_operations))
                    .collect::<Vec<_>>(),
            );
            let cluster = client
                .send_to_any(
                    DescribeClusterRequest::default()
                        .with_include_cluster_authorized_operations(asked),
                )
                .await
                .expect("DescribeCluster");
            got.push(vec![(
                cluster.error_code,
                cluster.cluster_authorized_operations,
            )]);
        }
        client.close().await;
        // Topic: READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS;
        // cluster: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
        // IDEMPOTENT_WRITE (bit n is Kafka's operation code n).
        let topic_ops = 0b1101_1111_1000;
        let cluster_ops = 0b1_1111_1010_0000;
        assert_eq!(
            got,
            vec![
                vec![(0, topic_ops), (3, topic_ops)],
                vec![(0, cluster_ops)],
                vec![(0, i32::MIN), (3, i32::MIN)],
                vec![(0, i32::MIN)],
            ]
        );
    });
});

// A compacted topic refuses records without a key, as Kafka does: INVALID_RECORD for the
// batch, with Kafka's message (the record errors summed up); keyed records are written.
scenario!(compacted_topics_refuse_keyless_records, |t: &Target| {
    use ferrokafka::{Producer, ProducerConfig, ProducerRecord};

    let topic = unique_topic("compacted");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[("cleanup.policy", "compact")])
        .expect("create");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (keyed, keyless) = rt.block_on(async {
        let mut config = ProducerConfig::new(&t.bootstrap).expect("config");
        config.set("linger.ms", "0").expect("linger");
        let producer = Producer::connect(config).await.expect("producer");
        let keyed = producer
            .send(
                ProducerRecord::new(topic.clone())
                    .partition(0)
                    .key("k")
                    .value("v"),
            )
            .await
            .expect("send")
            .await;
        let keyless = producer
            .send(
                ProducerRecord::new(topic.clone())
                    .partition(0)
                    .value("no key"),
            )
            .await
            .expect("send")
            .await;
        producer.close().await.expect("close");
        (keyed, keyless)
    });
    assert_eq!(keyed.expect("a keyed record is written").offset, Some(0));
    let cause = match keyless {
        Err(ferrokafka::Error::NotDelivered { cause, .. }) => cause,
        other => panic!("a keyless record on a compacted topic: {other:?}"),
    };
    match &*cause {
        ferrokafka::Error::Kafka { code, message, .. } => {
            assert_eq!(*code, ferrokafka::ErrorCode::INVALID_RECORD);
            assert_eq!(
                message.as_deref(),
                Some(
                    format!(
                        "One or more records have been rejected due to 1 record errors in total, \
                         and only showing the first three errors at most: [RecordError(\
                         batchIndex=0, message='Compacted topic cannot accept message without \
                         key in topic partition {topic}-0')]"
                    )
                    .as_str()
                )
            );
        }
        other => panic!("a keyless record on a compacted topic: {other:?}"),
    }
});

/// Polls `done` every 200 ms until it holds or `limit` passes; false if it never did.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// `retention.ms` acts, and a change through AlterConfigs takes effect without a restart:
// records an hour old go once the topic keeps a minute; newer ones stay, and reads start at
// the new log start offset.
scenario!(retention_ms_deletes_old_records, |t: &Target| {
    let topic = unique_topic("retention-ms");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[]).expect("create");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let record = |timestamp, value: &str| TestRecord {
        partition: 0,
        timestamp: Some(timestamp),
        key: None,
        value: Some(value.as_bytes().to_vec()),
        headers: Vec::new(),
    };
    let old: Vec<TestRecord> = (0..3)
        .map(|i| record(now - 3_600_000, &format!("old-{i}")))
        .collect();
    rd::produce(&t.bootstrap, &topic, &old, &[]);
    assert_eq!(rd::watermarks(&t.bootstrap, &topic, 0), (0, 3));

    rd::admin::alter_topic_configs(&t.bootstrap, &topic, &[("retention.ms", "60000")])
        .expect("alter retention.ms");
    assert!(
        eventually(Duration::from_secs(30), || rd::watermarks(
            &t.bootstrap,
            &topic,
            0
        ) == (3, 3)),
        "{:?}: records an hour old still held: {:?}",
        t.kind,
        rd::watermarks(&t.bootstrap, &topic, 0)
    );
    let fresh = rd::produce(&t.bootstrap, &topic, &[record(now, "fresh")], &[]);
    assert_eq!(fresh, vec![(0, 3)]);
    let left = rd::read_all(&t.bootstrap, &topic, 0, Duration::from_secs(20), &[]);
    let values: Vec<_> = left
        .iter()
        .map(|c| (c.offset, c.record.value.clone()))
        .collect();
    assert_eq!(values, vec![(3, Some(b"fresh".to_vec()))]);
});

// `cleanup.policy=compact`: the log cleaner keeps the latest value of each key, at its
// original offset, and removes tombstones after `delete.retention.ms` (0 here). Kafka never
// cleans its active segment, so the scenario keeps writing a filler key (with `segment.ms`
// tiny, each write rolls a segment on the real broker) until the cleaner has done its work.
scenario!(compaction_keeps_the_latest_value_per_key, |t: &Target| {
    let topic = unique_topic("compacted");
    rd::admin::create_topic(
        &t.bootstrap,
        &topic,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("delete.retention.ms", "0"),
            ("segment.ms", "100"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("min.compaction.lag.ms", "0"),
        ],
    )
    .expect("create");
    let keyed = |key: &str, value: Option<&str>| TestRecord {
        partition: 0,
        timestamp: None,
        key: Some(key.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Vec::new(),
    };
    let written = rd::produce(
        &t.bootstrap,
        &topic,
        &[
            keyed("k1", Some("a")),
            keyed("k2", Some("x")),
            keyed("k1", Some("b")),
            keyed("k2", None),
        ],
        &[],
    );
    assert_eq!(written, vec![(0, 0), (0, 1), (0, 2), (0, 3)]);

    let mut fillers = 0;
    let mut last = Vec::new();
    let compacted = eventually(Duration::from_secs(90), || {
        fillers += 1;
        rd::produce(&t.bootstrap, &topic, &[keyed("filler", Some("f"))], &[]);
        last = rd::read_all(&t.bootstrap, &topic, 0, Duration::from_secs(20), &[])
            .into_iter()
            .filter(|c| c.record.key.as_deref() != Some(b"filler".as_slice()))
            .map(|c| (c.offset, c.record.key, c.record.value))
            .collect::<Vec<_>>();
        last == vec![(2, Some(b"k1".to_vec()), Some(b"b".to_vec()))]
    });
    eprintln!("{:?}: compacted after {fillers} filler records", t.kind);
    assert!(
        compacted,
        "{:?}: not compacted within 90 s: {last:?}",
        t.kind
    );
    // The history before the cleaner ran is gone; the high watermark is where it was.
    assert_eq!(rd::watermarks(&t.bootstrap, &topic, 0).1, 4 + fillers);
});

// Kafka's internal topics, as other clients' test suites see them: once a group coordinator
// and a transaction coordinator were looked for, Metadata lists `__consumer_offsets` and
// `__transaction_state` with `is_internal`, ordinary topics without it, and a write to an
// internal topic is refused with INVALID_TOPIC_EXCEPTION (Kafka gives no message).
scenario!(
    internal_topics_are_listed_and_refuse_writes,
    |t: &Target| {
        use ferrokafka::kafka_protocol::messages::{FindCoordinatorRequest, MetadataRequest};
        use ferrokafka::kafka_protocol::protocol::StrBytes;
        use ferrokafka::{Client, ClientConfig};

        let topic = unique_topic("not-internal");
        rd::admin::create_topic(&t.bootstrap, &topic, 1, &[]).expect("create");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let client = Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
                .await
                .expect("connect");
            // Kafka answers the lookup that creates a coordinator's topic with
            // COORDINATOR_NOT_AVAILABLE until the topic is ready: a bounded retry.
            for (key_type, key) in [(0, unique_topic("group")), (1, unique_topic("txn"))] {
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                loop {
                    let found = client
                        .send_to_any(
                            FindCoordinatorRequest::default()
                                .with_key_type(key_type)
                                .with_coordinator_keys(vec![StrBytes::from_string(key.clone())]),
                        )
                        .await
                        .expect("FindCoordinator");
                    let code = found.coordinators.first().map_or(-1, |c| c.error_code);
                    if code == 0 {
                        break;
                    }
                    assert!(
                        code == ferrokafka::ErrorCode::COORDINATOR_NOT_AVAILABLE.0
                            && std::time::Instant::now() < deadline,
                        "{found:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            // The coordinators' topics may take a moment to appear on Kafka: a bounded wait.
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            let listed = loop {
                let md = client
                    .send_to_any(MetadataRequest::default().with_topics(None))
                    .await
                    .expect("Metadata");
                let listed: Vec<(String, bool, i16, usize)> = md
                    .topics
                    .iter()
                    .filter_map(|t| {
                        let name = t.name.as_ref()?.0.to_string();
                        (name.starts_with("__") || name == topic).then_some((
                            name,
                            t.is_internal,
                            t.error_code,
                            t.partitions.len(),
                        ))
                    })
                    .collect();
                if listed.len() == 3 || std::time::Instant::now() > deadline {
                    break listed;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let mut listed = listed;
            listed.sort();
            assert_eq!(
                listed,
                vec![
                    ("__consumer_offsets".to_owned(), true, 0, 1),
                    ("__transaction_state".to_owned(), true, 0, 1),
                    (topic.clone(), false, 0, 1),
                ],
                "{:?}",
                t.kind
            );

            let p = raw_produce(&client, "__consumer_offsets", &[Some("k")]).await;
            assert_eq!(
                (
                    p.error_code,
                    p.error_message.as_ref().map(|m| m.to_string())
                ),
                (ferrokafka::ErrorCode::INVALID_TOPIC_EXCEPTION.0, None),
                "{:?}",
                t.kind
            );
            client.close().await;
        });
    }
);

// The same Produce to a compacted topic, raw, on every target: a batch of a keyed and two
// keyless records is refused whole with INVALID_RECORD, Kafka's summary as the message, and
// one record error per keyless record (its index in the batch and Kafka's message).
scenario!(keyless_records_get_kafkas_record_errors, |t: &Target| {
    use ferrokafka::{Client, ClientConfig};

    let topic = unique_topic("compacted-raw");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[("cleanup.policy", "compact")])
        .expect("create");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = Client::connect(ClientConfig::new(&t.bootstrap).expect("config"))
            .await
            .expect("connect");
        let p = raw_produce(&client, &topic, &[Some("k"), None, None]).await;
        let why = format!(
            "Compacted topic cannot accept message without key in topic partition {topic}-0"
        );
        let errors: Vec<(i32, Option<String>)> = p
            .record_errors
            .iter()
            .map(|e| {
                (
                    e.batch_index,
                    e.batch_index_error_message.as_ref().map(|m| m.to_string()),
                )
            })
            .collect();
        assert_eq!(
            (
                p.error_code,
                p.error_message.as_ref().map(|m| m.to_string()),
                errors
            ),
            (
                ferrokafka::ErrorCode::INVALID_RECORD.0,
                Some(format!(
                    "One or more records have been rejected due to 2 record errors in total, \
                     and only showing the first three errors at most: [RecordError(batchIndex=1, \
                     message='{why}'), RecordError(batchIndex=2, message='{why}')]"
                )),
                vec![(1, Some(why.clone())), (2, Some(why.clone()))]
            ),
            "{:?}",
            t.kind
        );
        client.close().await;
    });
});

/// One batch of records with `keys` (value `v`) to partition 0 of `topic`, as a raw Produce
/// v-latest with acks=1; the partition's answer.
async fn raw_produce(
    client: &ferrokafka::Client,
    topic: &str,
    keys: &[Option<&'static str>],
) -> ferrokafka::kafka_protocol::messages::produce_response::PartitionProduceResponse {
    use ferrokafka::kafka_protocol::messages::produce_request::{
        PartitionProduceData, TopicProduceData,
    };
    use ferrokafka::kafka_protocol::messages::{ProduceRequest, TopicName};
    use ferrokafka::kafka_protocol::protocol::StrBytes;
    use ferrokafka_protocol::record::{BatchBuilder, RecordInput};

    let mut batch = BatchBuilder::new();
    for key in keys {
        batch
            .push(RecordInput {
                timestamp: 1_700_000_000_000,
                key: key.map(|k| bytes::Bytes::from_static(k.as_bytes())),
                value: Some(bytes::Bytes::from_static(b"v")),
                headers: Vec::new(),
            })
            .expect("record");
    }
    let produce = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch.build().expect("batch")))])]);
    let mut answer = client.send_to_any(produce).await.expect("Produce");
    answer.responses.remove(0).partition_responses.remove(0)
}
