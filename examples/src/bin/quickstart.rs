//! The main job on the embedded default: start an in-process mini-broker, create a topic, write
//! a batch of records with the ferrokafka client, and read them back.
//!
//! Run: `cargo run -p ferrokafka-examples --bin quickstart`
//! Against another broker: `cargo run -p ferrokafka-examples --bin quickstart -- HOST:PORT`

use bytes::Bytes;
use ferrokafka::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use ferrokafka::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use ferrokafka::kafka_protocol::messages::{FetchRequest, ProduceRequest, TopicName};
use ferrokafka::kafka_protocol::protocol::StrBytes;
use ferrokafka::{Client, ClientConfig, NewTopic};
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::record::{BatchBuilder, Compression, Header, RecordBatch, RecordInput};

const TOPIC: &str = "quickstart";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (broker, bootstrap) = match std::env::args().nth(1) {
        Some(bootstrap) => (None, bootstrap),
        None => {
            let broker = MiniBroker::start().await?;
            let bootstrap = broker.bootstrap();
            println!("started the embedded mini-broker at {bootstrap}");
            (Some(broker), bootstrap)
        }
    };

    let client = Client::connect(ClientConfig::new(bootstrap.as_str())?).await?;
    for (topic, result) in client
        .create_topics(&[NewTopic::new(TOPIC).partitions(1)])
        .await?
    {
        match result {
            Ok(()) => println!("created topic {topic}"),
            Err(err) => println!("topic {topic}: {err}"),
        }
    }
    let leader = client.leader_for(TOPIC, 0).await?;
    let topic_id = client
        .cluster()
        .topics
        .get(TOPIC)
        .map(|t| t.id)
        .unwrap_or_default();

    let mut batch = BatchBuilder::new().compression(Compression::Lz4);
    for i in 0..5 {
        batch.push(RecordInput {
            timestamp: now_ms(),
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(format!("hello from ferrokafka #{i}"))),
            headers: vec![Header::new("source", "quickstart")],
        })?;
    }
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name())
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch.build()?))])]);
    let response = client.send_to(leader, produce).await?;
    let written = response
        .responses
        .first()
        .and_then(|t| t.partition_responses.first());
    let base = match written {
        Some(p) if p.error_code == 0 => p.base_offset,
        other => return Err(format!("produce failed: {other:?}").into()),
    };
    println!("wrote 5 records at offsets {base}..{}", base + 4);

    let fetch = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_topics(vec![FetchTopic::default()
            // Fetch names topics up to v12 and identifies them by id from v13; give both.
            .with_topic(topic_name())
            .with_topic_id(topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(base)
                .with_partition_max_bytes(1 << 20)])]);
    let response = client.send_to(leader, fetch).await?;
    let records = response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .and_then(|p| p.records.clone())
        .unwrap_or_default();
    for batch in RecordBatch::iter_blob(records) {
        let batch = batch?;
        for record in batch.records()? {
            let record = record?;
            println!(
                "read offset {}: {} = {}",
                record.offset(&batch),
                String::from_utf8_lossy(record.key.as_deref().unwrap_or_default()),
                String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()),
            );
        }
    }

    client.close().await;
    if let Some(broker) = broker {
        broker.shutdown().await;
    }
    Ok(())
}

fn topic_name() -> TopicName {
    TopicName(StrBytes::from_static_str(TOPIC))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
