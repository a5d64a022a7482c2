//! The producer: [`Producer::send`] a [`ProducerRecord`], get a [`DeliveryFuture`].
//!
//! Records go into per-partition batches (`accumulator.rs`) on the caller's task; one sender
//! task per producer (`sender.rs`) turns ready batches into Produce requests, one per broker,
//! pipelined, and settles each batch. With idempotence (the default) each batch carries the
//! producer id and per-partition sequence numbers (`sequence.rs`), so retries after a
//! disconnect neither duplicate nor reorder records.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrokafka::Error> {
//! use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
//!
//! let producer = Producer::connect(ProducerConfig::new("localhost:9092")?).await?;
//! let delivery = producer
//!     .send(ProducerRecord::new("events").key("user-1").value("hello"))
//!     .await?;
//! let metadata = delivery.await?;
//! println!("written to partition {} at {:?}", metadata.partition, metadata.offset);
//! producer.close().await?;
//! # Ok(()) }
//! ```
//!
//! Lifecycle: a `Producer` is a cheap handle; clones share one sender. [`Producer::flush`]
//! waits for everything sent so far; [`Producer::close`] stops accepting records, drains
//! what is queued and stops. Dropping the last handle closes in the background (queued
//! records are still delivered while the runtime runs).
//!
//! Transactions are a separate type on the same settings and the same accumulator and sender:
//! [`crate::TransactionalProducer`].
//!
//! What not: custom partitioners, serializers, interceptors, metrics.

mod accumulator;
pub mod config;
mod delivery;
mod record;
mod sender;
mod sequence;
pub(crate) mod txn_link;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use config::{Acks, ProducerConfig, ProducerConfigBuilder};
pub use delivery::DeliveryFuture;
// Named by public signatures here (`ProducerConfigBuilder::compression`, the `compression`
// field and its `FromStr`, `ProducerRecord::headers`): users must not need a second crate.
pub use ferrokafka_protocol::record::{Compression, Header, ParseCompressionError};
pub use record::{IntoTopic, ProducerRecord, RecordMetadata};

use accumulator::{now_ms, Accumulator, NeedsMetadata, Pending};
use ferrokafka_protocol::record::RECORD_BATCH_OVERHEAD;
use ferrokafka_protocol::ErrorCode;

use crate::client::Client;
use crate::error::Error;

/// What the handles and the sender task share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ProducerConfig,
    pub(crate) client: Client,
    pub(crate) accumulator: Accumulator,
    /// Set for the producer under a [`crate::TransactionalProducer`].
    pub(crate) txn: Option<Arc<txn_link::TxnLink>>,
    fatal: Mutex<Option<Arc<Error>>>,
    /// `fatal` is set: checked on every `send` without taking the lock.
    failed: std::sync::atomic::AtomicBool,
    /// Set by the sender task when it has stopped.
    pub(crate) stopped: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn fatal(&self) -> Option<Arc<Error>> {
        if !self.failed.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The producer cannot go on: every record fails with `err` from now on.
    pub(crate) fn set_fatal(&self, err: Arc<Error>) {
        tracing::warn!(%err, "producer failed fatally");
        self.fail_all(err);
    }

    /// Every record not yet settled, and every later one, fails with `err`: the sender
    /// stops sending and fails what it holds (`Sender::fail_everything`).
    fn fail_all(&self, err: Arc<Error>) {
        let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if fatal.is_none() {
            *fatal = Some(err);
        }
        drop(fatal);
        self.failed
            .store(true, std::sync::atomic::Ordering::Release);
        self.accumulator.wake.notify_one();
    }
}

/// Closes when the last [`Producer`] handle goes.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.accumulator.begin_close();
    }
}

/// A Kafka producer. Cheap to clone; clones share batches, connections and the sender.
#[derive(Debug, Clone)]
pub struct Producer {
    handle: Arc<Handle>,
}

impl Producer {
    /// Validates `config`, connects (bootstrap and metadata) and starts the sender task.
    /// The producer id (idempotence) is fetched when the first batch is ready.
    ///
    /// Cancel-safe: dropped before it resolves, nothing is left running.
    pub async fn connect(config: ProducerConfig) -> Result<Producer, Error> {
        Producer::start(config, None).await
    }

