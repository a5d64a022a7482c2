//! Transactions (KIP-98, classic protocol): [`TransactionalProducer`] and its
//! [`Transaction`] guard.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrokafka::transaction::TxnError> {
//! use ferrokafka::{ProducerConfig, ProducerRecord, TransactionalProducer};
//!
//! let config = ProducerConfig::builder()
//!     .bootstrap_servers(["localhost:9092"])
//!     .transactional_id("orders-pipeline-1")
//!     .build()?;
//! let mut producer = TransactionalProducer::connect(config).await?;
//! producer.init_transactions().await?;
//! let mut txn = producer.begin().await?;
//! txn.send(ProducerRecord::new("orders").key("o-1").value("paid")).await?;
//! txn.commit().await?;
//! # Ok(()) }
//! ```
//!
//! How: the producer finds its transaction coordinator (FindCoordinator, key type 1) and gets
//! a producer id and epoch for its `transactional.id` (InitProducerId, which also fences any
//! older producer with the same id). Records are buffered per partition inside the
//! transaction; before a partition's first batch goes out it is added to the transaction
//! (AddPartitionsToTxn v3, the client form). Batches carry the transactional flag and
//! per-partition sequence numbers, are sent one request per leader and retried with the same
//! sequence on retriable errors, so a retry is never written twice. `commit` sends what is
//! buffered and then EndTxn(commit); `abort` drops the buffer and sends EndTxn(abort).
//! Consumer offsets join the transaction with [`Transaction::send_offsets`]
//! (AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator with the member's
//! generation, member id and instance id, KIP-447): they are applied only if it commits.
//!
//! Errors are [`TxnError`]: `Fatal` (fenced by a newer producer with the same id, not
//! authorized, unsupported) leaves the producer unusable — every later call returns the same
//! error; `Abortable` (any other failure inside a transaction, TRANSACTION_ABORTABLE
//! included) leaves only [`Transaction::abort`] (a failed `commit` aborts by itself). After
//! an abort caused by an error the producer bumps its epoch (KIP-360) so that sequence
//! numbers start over cleanly.
//!
//! Cancellation: dropping a `send`, `send_offsets` or `commit` future half-way leaves the
//! transaction in doubt (something may have reached the broker), so it can then only be
//! aborted (`Abortable`), and the abort takes a new epoch. `abort` may be dropped and called
//! again (through `begin`).
//!
//! Dropping a [`Transaction`] without `commit` or `abort` aborts it, best effort: `Drop`
//! cannot wait for the network, so the abort is sent by the next call on the producer
//! (`begin`, `close`); if the process ends first, the coordinator aborts the transaction after
//! `transaction.timeout.ms`.
//!
//! What not: the transaction version 2 protocol (KIP-890; implicit partition adds), a
//! `send` that returns record offsets (they are known at commit), pipelining several
//! requests per broker (one Produce per leader at a time), compression of transactional
//! batches beyond `compression.type`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use ferrokafka_protocol::record::{BatchBuilder, RecordInput};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, GroupId,
    InitProducerIdRequest, ProduceRequest, ProducerId, TopicName, TransactionalId,
    TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::client::{coordinator_gone, Client, CoordinatorType};
use crate::connection::backoff::Backoff;
use crate::consumer::{GroupMetadata, TopicPartition};
use crate::error::Error;
use crate::partitioner::partition_for_key;
use crate::producer::{ProducerConfig, ProducerRecord};
use crate::stall::Stall;

/// AddPartitionsToTxn v4+ is the brokers' batched form; clients use v3 and below.
const ADD_PARTITIONS_MAX_VERSION: i16 = 3;

/// What went wrong in a transactional call, and what is still allowed afterwards.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TxnError {
    /// The producer cannot go on (fenced by a newer instance with the same
    /// `transactional.id`, not authorized, the broker lacks the APIs, closed): every later
    /// call fails with this error. Drop the producer.
    #[error("transactional producer failed fatally: {0}")]
    Fatal(Arc<Error>),
    /// The current transaction cannot commit: only [`Transaction::abort`] is allowed. A
    /// failed [`Transaction::commit`] has already aborted (or will, on the next `begin`).
    #[error("the transaction must be aborted: {0}")]
    Abortable(Arc<Error>),
    /// The call does not fit the producer's state (e.g. `begin` before `init_transactions`);
    /// nothing was sent.
    #[error("{0}")]
    InvalidState(&'static str),
    /// A configuration or setup error before any transaction (bad config, no broker).
    #[error(transparent)]
    Config(Arc<Error>),
}

