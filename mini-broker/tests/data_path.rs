//! The data path against a running broker, one behaviour per test: acks=0 keeps responses in
//! step, long-poll fetches (and none for a fetch without partitions), byte limits, offsets out of range, ListOffsets, LogAppendTime,
//! `max.message.bytes`, retention, config changes taking effect, auto-creation, DescribeConfigs and DescribeCluster.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{batch, fetch_request, fetched_values, produce_request, produce_result, RawConn};
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::record::{BatchBuilder, RecordBatch, RecordInput, TimestampType};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DescribeClusterRequest, DescribeConfigsRequest,
    ListOffsetsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

async fn create(conn: &mut RawConn, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string((*k).into()))
                            .with_value(Some(StrBytes::from_string((*v).into())))
                    })
                    .collect(),
            )]);
    let resp = conn.request(7, &req).await;
    assert_eq!(
        resp.topics[0].error_code, 0,
        "{:?}",
        resp.topics[0].error_message
    );
}

/// A batch of one record with `value` and create time `ts`.
fn one(value: &[u8], ts: i64) -> Bytes {
    let mut b = BatchBuilder::new();
    b.push(RecordInput {
        timestamp: ts,
        value: Some(Bytes::copy_from_slice(value)),
        ..Default::default()
    })
    .unwrap();
    b.build().unwrap()
}

#[tokio::test]
async fn acks_zero_writes_but_sends_nothing_and_responses_stay_in_step() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let mut body = bytes::BytesMut::new();
    let req = produce_request("acks0", 0, batch(2)).with_acks(0);
    kafka_protocol::protocol::Encodable::encode(&req, &mut body, 9).unwrap();
    let silent = conn.send_raw(ApiKey::Produce as i16, 9, &body).await;
    // The next request's response must be the first thing on the wire, with its own id.
    let md = conn
        .request(12, &MetadataRequest::default().with_topics(None))
        .await;
    assert!(md
        .topics
        .iter()
        .any(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == "acks0")));
    assert_eq!(
        silent, 1,
        "the produce took correlation id 1; metadata's response matched 2"
    );
    let fetched = fetched_values(&conn.request(12, &fetch_request("acks0", 0, 0)).await);
    assert_eq!(fetched.len(), 2, "acks=0 data was written");
    broker.shutdown().await;
}

#[tokio::test]
async fn fetch_long_polls_until_data_arrives() {
    let broker = MiniBroker::start().await.unwrap();
    let mut writer = RawConn::connect(&broker.bootstrap()).await;
    create(&mut writer, "poll", 1, &[]).await;
    let mut reader = RawConn::connect(&broker.bootstrap()).await;
    let wait = fetch_request("poll", 0, 0)
        .with_max_wait_ms(20_000)
        .with_min_bytes(1);
    let started = Instant::now();
    let (resp, ()) = tokio::join!(reader.request(12, &wait), async {
        produce_result(
            &writer
                .request(9, &produce_request("poll", 0, batch(1)))
                .await,
        );
    });
    assert_eq!(fetched_values(&resp), vec![Bytes::from("v0")]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "woken by the produce, not the timeout"
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn fetch_returns_empty_after_max_wait_without_data() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    create(&mut conn, "idle", 1, &[]).await;
    let started = Instant::now();
    let resp = conn
        .request(
            12,
            &fetch_request("idle", 0, 0)
                .with_max_wait_ms(200)
                .with_min_bytes(1),
        )
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "held for max_wait_ms"
    );
    let p = &resp.responses[0].partitions[0];
    assert_eq!((p.error_code, p.high_watermark), (0, 0));
    assert!(p.records.as_ref().is_none_or(Bytes::is_empty));
    broker.shutdown().await;
}

