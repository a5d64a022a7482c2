//! The main job on the embedded default: start an in-process mini-broker, write records with
//! the ferrokafka `Producer` (acks=all, idempotent, lz4), and read them back with a `Consumer`
//! in a group that commits after processing (at-least-once).
//!
//! Run: `cargo run -p ferrokafka-examples --bin quickstart`
//! Against another broker: `cargo run -p ferrokafka-examples --bin quickstart -- HOST:PORT`

use std::time::Duration;

use ferrokafka::{
    AtLeastOnce, AutoOffsetReset, Client, ClientConfig, Consumer, ConsumerConfig, NewTopic,
    Producer, ProducerConfig, ProducerRecord,
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
    let mut read = 0;
    while read < RECORDS {
        // At-least-once: the offset is committed only after the handler returns Ok.
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            consumer.process_one(AtLeastOnce, |record| {
                println!(
                    "read partition {} offset {}: {} = {}",
                    record.partition,
                    record.offset,
                    String::from_utf8_lossy(record.key.as_deref().unwrap_or_default()),
                    String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()),
                );
                async { Ok::<(), std::convert::Infallible>(()) }
            }),
        )
        .await;
        match outcome {
            Ok(result) => {
                result.map_err(|e| format!("processing failed: {e}"))?;
            }
            Err(_) => return Err("no record within 30 s".into()),
        }
        read += 1;
    }
    println!("read all {RECORDS} records; offsets committed for group 'quickstart'");
    consumer.close().await?;

    if let Some(broker) = broker {
        broker.shutdown().await;
    }
    Ok(())
}