impl TxnError {
    /// Whether the producer is finished (see [`TxnError::Fatal`]).
    pub fn is_fatal(&self) -> bool {
        matches!(self, TxnError::Fatal(_))
    }

    /// The client error underneath, if any.
    pub fn cause(&self) -> Option<&Error> {
        match self {
            TxnError::Fatal(e) | TxnError::Abortable(e) | TxnError::Config(e) => Some(e),
            TxnError::InvalidState(_) => None,
        }
    }
}

impl From<Error> for TxnError {
    fn from(err: Error) -> Self {
        TxnError::Config(Arc::new(err))
    }
}

/// The producer epoch was refused as stale: fenced by a newer instance, or the coordinator
/// aborted the transaction on its own with a new epoch.
fn epoch_outdated(err: &Error) -> bool {
    matches!(
        err.code(),
        Some(ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED)
    )
}

/// A transactional Produce refused by the partition leader for a stale epoch means the
/// coordinator has aborted the transaction with a new epoch (after `transaction.timeout.ms`):
/// abortable, as for the Java client (KIP-588), with the epoch renewed by the abort. A
/// newer instance is detected there, when the coordinator refuses our epoch for good.
fn produce_error_in_txn(err: Error) -> Error {
    match err {
        Error::Kafka {
            code: ErrorCode::INVALID_PRODUCER_EPOCH,
            message,
            topic,
            partition,
        } => Error::Kafka {
            code: ErrorCode::TRANSACTION_ABORTABLE,
            message: Some(format!(
                "the partition leader refused the producer epoch (INVALID_PRODUCER_EPOCH{}): \
                 the coordinator aborted the transaction",
                message.map(|m| format!(": {m}")).unwrap_or_default()
            )),
            topic,
            partition,
        },
        other => other,
    }
}

/// Errors after which the transactional producer cannot go on: [`Error::is_fatal`] plus the
/// transaction-specific codes the Java client treats as fatal.
fn is_fatal_for_txn(err: &Error) -> bool {
    err.is_fatal()
        || matches!(
            err.code(),
            Some(
                ErrorCode::INVALID_TXN_STATE
                    | ErrorCode::INVALID_TRANSACTION_TIMEOUT
                    | ErrorCode::TRANSACTIONAL_ID_NOT_FOUND
                    | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
            )
        )
}

/// Where the producer stands.
#[derive(Debug, Clone)]
enum Status {
    /// `init_transactions` has not succeeded yet.
    Uninitialized,
    /// No transaction open.
    Ready,
    /// A transaction is open and healthy.
    InTransaction,
    /// The open transaction must be aborted; `bump` when an error left sequence numbers in
    /// doubt, so the abort goes through a new epoch.
    MustAbort {
        cause: Option<Arc<Error>>,
        bump: bool,
    },
    /// Nothing more is possible.
    Fatal(Arc<Error>),
}

/// What a call cut short by cancellation leaves: the transaction's fate on the broker is in
/// doubt (records or offsets may have been written, sequence numbers may be used), so it can
/// only be aborted, with a new epoch.
fn interrupted() -> Status {
    Status::MustAbort {
        cause: Some(Arc::new(Error::InvalidState(
            "a send, send_offsets or commit was cancelled half-way; the transaction must be \
             aborted"
                .into(),
        ))),
        bump: true,
    }
}

/// Records waiting to be sent for one partition.
#[derive(Debug, Default)]
struct PendingBatch {
    records: Vec<RecordInput>,
    bytes: usize,
}

/// A producer whose writes (and consumer offsets) become visible to `read_committed` readers
/// all together or not at all. See the module docs.
#[derive(Debug)]
pub struct TransactionalProducer {
    client: Client,
    config: ProducerConfig,
    transactional_id: String,
    producer: Option<(i64, i16)>,
    coordinator: Option<i32>,
    /// Next sequence number per partition, under `producer`.
    sequences: BTreeMap<TopicPartition, i32>,
    status: Status,
    /// Partitions added to the open transaction.
    added: BTreeSet<TopicPartition>,
    /// Whether AddOffsetsToTxn was sent in the open transaction.
    offsets_added: bool,
    pending: BTreeMap<TopicPartition, PendingBatch>,
    /// Round-robin counter for records without key or partition.
    next_unkeyed: u32,
    /// Retries without progress, for the warn line.
    stall: Stall,
}