/// Java closes a consumer with a Fetch that names no partitions; Kafka answers it at once
/// rather than holding it for `max_wait_ms`.
#[tokio::test]
async fn a_fetch_without_partitions_is_answered_at_once() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let empty = kafka_protocol::messages::FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(30_000)
        .with_min_bytes(1)
        .with_session_epoch(-1);
    let started = Instant::now();
    let resp = tokio::time::timeout(Duration::from_secs(20), conn.request(12, &empty))
        .await
        .expect("answered before max_wait_ms (30 s)");
    assert_eq!(resp.error_code, 0);
    assert!(resp.responses.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "answered without the long poll"
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn byte_limits_keep_whole_batches_and_always_one() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    create(&mut conn, "limits", 1, &[]).await;
    for i in 0..3u8 {
        let (code, _) = produce_result(
            &conn
                .request(9, &produce_request("limits", 0, one(&[i; 1000], 1)))
                .await,
        );
        assert_eq!(code, 0);
    }
    let batches = |resp: &kafka_protocol::messages::FetchResponse| {
        let records = resp.responses[0].partitions[0]
            .records
            .clone()
            .unwrap_or_default();
        RecordBatch::iter_blob(records)
            .map(|b| b.unwrap().base_offset())
            .collect::<Vec<_>>()
    };
    let mut req = fetch_request("limits", 0, 0);
    req.topics[0].partitions[0].partition_max_bytes = 10;
    assert_eq!(
        batches(&conn.request(12, &req).await),
        vec![0],
        "one batch even above the limit"
    );
    req.topics[0].partitions[0].partition_max_bytes = 2500;
    assert_eq!(
        batches(&conn.request(12, &req).await),
        vec![0, 1],
        "whole batches within the limit"
    );
    let req = fetch_request("limits", 0, 1).with_max_bytes(1);
    assert_eq!(
        batches(&conn.request(12, &req).await),
        vec![1],
        "response limit keeps one batch"
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn offsets_outside_the_log_are_out_of_range_and_retention_moves_the_start() {
    let broker = MiniBroker::builder()
        .partition_retention_bytes(3000)
        .start()
        .await
        .unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    for _ in 0..6 {
        produce_result(
            &conn
                .request(9, &produce_request("ret", 0, one(&[7; 1000], 1)))
                .await,
        );
    }
    let resp = conn.request(12, &fetch_request("ret", 0, 0)).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        p.error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE.0,
        "offset 0 was dropped"
    );
    assert!(p.log_start_offset > 0 && p.high_watermark == 6);
    let resp = conn.request(12, &fetch_request("ret", 0, 7)).await;
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE.0
    );
    let start = p.log_start_offset;
    assert_eq!(
        fetched_values(&conn.request(12, &fetch_request("ret", 0, start)).await).len() as i64,
        6 - start
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn list_offsets_earliest_latest_by_time_and_max_time() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    for ts in [100, 300, 200] {
        produce_result(
            &conn
                .request(9, &produce_request("times", 0, one(b"x", ts)))
                .await,
        );
    }
    let ask = |ts: i64| {
        ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
            .with_name(name("times"))
            .with_partitions(vec![ListOffsetsPartition::default().with_timestamp(ts)])])
    };
    let mut answer = Vec::new();
    for ts in [-2, -1, 150, 300, 301, -3] {
        let resp = conn.request(9, &ask(ts)).await;
        let p = &resp.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        answer.push((p.offset, p.timestamp));
    }
    assert_eq!(
        answer,
        vec![(0, -1), (3, -1), (1, 300), (1, 300), (-1, -1), (1, 300)]
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn log_append_time_topics_are_stamped_by_the_broker() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    create(
        &mut conn,
        "lat",
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let resp = conn
        .request(9, &produce_request("lat", 0, one(b"x", 5)))
        .await;
    let stamped = resp.responses[0].partition_responses[0].log_append_time_ms;
    assert!(stamped >= before, "log_append_time_ms {stamped} reported");
    let fetched = conn.request(12, &fetch_request("lat", 0, 0)).await;
    let records = fetched.responses[0].partitions[0].records.clone().unwrap();
    let batch = RecordBatch::iter_blob(records).next().unwrap().unwrap();
    batch.verify_crc().unwrap();
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    let record = batch.records().unwrap().next().unwrap().unwrap();
    assert_eq!(record.timestamp(&batch), stamped);
    broker.shutdown().await;
}

/// IncrementalAlterConfigs takes effect at once: a smaller `retention.bytes` drops the oldest
/// batches now, and a smaller `max.message.bytes` refuses the next produce. (The records are
/// stamped 2023: no time retention here, or the change would expire them all at once.)
#[tokio::test]
async fn altered_topic_configs_act_at_once() {
    let broker = MiniBroker::builder()
        .log_retention_ms(-1)
        .start()
        .await
        .unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    create(&mut conn, "alter", 1, &[]).await;
    for _ in 0..6 {
        produce_result(
            &conn
                .request(9, &produce_request("alter", 0, one(&[7; 1000], 1)))
                .await,
        );
    }
    let set = |key: &str, value: &str| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_string("alter".into()))
                .with_configs(vec![AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.into()))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_string(value.into())))]),
        ])
    };
    let resp = conn.request(1, &set("retention.bytes", "2500")).await;
    assert_eq!(resp.responses[0].error_code, 0, "{:?}", resp.responses[0]);
    let resp = conn.request(12, &fetch_request("alter", 0, 0)).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(
        p.error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE.0,
        "offset 0 dropped"
    );
    assert_eq!(
        (p.log_start_offset, p.high_watermark),
        (4, 6),
        "two batches of ~1 KiB kept"
    );

    let resp = conn.request(1, &set("max.message.bytes", "500")).await;
    assert_eq!(resp.responses[0].error_code, 0);
    let (code, _) = produce_result(
        &conn
            .request(9, &produce_request("alter", 0, one(&[1; 600], 1)))
            .await,
    );
    assert_eq!(code, ErrorCode::MESSAGE_TOO_LARGE.0);
    broker.shutdown().await;
}

