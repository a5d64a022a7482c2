//! Helpers for the producer tests: brokers, producers with test-friendly settings, and reading
//! records back with raw Fetch requests (the consumer is tested elsewhere).

#![allow(dead_code)] // each test binary uses a different subset

pub mod proxy;

use std::time::Duration;

use bytes::Bytes;
use ferrokafka::producer::{ProducerConfig, ProducerConfigBuilder};
use ferrokafka::{Client, ClientConfig, Producer};
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::record::{Header, RecordBatch};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

/// How long a test waits for anything.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A record as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
    /// Producer id, epoch and base sequence of the record's batch.
    pub producer: (i64, i16, i32),
    /// The batch's codec name.
    pub codec: String,
}

/// A mini-broker whose auto-created topics have `partitions` partitions.
pub async fn broker(partitions: i32) -> MiniBroker {
    MiniBroker::builder()
        .default_partitions(partitions)
        .start()
        .await
        .expect("start mini-broker")
}

/// A producer builder for `bootstrap` with short timeouts.
pub fn config(bootstrap: &str) -> ProducerConfigBuilder {
    ProducerConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("ferrokafka-producer-tests")
        .request_timeout(Duration::from_secs(5))
        .delivery_timeout(Duration::from_secs(20))
}

pub async fn producer(builder: ProducerConfigBuilder) -> Producer {
    Producer::connect(builder.build().expect("valid config"))
        .await
        .expect("producer connects")
}

/// A plain client, to read back with.
pub async fn client(bootstrap: &str) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(5))
        .build()
        .expect("client config");
    Client::connect(config).await.expect("client connects")
}

/// Every record of `topic`/`partition`, from offset 0 to the end, with raw Fetch requests.
pub async fn fetch_all(client: &Client, topic: &str, partition: i32) -> Vec<Fetched> {
    let cluster = client.metadata(&[topic]).await.expect("metadata");
    let id = cluster.topics.get(topic).expect("topic known").id;
    let leader = cluster.leader(topic, partition).expect("leader");
    let conn = client.connection(leader).await.expect("connection");
    let mut out: Vec<Fetched> = Vec::new();
    let mut offset = 0;
    loop {
        let response = conn
            .send_with(|version| {
                let mut t = FetchTopic::default().with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(8 << 20)]);
                if version >= 13 {
                    t = t.with_topic_id(id);
                } else {
                    t = t.with_topic(TopicName(StrBytes::from_string(topic.to_owned())));
                }
                FetchRequest::default()
                    .with_max_wait_ms(0)
                    .with_max_bytes(16 << 20)
                    .with_topics(vec![t])
            })
            .await
            .expect("fetch");
        let p = &response.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "fetch error for {topic}/{partition}");
        let before = out.len();
        for batch in RecordBatch::iter_blob(p.records.clone().unwrap_or_default()) {
            let batch = batch.expect("whole batch");
            batch.verify_crc().expect("crc");
            let codec = batch.compression().expect("codec").name().to_owned();
            for record in batch.records().expect("records") {
                let record = record.expect("record");
                let fetched = Fetched {
                    offset: record.offset(&batch),
                    timestamp: record.timestamp(&batch),
                    key: record.key.clone(),
                    value: record.value.clone(),
                    headers: record.headers.clone(),
                    producer: (
                        batch.producer_id(),
                        batch.producer_epoch(),
                        batch.base_sequence(),
                    ),
                    codec: codec.clone(),
                };
                if fetched.offset >= offset {
                    offset = fetched.offset + 1;
                    out.push(fetched);
                }
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// Every record of every partition of `topic`, partition by partition.
pub async fn fetch_topic(client: &Client, topic: &str, partitions: i32) -> Vec<Vec<Fetched>> {
    let mut out = Vec::new();
    for p in 0..partitions {
        out.push(fetch_all(client, topic, p).await);
    }
    out
}

/// Awaits `fut`, failing the test after [`DEADLINE`].
pub async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}