impl TransactionalProducer {
    /// Validates `config` (it needs `transactional.id`) and connects. Call
    /// [`init_transactions`](Self::init_transactions) next.
    pub async fn connect(config: ProducerConfig) -> Result<TransactionalProducer, TxnError> {
        config.validate()?;
        let Some(transactional_id) = config.transactional_id.clone() else {
            return Err(Error::invalid_config(
                "transactional.id",
                "",
                "a TransactionalProducer needs a transactional.id",
            )
            .into());
        };
        let client = Client::connect(config.client.clone()).await?;
        Ok(TransactionalProducer {
            client,
            config,
            transactional_id,
            producer: None,
            coordinator: None,
            sequences: BTreeMap::new(),
            status: Status::Uninitialized,
            added: BTreeSet::new(),
            offsets_added: false,
            pending: BTreeMap::new(),
            next_unkeyed: 0,
            stall: Stall::default(),
        })
    }

    /// The settings this producer runs with.
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    /// The client under this producer.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The producer id and epoch, once initialized.
    pub fn producer_id_and_epoch(&self) -> Option<(i64, i16)> {
        self.producer
    }

    /// Registers the `transactional.id` with its coordinator and gets a producer id and
    /// epoch. Any older producer with the same id is fenced, and a transaction it left open
    /// is aborted (completed first if it was committing). Retried while the coordinator is
    /// loading or busy, for up to `max.block.ms`.
    ///
    /// Not cancel-safe in effect: dropped half-way, the epoch may have been bumped; call it
    /// again.
    pub async fn init_transactions(&mut self) -> Result<(), TxnError> {
        if let Status::Fatal(e) = &self.status {
            return Err(TxnError::Fatal(Arc::clone(e)));
        }
        match self.init_producer_id(None).await {
            Ok(()) => Ok(()),
            Err(err) if is_fatal_for_txn(&err) => Err(self.fail(err)),
            Err(err) => Err(TxnError::Config(Arc::new(err))),
        }
    }