#[tokio::test]
async fn max_message_bytes_is_enforced() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    create(&mut conn, "small", 1, &[("max.message.bytes", "500")]).await;
    let (code, _) = produce_result(
        &conn
            .request(9, &produce_request("small", 0, one(&[1; 600], 1)))
            .await,
    );
    assert_eq!(code, ErrorCode::MESSAGE_TOO_LARGE.0);
    let (code, offset) = produce_result(
        &conn
            .request(9, &produce_request("small", 0, one(&[1; 100], 1)))
            .await,
    );
    assert_eq!(
        (code, offset),
        (0, 0),
        "nothing of the rejected batch was written"
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn auto_creation_follows_broker_and_request() {
    let broker = MiniBroker::builder()
        .auto_create_topics(false)
        .default_partitions(3)
        .start()
        .await
        .unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let md = |topic: &str, allow: bool| {
        MetadataRequest::default()
            .with_allow_auto_topic_creation(allow)
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(name(topic)))
            ]))
    };
    let resp = conn.request(12, &md("nope", true)).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );
    let (code, _) = produce_result(&conn.request(9, &produce_request("nope", 0, batch(1))).await);
    assert_eq!(code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
    broker.shutdown().await;

    let broker = MiniBroker::builder()
        .default_partitions(3)
        .start()
        .await
        .unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let resp = conn.request(12, &md("maybe", false)).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
        "request said no"
    );
    let resp = conn.request(12, &md("yes", true)).await;
    assert_eq!(
        (resp.topics[0].error_code, resp.topics[0].partitions.len()),
        (0, 3)
    );
    assert!(!resp.topics[0].topic_id.is_nil());
    let resp = conn.request(12, &md("bad name!", true)).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::INVALID_TOPIC_EXCEPTION.0
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn describe_configs_and_cluster() {
    let broker = MiniBroker::start().await.unwrap();
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    create(&mut conn, "cfg", 2, &[("retention.ms", "1000")]).await;
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("cfg"))
            .with_configuration_keys(None)]);
    let resp = conn.request(4, &req).await;
    let configs = &resp.results[0].configs;
    let get = |k: &str| configs.iter().find(|c| c.name.as_str() == k).unwrap();
    assert_eq!(get("retention.ms").value.as_deref(), Some("1000"));
    assert_eq!(get("retention.ms").config_source, 1, "set on the topic");
    assert_eq!(get("cleanup.policy").value.as_deref(), Some("delete"));
    assert_eq!(get("cleanup.policy").config_source, 5, "default");
    let missing =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("absent"))]);
    let resp = conn.request(4, &missing).await;
    assert_eq!(
        resp.results[0].error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );

    let resp = conn.request(1, &DescribeClusterRequest::default()).await;
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.brokers.len(), 1);
    assert_eq!(
        format!("{}:{}", resp.brokers[0].host.as_str(), resp.brokers[0].port),
        broker.bootstrap()
    );
    assert_eq!(resp.controller_id, resp.brokers[0].broker_id);
    broker.shutdown().await;
}