    /// [`Producer::connect`], for a transactional producer's records when `txn` is set.
    pub(crate) async fn start(
        config: ProducerConfig,
        txn: Option<Arc<txn_link::TxnLink>>,
    ) -> Result<Producer, Error> {
        config.validate()?;
        // Two connection slots beyond the Produce limit, for Metadata and InitProducerId, so
        // neither waits behind Produce requests and the sender's requests go out in order.
        let mut client_config = config.client.clone();
        client_config.max_in_flight_per_connection =
            client_config.max_in_flight_per_connection.saturating_add(2);
        let client = Client::connect(client_config).await?;
        // Java's producer always asks; `allow.auto.create.topics` lets one opt out.
        client.allow_auto_create_topics(config.allow_auto_create_topics);
        let shared = Arc::new(Shared {
            accumulator: Accumulator::new(&config),
            config,
            client,
            txn,
            fatal: Mutex::new(None),
            failed: std::sync::atomic::AtomicBool::new(false),
            stopped: watch::channel(false).0,
        });
        tokio::spawn(sender::Sender::new(Arc::clone(&shared)).run());
        Ok(Producer {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// The settings this producer runs with.
    pub fn config(&self) -> &ProducerConfig {
        &self.handle.shared.config
    }

    /// The client under this producer (metadata, connections).
    pub fn client(&self) -> &Client {
        &self.handle.shared.client
    }

    /// The error that stopped this producer, if one did.
    pub(crate) fn fatal_error(&self) -> Option<Arc<Error>> {
        self.handle.shared.fatal()
    }

    /// Wakes the sender to look at its transaction link again.
    pub(crate) fn wake_sender(&self) {
        self.handle.shared.accumulator.wake.notify_one();
    }

    /// Appends `record` to its partition's batch and returns at once with a future for its
    /// outcome; the record is sent whether or not the future is awaited.
    ///
    /// Waits only when it must, bounded together by `max.block.ms`: for room in
    /// `buffer.memory` (backpressure: the sender has not caught up), and for the topic's
    /// metadata the first time a topic is used.
    ///
    /// Errors here mean the record was not taken (and not written): the producer is closed
    /// or failed, the record is larger than `max.request.size` or `buffer.memory`, or the
    /// wait ran out ([`Error::Timeout`]).
    ///
    /// Cancel-safe: dropped before it resolves, the record was not taken.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, Error> {
        let shared = &self.handle.shared;
        if shared.accumulator.closing() {
            return Err(Error::Closed);
        }
        if let Some(fatal) = shared.fatal() {
            return Err(Error::NotDelivered {
                topic: record.topic.to_string(),
                partition: record.partition,
                may_be_written: false,
                cause: fatal,
            });
        }
        let size = record.size_upper_bound();
        let config = &shared.config;
        if size.saturating_add(RECORD_BATCH_OVERHEAD) > config.max_request_size
            || size > config.buffer_memory
        {
            return Err(Error::Kafka {
                code: ErrorCode::MESSAGE_TOO_LARGE,
                message: Some(format!(
                    "the record is {size} bytes when encoded, more than max.request.size \
                     ({}) or buffer.memory ({}) allows",
                    config.max_request_size, config.buffer_memory
                )),
                topic: Some(record.topic.to_string()),
                partition: record.partition,
            });
        }
        // The clock is only read when something has to wait.
        let (reservation, mut deadline) =
            shared.accumulator.reserve(size, config.max_block).await?;
        let ProducerRecord {
            topic,
            partition,
            key,
            value,
            headers,
            timestamp,
        } = record;
        let mut pending = Pending {
            partition,
            key,
            value,
            headers,
            timestamp: timestamp.unwrap_or_else(now_ms),
            reserved: size,
        };
        loop {
            let Some(_appending) = shared.accumulator.begin_append() else {
                return Err(Error::Closed);
            };
            match shared.accumulator.append(&topic, &mut pending)? {
                Ok(future) => {
                    reservation.commit();
                    return Ok(future);
                }
                Err(needs) => {
                    drop(_appending);
                    let until = *deadline.get_or_insert_with(|| Instant::now() + config.max_block);
                    self.await_metadata(&topic, needs, until).await?
                }
            }
        }
    }

    /// Fetches metadata until `topic` (and the partition asked for) is known, or `deadline`.
    async fn await_metadata(
        &self,
        topic: &str,
        needs: NeedsMetadata,
        deadline: Instant,
    ) -> Result<(), Error> {
        let shared = &self.handle.shared;
        let client = &shared.client;
        let timed_out = || Error::Timeout {
            operation: match needs {
                NeedsMetadata::Topic => format!("waiting for metadata of topic {topic}"),
                NeedsMetadata::Partition(p, n) => format!(
                    "waiting for partition {p} of topic {topic} (metadata knows {n} partitions)"
                ),
            },
            after: shared.config.max_block,
            last_error: None,
        };
        loop {
            let cluster = tokio::time::timeout_at(deadline, client.metadata(&[topic]))
                .await
                .map_err(|_| timed_out())??;
            if let Some(info) = cluster.topics.get(topic) {
                if info.error.is_ok() && !info.partitions.is_empty() {
                    shared.accumulator.update_topic(info);
                    let fits = match needs {
                        NeedsMetadata::Partition(p, _) => info.partitions.contains_key(&p),
                        NeedsMetadata::Topic => true,
                    };
                    if fits {
                        return Ok(());
                    }
                } else if !info.error.is_ok()
                    && !info.error.is_retriable()
                    && info.error != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                {
                    return Err(Error::Kafka {
                        code: info.error,
                        message: None,
                        topic: Some(topic.to_owned()),
                        partition: None,
                    });
                }
            }
            let pause = Instant::now() + shared.config.retry_backoff;
            if pause >= deadline {
                return Err(timed_out());
            }
            tokio::time::sleep_until(pause).await;
        }
    }

    /// Sends everything queued now, without waiting for `linger.ms`, and waits until every
    /// record sent before the call has an outcome. Records sent meanwhile are sent too, but
    /// not waited for.
    ///
    /// Cancel-safe: dropping it only stops the waiting.
    pub async fn flush(&self) {
        let accumulator = &self.handle.shared.accumulator;
        let _flushing = accumulator.begin_flush();
        for done in accumulator.incomplete() {
            done.await;
        }
    }

    /// Stops accepting records (`send` fails with [`Error::Closed`]), delivers what is queued
    /// (bounded by `delivery.timeout.ms`), then stops the sender and closes the connections.
    /// Calling it again, or on a clone, waits for the same end.
    ///
    /// `Ok` once everything has an outcome: records that failed (delivery timeout, a refusal)
    /// report it on their [`DeliveryFuture`]s. `Err` with the producer's fatal error when it
    /// failed fatally (fenced, not authorized), or after a [`close_timeout`](Self::close_timeout)
    /// ran out.
    ///
    /// Cancel-safe: dropped, the producer still closes in the background.
    pub async fn close(&self) -> Result<(), Error> {
        self.close_within(None).await
    }

    /// [`close`](Self::close), waiting at most `timeout` for queued and in-flight records
    /// (Java's `close(Duration)`). When it runs out, those records fail (their
    /// [`DeliveryFuture`]s get [`Error::NotDelivered`] with this timeout as the cause; one
    /// in flight may have been written anyway) and the result is [`Error::Timeout`].
    /// `Duration::ZERO` fails everything not yet delivered at once.
    ///
    /// Cancel-safe: dropped before the timeout, the producer still closes in the background,
    /// without a deadline.
    pub async fn close_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.close_within(Some(timeout)).await
    }

    async fn close_within(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let shared = &self.handle.shared;
        shared.accumulator.begin_close();
        // The sender lives in `shared`, which we hold: this ends when it says so.
        let stopped = || async {
            let _ = shared
                .stopped
                .subscribe()
                .wait_for(|stopped| *stopped)
                .await;
        };
        if let Some(after) = timeout {
            let in_time = tokio::time::timeout(after, stopped()).await.is_ok();
            if !in_time && !shared.accumulator.incomplete().is_empty() {
                let timed_out = || Error::Timeout {
                    operation: "closing the producer (records still queued or in flight were \
                                failed)"
                        .to_owned(),
                    after,
                    last_error: None,
                };
                tracing::warn!(?after, "producer close timed out; failing the rest");
                shared.fail_all(Arc::new(timed_out()));
                stopped().await;
                return Err(timed_out());
            }
        }
        // No deadline, or nothing left to deliver at it (the sender is only stopping).
        stopped().await;
        shared.fatal().map_or(Ok(()), |err| Err(Error::Shared(err)))
    }
}