    /// Starts a transaction. A transaction left by a dropped guard (or a failed commit) is
    /// aborted first.
    pub async fn begin(&mut self) -> Result<Transaction<'_>, TxnError> {
        self.settle().await?;
        match self.status {
            Status::Ready => {}
            Status::Uninitialized => {
                return Err(TxnError::InvalidState(
                    "call init_transactions before begin",
                ))
            }
            _ => return Err(TxnError::InvalidState("a transaction is already open")),
        }
        self.status = Status::InTransaction;
        Ok(Transaction {
            producer: self,
            done: false,
        })
    }

    /// Aborts whatever a dropped guard left open, and closes the connections.
    pub async fn close(mut self) {
        let _ = self.settle().await;
        self.client.close().await;
    }

    /// Brings a transaction that must be aborted to its end; `Ok` when the producer is ready
    /// (or uninitialized).
    async fn settle(&mut self) -> Result<(), TxnError> {
        match self.status.clone() {
            Status::Fatal(e) => Err(TxnError::Fatal(e)),
            Status::MustAbort { bump, .. } => self.abort_now(bump).await,
            // A guard dropped while healthy becomes MustAbort in Drop; this is unreachable
            // unless a guard is still alive, which the borrow forbids.
            Status::InTransaction => self.abort_now(false).await,
            Status::Ready | Status::Uninitialized => Ok(()),
        }
    }

    fn fail(&mut self, err: Error) -> TxnError {
        let err = Arc::new(err);
        tracing::warn!(%err, id = %self.transactional_id, "transactional producer failed fatally");
        self.status = Status::Fatal(Arc::clone(&err));
        self.pending.clear();
        TxnError::Fatal(err)
    }

    /// An error inside a transaction: fatal, or the transaction must now be aborted.
    fn fail_txn(&mut self, err: Error, bump: bool) -> TxnError {
        if is_fatal_for_txn(&err) {
            return self.fail(err);
        }
        let err = Arc::new(err);
        tracing::info!(%err, id = %self.transactional_id, "transaction must be aborted");
        self.status = Status::MustAbort {
            cause: Some(Arc::clone(&err)),
            bump,
        };
        self.pending.clear();
        TxnError::Abortable(err)
    }

    /// Checks that the open transaction may go on.
    fn check_open(&self) -> Result<(), TxnError> {
        match &self.status {
            Status::InTransaction => Ok(()),
            Status::Fatal(e) => Err(TxnError::Fatal(Arc::clone(e))),
            Status::MustAbort { cause: Some(e), .. } => Err(TxnError::Abortable(Arc::clone(e))),
            _ => Err(TxnError::InvalidState("no transaction is open")),
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.config.max_block
    }

    /// Waits the retry backoff for `attempt` (`retry.backoff.ms` doubling up to
    /// `retry.backoff.max.ms`) unless that passes `deadline`; then `err` is returned. A
    /// producer that keeps failing for a while says so once at warn.
    async fn backoff(&mut self, attempt: u32, deadline: Instant, err: Error) -> Result<(), Error> {
        self.stall.failed(
            format_args!("for transactional.id {}", self.transactional_id),
            &err,
        );
        let wait =
            Backoff::new(self.config.retry_backoff, self.config.retry_backoff_max).delay(attempt);
        let until = Instant::now() + wait;
        if until >= deadline {
            return Err(err);
        }
        tokio::time::sleep_until(until).await;
        Ok(())
    }

    async fn txn_coordinator(&mut self) -> Result<i32, Error> {
        if let Some(node) = self.coordinator {
            return Ok(node);
        }
        let node = self
            .client
            .find_coordinator(CoordinatorType::Transaction, &self.transactional_id)
            .await?
            .node_id;
        self.coordinator = Some(node);
        Ok(node)
    }

    /// Sends one request to the transaction coordinator, built by `build` at the version,
    /// and reads its error code with `code`; retried on retriable errors (coordinator lookup
    /// again when it moved) until `max.block.ms`.
    async fn call_coordinator<R, B, C>(
        &mut self,
        max: i16,
        build: B,
        code: C,
    ) -> Result<R::Response, Error>
    where
        R: kafka_protocol::protocol::Request,
        B: Fn(i16) -> R,
        C: Fn(&R::Response) -> Result<(), Error>,
    {
        let deadline = self.deadline();
        let mut attempt = 0;
        loop {
            let result = async {
                let node = self.txn_coordinator().await?;
                let conn = self.client.connection(node).await?;
                let response = conn.send_capped(max, &build).await?;
                code(&response)?;
                Ok::<_, Error>(response)
            }
            .await;
            let err = match result {
                Ok(response) => return Ok(response),
                Err(err) => err,
            };
            if coordinator_gone(&err) {
                self.coordinator = None;
            }
            if !err.is_retriable() {
                return Err(err);
            }
            self.backoff(attempt, deadline, err).await?;
            attempt += 1;
        }
    }

    /// InitProducerId; with `current` (our id and epoch) it is a KIP-360 bump, which also
    /// aborts an open transaction.
    async fn init_producer_id(&mut self, current: Option<(i64, i16)>) -> Result<(), Error> {
        let (pid, epoch) = current.unwrap_or((-1, -1));
        let id = self.transactional_id.clone();
        let timeout_ms =
            i32::try_from(self.config.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
        let response = self
            .call_coordinator(
                i16::MAX,
                |version| {
                    let req = InitProducerIdRequest::default()
                        .with_transactional_id(Some(TransactionalId(StrBytes::from_string(
                            id.clone(),
                        ))))
                        .with_transaction_timeout_ms(timeout_ms);
                    if version >= 3 {
                        req.with_producer_id(ProducerId(pid))
                            .with_producer_epoch(epoch)
                    } else {
                        req
                    }
                },
                |r| Error::check(r.error_code, None),
            )
            .await?;
        self.producer = Some((response.producer_id.0, response.producer_epoch));
        self.sequences.clear();
        self.added.clear();
        self.offsets_added = false;
        self.pending.clear();
        self.status = Status::Ready;
        tracing::debug!(id = %self.transactional_id, pid = response.producer_id.0, epoch = response.producer_epoch, "producer id");
        Ok(())
    }

    /// Ends the open transaction with an abort (EndTxn, when anything was added to it);
    /// `bump` then takes a new epoch (KIP-360, as the Java client does after an error), so
    /// that sequence numbers in doubt start over.
    async fn abort_now(&mut self, bump: bool) -> Result<(), TxnError> {
        self.pending.clear();
        let started = !self.added.is_empty() || self.offsets_added;
        let ended = if started {
            self.end_txn(false).await
        } else {
            Ok(())
        };
        let result = match ended {
            Ok(()) if bump => self.init_producer_id(self.producer).await,
            Ok(()) => Ok(()),
            // The coordinator aborted the transaction itself with a new epoch (it timed out,
            // typically while the coordinator moved), so our epoch is stale. InitProducerId
            // with our id and epoch lets the coordinator tell that case (KIP-588: it knows our
            // epoch as the one before its own) from a newer instance of the same
            // transactional id, which it answers with PRODUCER_FENCED: fatal below.
            Err(err) if bump && epoch_outdated(&err) => {
                tracing::info!(%err, id = %self.transactional_id, "abort with a stale epoch; asking for a new one");
                self.init_producer_id(self.producer).await
            }
            Err(err) if err.is_fatal() => Err(err),
            // The coordinator is unsure of this transaction, or it already ended (a commit
            // cut short may have gone through: INVALID_TXN_STATE): starting over as a new
            // instance of the same transactional id ends it either way.
            Err(_) => self.init_producer_id(None).await,
        };
        match result {
            Ok(()) => {
                self.added.clear();
                self.offsets_added = false;
                self.status = Status::Ready;
                Ok(())
            }
            Err(err) if is_fatal_for_txn(&err) => Err(self.fail(err)),
            Err(err) => {
                let err = Arc::new(err);
                self.status = Status::MustAbort {
                    cause: Some(Arc::clone(&err)),
                    bump: true,
                };
                Err(TxnError::Abortable(err))
            }
        }
    }

    async fn end_txn(&mut self, commit: bool) -> Result<(), Error> {
        let (pid, epoch) = self.producer.unwrap_or((-1, -1));
        let id = self.transactional_id.clone();
        self.call_coordinator(
            4,
            |_| {
                EndTxnRequest::default()
                    .with_transactional_id(TransactionalId(StrBytes::from_string(id.clone())))
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_committed(commit)
            },
            |r| Error::check(r.error_code, None),
        )
        .await?;
        Ok(())
    }

    /// Chooses the partition of `record`: explicit, by key (murmur2, as Java), or round robin.
    async fn partition_of(&mut self, record: &ProducerRecord) -> Result<i32, Error> {
        if let Some(p) = record.partition {
            return Ok(p);
        }
        let mut cluster = self.client.cluster();
        if !cluster.topics.contains_key(&*record.topic) {
            cluster = self.client.metadata(&[&record.topic]).await?;
        }
        let count = cluster
            .topics
            .get(&*record.topic)
            .map_or(0, |t| t.partitions.len());
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        if count == 0 {
            return Err(Error::Kafka {
                code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                message: None,
                topic: Some(record.topic.to_string()),
                partition: None,
            });
        }
        Ok(match &record.key {
            Some(key) => partition_for_key(key, count),
            None => {
                self.next_unkeyed = self.next_unkeyed.wrapping_add(1);
                i32::try_from(self.next_unkeyed % count.unsigned_abs()).unwrap_or(0)
            }
        })
    }

    /// AddPartitionsToTxn for every pending partition not yet in the transaction.
    async fn add_partitions(&mut self) -> Result<(), Error> {
        let new: Vec<TopicPartition> = self
            .pending
            .keys()
            .filter(|tp| !self.added.contains(*tp))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in &new {
            by_topic.entry(&tp.topic).or_default().push(tp.partition);
        }
        let topics: Vec<AddPartitionsToTxnTopic> = by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                    .with_partitions(partitions)
            })
            .collect();
        let (pid, epoch) = self.producer.unwrap_or((-1, -1));
        let id = self.transactional_id.clone();
        self.call_coordinator(
            ADD_PARTITIONS_MAX_VERSION,
            |_| {
                AddPartitionsToTxnRequest::default()
                    .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(
                        id.clone(),
                    )))
                    .with_v3_and_below_producer_id(ProducerId(pid))
                    .with_v3_and_below_producer_epoch(epoch)
                    .with_v3_and_below_topics(topics.clone())
            },
            |r| {
                // OPERATION_NOT_ATTEMPTED marks the partitions that were fine but not added
                // because another one failed: report the one that failed.
                let mut worst = None;
                for t in &r.results_by_topic_v3_and_below {
                    for p in &t.results_by_partition {
                        let code = ErrorCode(p.partition_error_code);
                        if code.is_ok() {
                            continue;
                        }
                        if worst.is_none() || code != ErrorCode::OPERATION_NOT_ATTEMPTED {
                            worst = Some((code, t.name.0.to_string(), p.partition_index));
                        }
                    }
                }
                match worst {
                    Some((code, topic, partition)) => {
                        Error::check_at(code.0, None, Some(&topic), Some(partition))
                    }
                    None => Error::check(r.error_code, None),
                }
            },
        )
        .await?;
        self.added.extend(new);
        Ok(())
    }

    /// Sends every pending batch (adding partitions first), one Produce request per leader,
    /// retrying retriable errors with the same sequence numbers.
    async fn flush_pending(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Until this returns: dropped half-way, the transaction can only be aborted.
        self.status = interrupted();
        self.add_partitions().await?;
        let (pid, epoch) = self.producer.unwrap_or((-1, -1));
        // Build each batch once: retries resend the same bytes (same sequence).
        let mut batches: BTreeMap<TopicPartition, (Bytes, i32)> = BTreeMap::new();
        for (tp, batch) in std::mem::take(&mut self.pending) {
            let count = i32::try_from(batch.records.len()).unwrap_or(i32::MAX);
            let seq = self.sequences.get(&tp).copied().unwrap_or(0);
            let mut builder = BatchBuilder::new()
                .compression(self.config.compression)
                .producer(pid, epoch)
                .base_sequence(seq)
                .transactional(true);
            for record in batch.records {
                builder.push(record).map_err(|e| Error::Encode {
                    api: kafka_protocol::messages::ApiKey::Produce,
                    version: 0,
                    reason: e.to_string(),
                })?;
            }
            let bytes = builder.build().map_err(|e| Error::Encode {
                api: kafka_protocol::messages::ApiKey::Produce,
                version: 0,
                reason: e.to_string(),
            })?;
            batches.insert(tp, (bytes, count));
        }
        let deadline = Instant::now() + self.config.effective_delivery_timeout();
        let mut attempt = 0;
        while !batches.is_empty() {
            let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
            let mut last_err = None;
            for tp in batches.keys() {
                match self.client.leader_for(&tp.topic, tp.partition).await {
                    Ok(node) => by_leader.entry(node).or_default().push(tp.clone()),
                    Err(err) if err.is_retriable() => last_err = Some(err),
                    Err(err) => return Err(err),
                }
            }
            for (node, tps) in by_leader {
                match self.produce_to(node, &tps, &batches).await {
                    Ok(done) => {
                        for tp in done {
                            if let Some((_, count)) = batches.remove(&tp) {
                                let seq = self.sequences.entry(tp).or_insert(0);
                                *seq = next_sequence(*seq, count);
                            }
                        }
                    }
                    Err(err) if err.is_retriable() => last_err = Some(err),
                    Err(err) => return Err(produce_error_in_txn(err)),
                }
            }
            if let Some(err) = last_err {
                if !batches.is_empty() {
                    let _ = self.client.metadata(&[]).await;
                    self.backoff(attempt, deadline, err).await?;
                    attempt += 1;
                }
            }
        }
        self.status = Status::InTransaction;
        Ok(())
    }

    /// One Produce request to `node` with the batches of `tps`; returns the partitions
    /// written. A retriable partition error comes back as `Err` only when nothing else
    /// failed worse.
    async fn produce_to(
        &self,
        node: i32,
        tps: &[TopicPartition],
        batches: &BTreeMap<TopicPartition, (Bytes, i32)>,
    ) -> Result<Vec<TopicPartition>, Error> {
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for tp in tps {
            let Some((bytes, _)) = batches.get(tp) else {
                continue;
            };
            let data = PartitionProduceData::default()
                .with_index(tp.partition)
                .with_records(Some(bytes.clone()));
            match topics.iter_mut().find(|t| t.name.0.as_str() == tp.topic) {
                Some(t) => t.partition_data.push(data),
                None => topics.push(
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(tp.topic.clone())))
                        .with_partition_data(vec![data]),
                ),
            }
        }
        let timeout_ms =
            i32::try_from(self.config.client.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let request = ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_string(
                self.transactional_id.clone(),
            ))))
            .with_acks(-1)
            .with_timeout_ms(timeout_ms)
            .with_topic_data(topics);
        let response = self.client.send_to(node, request).await?;
        let mut done = Vec::new();
        let mut retriable = None;
        for t in &response.responses {
            for p in &t.partition_responses {
                let tp = TopicPartition::new(t.name.0.to_string(), p.index);
                if !tps.contains(&tp) {
                    continue;
                }
                let code = ErrorCode(p.error_code);
                if code.is_ok() || code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                    done.push(tp);
                    continue;
                }
                let err = Error::Kafka {
                    code,
                    message: p.error_message.as_ref().map(|m| m.to_string()),
                    topic: Some(tp.topic.clone()),
                    partition: Some(tp.partition),
                };
                // OUT_OF_ORDER_SEQUENCE is retriable in the table, but for one batch at a
                // time per partition it means the broker lost our state: abort.
                if err.is_retriable() && code != ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER {
                    retriable = Some(err);
                } else {
                    return Err(err);
                }
            }
        }
        if done.is_empty() {
            if let Some(err) = retriable {
                return Err(err);
            }
        }
        Ok(done)
    }

    /// AddOffsetsToTxn, then TxnOffsetCommit to the group's coordinator.
    async fn add_offsets(
        &mut self,
        offsets: Vec<(TopicPartition, i64)>,
        group: &GroupMetadata,
    ) -> Result<(), Error> {
        let (pid, epoch) = self.producer.unwrap_or((-1, -1));
        let id = self.transactional_id.clone();
        let group_id = group.group_id.clone();
        self.call_coordinator(
            i16::MAX,
            |_| {
                AddOffsetsToTxnRequest::default()
                    .with_transactional_id(TransactionalId(StrBytes::from_string(id.clone())))
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_group_id(GroupId(StrBytes::from_string(group_id.clone())))
            },
            |r| Error::check(r.error_code, None),
        )
        .await?;
        self.offsets_added = true;
        let mut by_topic: BTreeMap<String, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, offset) in offsets {
            by_topic.entry(tp.topic).or_default().push(
                TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(offset),
            );
        }
        let topics: Vec<TxnOffsetCommitRequestTopic> = by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                TxnOffsetCommitRequestTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(partitions)
            })
            .collect();
        let deadline = self.deadline();
        let mut attempt = 0;
        let mut node = None;
        loop {
            let result = async {
                let coordinator = match node {
                    Some(n) => n,
                    None => {
                        let n = self
                            .client
                            .find_coordinator(CoordinatorType::Group, &group.group_id)
                            .await?
                            .node_id;
                        node = Some(n);
                        n
                    }
                };
                let conn = self.client.connection(coordinator).await?;
                let response = conn
                    .send_capped(4, |version| {
                        let req = TxnOffsetCommitRequest::default()
                            .with_transactional_id(TransactionalId(StrBytes::from_string(
                                id.clone(),
                            )))
                            .with_group_id(GroupId(StrBytes::from_string(group.group_id.clone())))
                            .with_producer_id(ProducerId(pid))
                            .with_producer_epoch(epoch)
                            .with_topics(topics.clone());
                        if version >= 3 {
                            req.with_generation_id(group.generation)
                                .with_member_id(StrBytes::from_string(group.member_id.clone()))
                                .with_group_instance_id(
                                    group.instance_id.clone().map(StrBytes::from_string),
                                )
                        } else {
                            req
                        }
                    })
                    .await?;
                for t in &response.topics {
                    for p in &t.partitions {
                        Error::check_at(
                            p.error_code,
                            None,
                            Some(t.name.0.as_str()),
                            Some(p.partition_index),
                        )?;
                    }
                }
                Ok::<(), Error>(())
            }
            .await;
            let err = match result {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            if coordinator_gone(&err) {
                node = None;
            }
            if !err.is_retriable() {
                return Err(err);
            }
            self.backoff(attempt, deadline, err).await?;
            attempt += 1;
        }
    }
}

