//! The main job on the embedded default: start an in-process mini-broker, write records with
//! the ferrokafka `Producer` (acks=all, idempotent, lz4), and read them back with a `Consumer`
//! in a group that commits each batch after processing it (at-least-once, per batch).
//!
//! Run: `cargo run -p ferrokafka-examples --bin quickstart`
//! Against another broker: `cargo run -p ferrokafka-examples --bin quickstart -- HOST:PORT`

use std::time::Duration;

use ferrokafka::{
    AtLeastOnce, AutoOffsetReset, Batches, Client, ClientConfig, Consumer, ConsumerConfig,
    NewTopic, Producer, ProducerConfig, ProducerRecord,
};
use ferrokafka_mini_broker::MiniBroker;

const TOPIC: &str = "quickstart";
const RECORDS: usize = 10;

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

    let client = Client::connect(ClientConfig::new(&bootstrap)?).await?;
    for (topic, result) in client
        .create_topics(&[NewTopic::new(TOPIC).partitions(3)])
        .await?
    {
        match result {
            Ok(()) => println!("created topic {topic} with 3 partitions"),
            Err(err) => println!("topic {topic}: {err}"),
        }
    }
    client.close().await;

    // Java-style settings work as well as the typed builder.
    let mut config = ProducerConfig::new(&bootstrap)?;
    config
        .set("compression.type", "lz4")?
        .set("linger.ms", "5")?;
    let producer = Producer::connect(config).await?;
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(TOPIC)
            .key(format!("user-{}", i % 4))
            .value(format!("hello from ferrokafka #{i}"));
        deliveries.push(producer.send(record).await?);
    }
    for delivery in deliveries {
        let written = delivery.await?;
        println!(
            "wrote partition {} offset {:?}",
            written.partition, written.offset
        );
    }
    producer.close().await?;

    let mut consumer = Consumer::new(
        ConsumerConfig::builder()
            .bootstrap_servers([bootstrap.as_str()])
            .group_id("quickstart")
            .enable_auto_commit(false)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()?,
    )
    .await?;
    consumer.subscribe([TOPIC])?;
    // At-least-once per poll batch: the batch's offsets are committed only after the handler
    // finished it, and that commit runs while the next batch is fetched.
    let mut batches = Batches::new(AtLeastOnce);
    let mut read = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while read < RECORDS {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("only {read} of {RECORDS} records within 30 s").into());
        }
        read += consumer
            .process_batch(&mut batches, |records| async move {
                for record in records {
                    println!(
                        "read partition {} offset {}: {} = {}",
                        record.partition,
                        record.offset,
                        String::from_utf8_lossy(record.key.as_deref().unwrap_or_default()),
                        String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()),
                    );
                }
            })
            .await?;
    }
    batches.commit_pending(&consumer).await?;
    println!("read all {RECORDS} records; offsets committed for group 'quickstart'");
    consumer.close().await?;

    if let Some(broker) = broker {
        broker.shutdown().await;
    }
    Ok(())
}
