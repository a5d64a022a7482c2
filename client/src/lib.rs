//! ferrokafka: an async, pure-Rust Kafka client on tokio.
//!
//! This crate is the client core: [`ClientConfig`] (typed settings that also accept the Java
//! names), [`Client`] (bootstrap, cluster metadata, one pipelined [`Connection`] per broker,
//! typed requests with [`Client::send_to`]) and one [`Error`] type whose
//! [`Error::is_retriable`] decides retries everywhere. The producer and consumer are built on
//! top of it: [`Producer`] (batching, murmur2/sticky partitioning, pipelined sends,
//! idempotence; see [`producer`]) and [`Consumer`] (assignment or group membership, pipelined
//! fetching, commits; see [`consumer`]), with delivery semantics as types in [`semantics`].
//!
//! Read a topic in a group, at least once, a batch at a time:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrokafka::{AtLeastOnce, Batches, Consumer, ConsumerConfig};
//!
//! let mut consumer = Consumer::new(
//!     ConsumerConfig::builder()
//!         .bootstrap_servers(["localhost:9092"])
//!         .group_id("billing")
//!         .enable_auto_commit(false)
//!         .build()?,
//! )
//! .await?;
//! consumer.subscribe(["invoices"])?;
//! // Each batch's offsets are committed after the handler finished it, in the background; a
//! // crash re-delivers what was handled since the last commit, never loses a record.
//! consumer
//!     .process_batches(Batches::new(AtLeastOnce), |records| async move {
//!         for record in records {
//!             println!("{}@{}", record.partition, record.offset);
//!         }
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The client underneath, for one request by hand:
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrokafka::Error> {
//! use ferrokafka::{Client, ClientConfig};
//!
//! let client = Client::connect(ClientConfig::new("localhost:9092")?).await?;
//! let leader = client.leader_for("events", 0).await?;
//! println!("partition 0 of events is led by broker {leader}");
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! Transactions: [`TransactionalProducer`] (see [`transaction`]), `read_committed` consumers,
//! and exactly-once consume-transform-produce in [`semantics`].
//!
//! Clusters: see the README's "Talking to a cluster" (least-loaded routing, coordinator
//! moves, KIP-320 position validation, KIP-392 rack-aware fetching).
//!
//! Secured clusters: `security.protocol` SSL, SASL_PLAINTEXT or SASL_SSL with PLAIN,
//! SCRAM-SHA-256/512 or OAUTHBEARER, set by the Java and librdkafka key names; see [`security`].

// Network input must never panic: no unwrap, expect, panic or unchecked indexing outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod admin;
mod client;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod metadata;
pub mod partitioner;
pub mod producer;
pub mod security;
pub mod semantics;
mod stall;
pub mod transaction;

pub use admin::Admin;
pub use client::{Client, CoordinatorType, NewTopic};
pub use config::{ClientConfig, ClientConfigBuilder};
pub use connection::{Connection, NegotiatedVersions};
pub use consumer::{
    AssignmentStrategy, AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRecord, Header,
    IsolationLevel, RebalanceListener, TimestampType, TopicPartition,
};
pub use error::Error;
pub use ferrokafka_protocol::ErrorCode;
pub use kafka_protocol;
pub use metadata::{Broker, Cluster, PartitionInfo, TopicInfo};
pub use partitioner::Partitioner;
pub use producer::{
    Acks, Compression, DeliveryFuture, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
pub use security::{
    Mechanism, OAuthBearerToken, OAuthBearerTokenProvider, Secret, SecurityConfig, SecurityProtocol,
};
pub use semantics::{AtLeastOnce, AtMostOnce, AutoCommit, Batches, ExactlyOnce, ProcessError};
pub use transaction::{Transaction, TransactionalProducer, TxnError};