/// An open transaction. `#[must_use]`: end it with [`commit`](Self::commit) or
/// [`abort`](Self::abort); dropped, it is aborted (best effort, see the module docs).
#[must_use = "a transaction that is dropped is aborted; call commit() or abort()"]
#[derive(Debug)]
pub struct Transaction<'a> {
    producer: &'a mut TransactionalProducer,
    done: bool,
}

impl Transaction<'_> {
    /// Adds `record` to the transaction. Records are buffered per partition and sent when a
    /// partition's buffer reaches `batch.size`, and at commit; so an error here may concern
    /// earlier records. On any error but `Fatal` the transaction can only be aborted.
    pub async fn send(&mut self, record: ProducerRecord) -> Result<(), TxnError> {
        let p = &mut *self.producer;
        p.check_open()?;
        let partition = match p.partition_of(&record).await {
            Ok(partition) => partition,
            Err(err) => return Err(p.fail_txn(err, false)),
        };
        let size = record.size_upper_bound();
        let tp = TopicPartition::new(record.topic.to_string(), partition);
        let ProducerRecord {
            key,
            value,
            headers,
            timestamp,
            ..
        } = record;
        let timestamp = timestamp.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        });
        let pending = p.pending.entry(tp).or_default();
        pending.records.push(RecordInput {
            timestamp,
            key,
            value,
            headers,
        });
        pending.bytes = pending.bytes.saturating_add(size);
        let full = pending.bytes >= p.config.batch_size;
        if full {
            if let Err(err) = p.flush_pending().await {
                return Err(p.fail_txn(err, true));
            }
        }
        Ok(())
    }

    /// Sends every buffered record now (adding their partitions to the transaction first),
    /// without ending the transaction. `commit` does this anyway; call it to bound what is
    /// buffered, or to have the records in the log (for `read_uncommitted` readers) before
    /// the transaction ends.
    pub async fn flush(&mut self) -> Result<(), TxnError> {
        let p = &mut *self.producer;
        p.check_open()?;
        if let Err(err) = p.flush_pending().await {
            return Err(p.fail_txn(err, true));
        }
        Ok(())
    }

    /// Adds consumer offsets to the transaction: they are committed for `group` if and only
    /// if the transaction commits. `offsets` are the next offsets to read (last processed +
    /// 1). `group` comes from [`crate::Consumer::group_metadata`]; its generation and member
    /// id let the coordinator refuse offsets from a member that was fenced (KIP-447).
    pub async fn send_offsets<I>(
        &mut self,
        offsets: I,
        group: &GroupMetadata,
    ) -> Result<(), TxnError>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        let p = &mut *self.producer;
        p.check_open()?;
        let offsets: Vec<_> = offsets.into_iter().collect();
        if offsets.is_empty() {
            return Ok(());
        }
        p.status = interrupted();
        if let Err(err) = p.add_offsets(offsets, group).await {
            return Err(p.fail_txn(err, false));
        }
        p.status = Status::InTransaction;
        Ok(())
    }

    /// Sends what is buffered, then commits. On an abortable error the transaction is
    /// aborted before this returns (or, if that fails too, on the next `begin`).
    pub async fn commit(mut self) -> Result<(), TxnError> {
        self.done = true;
        let p = &mut *self.producer;
        p.check_open()?;
        if let Err(err) = p.flush_pending().await {
            let failed = p.fail_txn(err, true);
            if !failed.is_fatal() {
                let _ = p.settle().await;
            }
            return Err(failed);
        }
        if p.added.is_empty() && !p.offsets_added {
            p.status = Status::Ready;
            return Ok(());
        }
        p.status = interrupted();
        match p.end_txn(true).await {
            Ok(()) => {
                p.added.clear();
                p.offsets_added = false;
                p.status = Status::Ready;
                Ok(())
            }
            Err(err) => {
                let failed = p.fail_txn(err, true);
                if !failed.is_fatal() {
                    let _ = p.settle().await;
                }
                Err(failed)
            }
        }
    }

    /// Drops what is buffered and aborts. Allowed after any non-fatal error.
    pub async fn abort(mut self) -> Result<(), TxnError> {
        self.done = true;
        let p = &mut *self.producer;
        match p.status.clone() {
            Status::Fatal(e) => Err(TxnError::Fatal(e)),
            Status::MustAbort { bump, .. } => p.abort_now(bump).await,
            _ => p.abort_now(false).await,
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let p = &mut *self.producer;
        p.pending.clear();
        if let Status::InTransaction = p.status {
            p.status = Status::MustAbort {
                cause: None,
                bump: false,
            };
        }
    }
}

