//! Exactly-once consume-transform-produce, end to end on the embedded mini-broker: write some
//! orders to `orders`, run an `ExactlyOnce` pipeline that turns each into an invoice on
//! `invoices` (one transaction per poll batch, consumed offsets committed in it), make one
//! batch fail on purpose (it is aborted and comes again), then read `invoices` with
//! `read_committed`: one invoice per order, none twice.
//!
//! What it does not show: side effects outside Kafka. Anything the transform does elsewhere
//! (a database write, an e-mail) runs again when a batch is retried; only what goes through
//! the transaction is exactly once.
//!
//! Run: `cargo run -p ferrokafka-examples --bin exactly_once`

use std::collections::BTreeMap;
use std::time::Duration;

use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AutoOffsetReset, Client, ClientConfig, Consumer, ConsumerConfig, ExactlyOnce, IsolationLevel,
    NewTopic, ProcessError, Producer, ProducerConfig, ProducerRecord, TransactionalProducer,
};
use ferrokafka_mini_broker::MiniBroker;

const ORDERS: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = MiniBroker::start().await?;
    let bootstrap = broker.bootstrap();
    println!("embedded mini-broker at {bootstrap}");

    let client = Client::connect(ClientConfig::new(&bootstrap)?).await?;
    for topic in ["orders", "invoices"] {
        for (name, result) in client
            .create_topics(&[NewTopic::new(topic).partitions(2)])
            .await?
        {
            result.map_err(|e| format!("create {name}: {e}"))?;
        }
    }
    client.close().await;

    // The input: plain (idempotent) writes.
    let producer = Producer::connect(ProducerConfig::new(&bootstrap)?).await?;
    for i in 0..ORDERS {
        let delivery = producer
            .send(
                ProducerRecord::new("orders")
                    .key(format!("order-{i}"))
                    .value(format!("{}", i * 10)),
            )
            .await?;
        delivery.await?;
    }
    producer.close().await?;

    // The pipeline: a group member reading orders, a transactional producer writing invoices.
    let mut consumer = Consumer::new(
        ConsumerConfig::builder()
            .bootstrap_servers([bootstrap.as_str()])
            .group_id("invoicing")
            .enable_auto_commit(false)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(5)
            .build()?,
    )
    .await?;
    consumer.subscribe(["orders"])?;
    let mut config = ProducerConfig::new(&bootstrap)?;
    config.set("transactional.id", "invoicing-1")?;
    let mut invoicer = TransactionalProducer::connect(config).await?;
    let mut eos = ExactlyOnce::new(&mut invoicer);

    let mut failed_once = false;
    let mut done = 0;
    while done < ORDERS {
        let result = consumer
            .process_exactly_once_batch(&mut eos, |order| {
                let key = order.key.clone().unwrap_or_default();
                let amount = String::from_utf8_lossy(order.value.as_deref().unwrap_or_default())
                    .into_owned();
                // Fail the batch holding order-7 once: its transaction is aborted, the
                // consumer rewinds, and the batch is processed again.
                let fail = key.as_ref() == b"order-7" && !failed_once;
                failed_once |= fail;
                async move {
                    if fail {
                        return Err("the invoicing service hiccuped");
                    }
                    Ok(vec![ProducerRecord::new("invoices")
                        .key(key)
                        .value(format!("invoice for {amount}"))])
                }
            })
            .await;
        match result {
            Ok(n) => done += n,
            Err(ProcessError::Handler { offset, error, .. }) => {
                println!("batch aborted at offset {offset} ({error}); it comes again");
            }
            Err(err) => return Err(err.into()),
        }
    }
    println!("processed {done} orders in transactions");

    // Downstream: a read_committed reader sees each invoice once.
    let mut reader = Consumer::new(
        ConsumerConfig::builder()
            .bootstrap_servers([bootstrap.as_str()])
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()?,
    )
    .await?;
    reader.assign([
        TopicPartition::new("invoices", 0),
        TopicPartition::new("invoices", 1),
    ])?;
    let mut invoices: BTreeMap<String, usize> = BTreeMap::new();
    while invoices.values().sum::<usize>() < ORDERS {
        for r in reader.poll(Duration::from_millis(200)).await? {
            let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
            *invoices.entry(key).or_default() += 1;
        }
    }
    let twice = invoices.values().filter(|n| **n > 1).count();
    println!(
        "read_committed: {} invoices for {ORDERS} orders, {twice} duplicated",
        invoices.len()
    );
    invoicer.close().await?;
    consumer.close().await?;
    broker.shutdown().await;
    Ok(())
}
