//! Helpers for the consumer tests: brokers, consumer configs with test-friendly timings, and
//! test data written with raw Produce requests (or straight into the mini-broker's log, for
//! batches no producer may send: control batches, corrupt ones, cut ones).

#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use ferrokafka::consumer::ConsumerConfigBuilder;
use ferrokafka::{Client, ClientConfig, ConsumerConfig, NewTopic};
use ferrokafka_mini_broker::state::log::StoredBatch;
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::record::{BatchBuilder, Compression, RecordBatch, RecordInput};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

/// How long a test waits for anything.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A mini-broker whose auto-created topics have `partitions` partitions.
pub async fn broker(partitions: i32) -> MiniBroker {
    MiniBroker::builder()
        .default_partitions(partitions)
        .group_min_session_timeout(Duration::from_millis(100))
        .start()
        .await
        .expect("start mini-broker")
}

/// A consumer config for `bootstrap` with short timeouts.
pub fn config(bootstrap: &str) -> ConsumerConfigBuilder {
    ConsumerConfig::builder()
        .client(
            ClientConfig::builder()
                .bootstrap_servers([bootstrap])
                .client_id("ferrokafka-consumer-tests")
                .request_timeout(Duration::from_secs(10))
                .build()
                .expect("client config"),
        )
        .fetch_max_wait(Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(20))
}

/// A plain client for writing test data.
pub async fn client(bootstrap: &str) -> Client {
    Client::connect(ClientConfig::new(bootstrap).expect("config"))
        .await
        .expect("connect")
}

/// Creates `topic` with `partitions` partitions.
pub async fn create_topic(client: &Client, topic: &str, partitions: i32) {
    let results = client
        .create_topics(&[NewTopic::new(topic).partitions(partitions)])
        .await
        .expect("create topics");
    for (name, result) in results {
        result.unwrap_or_else(|e| panic!("create {name}: {e}"));
    }
    client.metadata(&[topic]).await.expect("metadata");
}

/// A batch of `values`, compressed with `codec`.
pub fn batch(values: &[String], codec: Compression) -> Bytes {
    let mut b = BatchBuilder::new().compression(codec);
    for (i, v) in values.iter().enumerate() {
        b.push(RecordInput {
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("k-{v}"))),
            value: Some(Bytes::from(v.clone())),
            headers: vec![],
        })
        .expect("push");
    }
    b.build().expect("build")
}

/// `n` values `prefix-0`, `prefix-1`, ...
pub fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Writes `batch` to `topic`/`partition` with a raw Produce (acks=all); returns its base
/// offset.
pub async fn produce(client: &Client, topic: &str, partition: i32, batch: Bytes) -> i64 {
    let leader = client.leader_for(topic, partition).await.expect("leader");
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch))])]);
    let response = client.send_to(leader, request).await.expect("produce");
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0, "produce to {topic}-{partition}");
    p.base_offset
}

/// Writes `values` as one batch each of `per_batch` records.
pub async fn produce_values(
    client: &Client,
    topic: &str,
    partition: i32,
    values: &[String],
    per_batch: usize,
) {
    for chunk in values.chunks(per_batch.max(1)) {
        produce(client, topic, partition, batch(chunk, Compression::None)).await;
    }
}

/// Appends `bytes` (one or more batches, or anything at all) to the mini-broker's log as one
/// stored entry covering `count` offsets; returns its base offset. The first batch's base
/// offset is patched in, the CRC left alone. This is how tests serve what producers may not
/// send: control batches, corrupt batches, and entries that end in a cut batch.
pub fn append_raw(
    broker: &MiniBroker,
    topic: &str,
    partition: usize,
    bytes: Bytes,
    count: i64,
) -> i64 {
    let base = {
        let mut topics = broker.state().topics();
        let log = &mut topics.get_mut(topic).expect("topic").partitions[partition];
        let base = log.next_offset();
        let mut patched = BytesMut::with_capacity(bytes.len());
        patched.put_i64(base);
        patched.put_slice(&bytes[8..]);
        log.append(StoredBatch::new(
            base,
            base + count - 1,
            0,
            patched.freeze(),
        ))
        .expect("an in-memory log takes every append");
        base
    };
    broker.state().notify_appended();
    base
}

/// `batch` re-based at `base_offset` (outside the CRC, so it stays valid).
pub fn rebase(batch: &Bytes, base_offset: i64) -> Bytes {
    let mut b = BytesMut::from(&batch[..]);
    b[..8].copy_from_slice(&base_offset.to_be_bytes());
    let b = b.freeze();
    RecordBatch::new(b.clone()).expect("valid batch");
    b
}