/// `seq + by`, wrapping from `i32::MAX` to 0 as Kafka sequences do.
fn next_sequence(seq: i32, by: i32) -> i32 {
    if seq > i32::MAX - by {
        by - (i32::MAX - seq) - 1
    } else {
        seq + by
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka(code: ErrorCode) -> Error {
        Error::Kafka {
            code,
            message: None,
            topic: None,
            partition: None,
        }
    }

    #[test]
    fn fenced_and_unauthorized_are_fatal_the_rest_abortable() {
        for code in [
            ErrorCode::PRODUCER_FENCED,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            ErrorCode::UNSUPPORTED_VERSION,
            ErrorCode::INVALID_TXN_STATE,
        ] {
            assert!(is_fatal_for_txn(&kafka(code)), "{code:?}");
        }
        for code in [
            ErrorCode::TRANSACTION_ABORTABLE,
            ErrorCode::CONCURRENT_TRANSACTIONS,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ErrorCode::MESSAGE_TOO_LARGE,
        ] {
            assert!(!is_fatal_for_txn(&kafka(code)), "{code:?}");
        }
    }

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(next_sequence(0, 5), 5);
        assert_eq!(next_sequence(i32::MAX, 1), 0);
        assert_eq!(next_sequence(i32::MAX - 1, 3), 1);
    }
}
