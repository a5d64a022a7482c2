//! Transactions (KIP-98, and KIP-890's version 2 where the broker finalizes it):
//! [`TransactionalProducer`] and its [`Transaction`] guard.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
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
//! older producer with the same id). Records go through the same accumulator and sender as a
//! [`crate::Producer`]'s (`linger.ms`, `batch.size`, the configured partitioner, up to
//! `max.in.flight.requests.per.connection` batches per partition with idempotent ordering);
//! the batches carry the transactional flag. `commit` flushes and then sends
//! EndTxn(commit); `abort` fails what is still queued, waits for what is in flight, and sends
//! EndTxn(abort). Consumer offsets join the transaction with [`Transaction::send_offsets`]
//! (TxnOffsetCommit to the group coordinator with the member's generation, member id and
//! instance id, KIP-447): they are applied only if it commits.
//!
//! Two protocol versions, chosen at `init_transactions` from the coordinator's finalized
//! `transaction.version` feature, as the Java client does:
//! - **version 2** (KIP-890, the default of Kafka 4.x): partitions join the transaction with
//!   their first Produce (v12), offsets with TxnOffsetCommit v5 (no AddOffsetsToTxn), and
//!   every EndTxn (v5) bumps the epoch and returns it, so each transaction runs under its own
//!   epoch and sequences start from 0.
//! - **version 1** (older brokers, or a broker with `transaction.version` < 2): the sender
//!   adds each partition with AddPartitionsToTxn before its first batch (one request for all
//!   the partitions that came up meanwhile), Produce stays at v11, offsets are added with
//!   AddOffsetsToTxn, and the epoch changes only after an error (KIP-360 bump).
//!
//! Errors are [`TxnError`]: `Fatal` (fenced by a newer producer with the same id, not
//! authorized, unsupported) leaves the producer unusable — every later call returns the same
//! error; `Abortable` (any other failure inside a transaction, TRANSACTION_ABORTABLE
//! included; a batch the partition leader refused for a stale epoch too, as in Java:
//! the abort then finds out whether a newer producer fenced this one) leaves only
//! [`Transaction::abort`] (a failed `commit` aborts by itself). After an abort caused by an
//! error the producer takes a new epoch (version 1: InitProducerId, KIP-360; version 2: the
//! abort's own EndTxn) so that sequence numbers start over cleanly.
//!
//! Cancellation: dropping a `send_offsets` or `commit` future half-way leaves the transaction
//! in doubt (something may have reached the broker), so it can then only be aborted
//! (`Abortable`), and the abort takes a new epoch. `send` is cancel-safe (the record was taken
//! or not). `abort` may be dropped and called again (through `begin`).
//!
//! Dropping a [`Transaction`] without `commit` or `abort` aborts it, best effort: `Drop`
//! cannot wait for the network, so the abort is sent by the next call on the producer
//! (`begin`, `close`); if the process ends first, the coordinator aborts the transaction after
//! `transaction.timeout.ms`.
//!
//! What not: moving from version 1 to 2 while running (the version is chosen at
//! `init_transactions`); two-phase commit (KIP-939).

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, ApiKey, EndTxnRequest, GroupId, InitProducerIdRequest, ProducerId,
    TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::client::{coordinator_gone, Client, CoordinatorType};
use crate::connection::backoff::Backoff;
use crate::consumer::{GroupMetadata, TopicPartition};
use crate::error::Error;
use crate::producer::txn_link::TxnLink;
use crate::producer::{Producer, ProducerConfig, ProducerRecord};
use crate::stall::Stall;

/// EndTxn and TxnOffsetCommit v5 belong to transaction version 2 (KIP-890); version 1 stays
/// below.
const TXN_V1_MAX_VERSION: i16 = 4;

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

/// A setup error, before or outside any transaction.
fn setup(err: Error) -> TxnError {
    TxnError::Config(Arc::new(err))
}

/// The producer epoch was refused as stale: fenced by a newer instance, or the coordinator
/// aborted the transaction on its own with a new epoch.
fn epoch_outdated(err: &Error) -> bool {
    matches!(
        err.code(),
        Some(ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED)
    )
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
            "a send_offsets or commit was cancelled half-way; the transaction must be aborted"
                .into(),
        ))),
        bump: true,
    }
}

/// A producer whose writes (and consumer offsets) become visible to `read_committed` readers
/// all together or not at all. See the module docs.
#[derive(Debug)]
pub struct TransactionalProducer {
    producer: Producer,
    link: Arc<TxnLink>,
    transactional_id: String,
    status: Status,
    /// Whether offsets were added to the open transaction.
    offsets_added: bool,
    /// Retries without progress, for the warn line.
    stall: Stall,
}

impl TransactionalProducer {
    /// Validates `config` (it needs `transactional.id`) and connects. Call
    /// [`init_transactions`](Self::init_transactions) next.
    pub async fn connect(config: ProducerConfig) -> Result<TransactionalProducer, TxnError> {
        config.validate().map_err(setup)?;
        let Some(transactional_id) = config.transactional_id.clone() else {
            return Err(setup(Error::invalid_config(
                "transactional.id",
                "",
                "a TransactionalProducer needs a transactional.id",
            )));
        };
        let link = TxnLink::new(&transactional_id);
        let producer = Producer::start(config, Some(Arc::clone(&link)))
            .await
            .map_err(setup)?;
        Ok(TransactionalProducer {
            producer,
            link,
            transactional_id,
            status: Status::Uninitialized,
            offsets_added: false,
            stall: Stall::default(),
        })
    }

    /// The settings this producer runs with.
    pub fn config(&self) -> &ProducerConfig {
        self.producer.config()
    }

    /// The client under this producer.
    pub fn client(&self) -> &Client {
        self.producer.client()
    }

    /// The producer id and epoch, once initialized.
    pub fn producer_id_and_epoch(&self) -> Option<(i64, i16)> {
        self.link.lock().producer
    }

    /// Whether the transactions run the version 2 protocol (KIP-890), as the coordinator's
    /// finalized `transaction.version` said at `init_transactions`.
    pub fn transaction_version_2(&self) -> bool {
        self.link.lock().v2
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
            Ok(()) => {}
            Err(err) if is_fatal_for_txn(&err) => return Err(self.fail(err)),
            Err(err) => return Err(setup(err)),
        }
        let v2 = match self.txn_coordinator().await {
            Ok(node) => match self.client().connection(node).await {
                Ok(conn) => {
                    let versions = conn.versions();
                    versions
                        .finalized_feature("transaction.version")
                        .unwrap_or(0)
                        >= 2
                        && versions.get(ApiKey::EndTxn).unwrap_or(0) >= 5
                        && versions.get(ApiKey::TxnOffsetCommit).unwrap_or(0) >= 5
                }
                Err(err) => return Err(setup(err)),
            },
            Err(err) => return Err(setup(err)),
        };
        self.link.lock().v2 = v2;
        tracing::debug!(id = %self.transactional_id, v2, "transaction protocol");
        Ok(())
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

    /// Aborts whatever a dropped guard left open, and closes the connections. Returns the
    /// producer's fatal error, or what failed the abort, if any (it closes either way).
    pub async fn close(mut self) -> Result<(), TxnError> {
        let settled = self.settle().await;
        let closed = self.producer.close().await;
        settled?;
        closed.map_err(|err| TxnError::Fatal(Arc::new(err)))
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
        self.link.fail(Arc::clone(&err), false);
        self.producer.wake_sender();
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
        self.link.fail(Arc::clone(&err), bump);
        self.producer.wake_sender();
        TxnError::Abortable(err)
    }

    /// What dooms the open transaction on the sender's side (a batch or an add failed), or
    /// the producer's fatal error.
    fn sender_failure(&self) -> Option<(Error, bool)> {
        if let Some(fatal) = self.producer.fatal_error() {
            return Some((Error::Shared(fatal), false));
        }
        let state = self.link.lock();
        state
            .failure
            .as_ref()
            .map(|f| (Error::Shared(Arc::clone(&f.cause)), f.bump))
    }

    /// Checks that the open transaction may go on.
    fn check_open(&mut self) -> Result<(), TxnError> {
        match &self.status {
            Status::InTransaction => {}
            Status::Fatal(e) => return Err(TxnError::Fatal(Arc::clone(e))),
            Status::MustAbort { cause: Some(e), .. } => {
                return Err(TxnError::Abortable(Arc::clone(e)))
            }
            _ => return Err(TxnError::InvalidState("no transaction is open")),
        }
        match self.sender_failure() {
            Some((err, bump)) => Err(self.fail_txn(err, bump)),
            None => Ok(()),
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.config().max_block
    }

    /// Waits the retry backoff for `attempt` (`retry.backoff.ms` doubling up to
    /// `retry.backoff.max.ms`) unless that passes `deadline`; then `err` is returned. A
    /// producer that keeps failing for a while says so once at warn.
    async fn backoff(&mut self, attempt: u32, deadline: Instant, err: Error) -> Result<(), Error> {
        self.stall.failed(
            format_args!("for transactional.id {}", self.transactional_id),
            &err,
        );
        let config = self.config();
        let wait = Backoff::new(config.retry_backoff, config.retry_backoff_max).delay(attempt);
        let until = Instant::now() + wait;
        if until >= deadline {
            return Err(err);
        }
        tokio::time::sleep_until(until).await;
        Ok(())
    }

    async fn txn_coordinator(&mut self) -> Result<i32, Error> {
        let known = self.link.lock().coordinator;
        if let Some(node) = known {
            return Ok(node);
        }
        let node = self
            .client()
            .find_coordinator(CoordinatorType::Transaction, &self.transactional_id)
            .await?
            .node_id;
        self.link.lock().coordinator = Some(node);
        Ok(node)
    }

    /// The highest version of EndTxn and TxnOffsetCommit to use.
    fn txn_max_version(&self) -> i16 {
        if self.link.lock().v2 {
            i16::MAX
        } else {
            TXN_V1_MAX_VERSION
        }
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
                let conn = self.client().connection(node).await?;
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
                self.link.lock().coordinator = None;
            }
            if !err.is_retriable() {
                return Err(err);
            }
            self.backoff(attempt, deadline, err).await?;
            attempt += 1;
        }
    }

    /// Takes `producer` as the id and epoch of the next batches: the sender renumbers every
    /// partition from 0.
    fn adopt(&mut self, producer: (i64, i16)) {
        self.link.lock().producer = Some(producer);
        self.producer.wake_sender();
    }

    /// InitProducerId; with `current` (our id and epoch) it is a KIP-360 bump, which also
    /// aborts an open transaction.
    async fn init_producer_id(&mut self, current: Option<(i64, i16)>) -> Result<(), Error> {
        let (pid, epoch) = current.unwrap_or((-1, -1));
        let id = self.transactional_id.clone();
        let timeout_ms =
            i32::try_from(self.config().transaction_timeout.as_millis()).unwrap_or(i32::MAX);
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
        self.adopt((response.producer_id.0, response.producer_epoch));
        self.link.next_transaction();
        self.offsets_added = false;
        self.status = Status::Ready;
        tracing::debug!(id = %self.transactional_id, pid = response.producer_id.0, epoch = response.producer_epoch, "producer id");
        Ok(())
    }

    /// Whether the open transaction reached a broker (a partition or offsets were added), so
    /// that it needs an EndTxn.
    fn started(&self) -> bool {
        self.offsets_added || self.link.lock().started
    }

    /// Ends the open transaction with an abort: what is still queued fails, what is in
    /// flight is waited for, then EndTxn (when anything was added); `bump` then takes a new
    /// epoch (KIP-360, as the Java client does after an error) so that sequence numbers in
    /// doubt start over. With transaction version 2 the EndTxn itself gives the new epoch.
    async fn abort_now(&mut self, bump: bool) -> Result<(), TxnError> {
        self.link.lock().aborting = true;
        self.producer.wake_sender();
        self.producer.flush().await;
        let v2 = self.link.lock().v2;
        let bump = bump && !v2;
        let ended = if self.started() {
            self.end_txn(false).await
        } else {
            Ok(())
        };
        let current = self.producer_id_and_epoch();
        let result = match ended {
            Ok(()) if bump => self.init_producer_id(current).await,
            Ok(()) => Ok(()),
            // The coordinator aborted the transaction itself with a new epoch (it timed out,
            // typically while the coordinator moved), so our epoch is stale. InitProducerId
            // with our id and epoch lets the coordinator tell that case (KIP-588: it knows our
            // epoch as the one before its own) from a newer instance of the same
            // transactional id, which it answers with PRODUCER_FENCED: fatal below.
            Err(err) if epoch_outdated(&err) => {
                tracing::info!(%err, id = %self.transactional_id, "abort with a stale epoch; asking for a new one");
                self.init_producer_id(current).await
            }
            Err(err) if err.is_fatal() => Err(err),
            // The coordinator is unsure of this transaction, or it already ended (a commit
            // cut short may have gone through: INVALID_TXN_STATE): starting over as a new
            // instance of the same transactional id ends it either way.
            Err(_) => self.init_producer_id(None).await,
        };
        match result {
            Ok(()) => {
                self.link.next_transaction();
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

    /// EndTxn; with transaction version 2 its answer carries the epoch of the next
    /// transaction, which the producer takes.
    async fn end_txn(&mut self, commit: bool) -> Result<(), Error> {
        let (pid, epoch) = self.producer_id_and_epoch().unwrap_or((-1, -1));
        let id = self.transactional_id.clone();
        let max = self.txn_max_version();
        let response = self
            .call_coordinator(
                max,
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
        if response.producer_id.0 >= 0 && response.producer_epoch >= 0 {
            self.adopt((response.producer_id.0, response.producer_epoch));
        }
        Ok(())
    }

    /// AddOffsetsToTxn (transaction version 1), then TxnOffsetCommit to the group's
    /// coordinator.
    async fn add_offsets(
        &mut self,
        offsets: Vec<(TopicPartition, i64)>,
        group: &GroupMetadata,
    ) -> Result<(), Error> {
        let (pid, epoch) = self.producer_id_and_epoch().unwrap_or((-1, -1));
        let id = self.transactional_id.clone();
        let group_id = group.group_id.clone();
        let max = self.txn_max_version();
        if max == TXN_V1_MAX_VERSION {
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
        }
        // Version 2 adds the offsets with the TxnOffsetCommit itself: from here on the
        // transaction may hold them.
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
                            .client()
                            .find_coordinator(CoordinatorType::Group, &group.group_id)
                            .await?
                            .node_id;
                        node = Some(n);
                        n
                    }
                };
                let conn = self.client().connection(coordinator).await?;
                let response = conn
                    .send_capped(max, |version| {
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
    /// Adds `record` to the transaction: appended to its partition's batch like
    /// [`Producer::send`](crate::Producer::send) (waiting only for `buffer.memory` or the
    /// topic's metadata), sent after `linger.ms` or when the batch is full, and at commit.
    /// Its outcome is known at commit: a record that fails dooms the transaction, and the
    /// next call says so. On any error but `Fatal` the transaction can only be aborted.
    ///
    /// Cancel-safe: dropped before it resolves, the record was not taken.
    pub async fn send(&mut self, record: ProducerRecord) -> Result<(), TxnError> {
        let p = &mut *self.producer;
        p.check_open()?;
        match p.producer.send(record).await {
            Ok(_delivery) => Ok(()),
            Err(err) => Err(p.fail_txn(err, false)),
        }
    }

    /// Sends every buffered record now and waits for their outcome, without ending the
    /// transaction. `commit` does this anyway; call it to have the records in the log (for
    /// `read_uncommitted` readers) before the transaction ends.
    pub async fn flush(&mut self) -> Result<(), TxnError> {
        let p = &mut *self.producer;
        p.check_open()?;
        p.producer.flush().await;
        p.check_open()
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

    /// Sends what is buffered, waits for it, then commits. On an abortable error the
    /// transaction is aborted before this returns (or, if that fails too, on the next
    /// `begin`).
    pub async fn commit(mut self) -> Result<(), TxnError> {
        self.done = true;
        let p = &mut *self.producer;
        p.check_open()?;
        p.status = interrupted();
        p.producer.flush().await;
        if let Some((err, bump)) = p.sender_failure() {
            let failed = p.fail_txn(err, bump);
            if !failed.is_fatal() {
                let _ = p.settle().await;
            }
            return Err(failed);
        }
        if !p.started() {
            p.link.next_transaction();
            p.status = Status::Ready;
            return Ok(());
        }
        match p.end_txn(true).await {
            Ok(()) => {
                p.link.next_transaction();
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

    /// Fails what is still queued and aborts. Allowed after any non-fatal error.
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
        if let Status::InTransaction = p.status {
            p.status = Status::MustAbort {
                cause: None,
                bump: false,
            };
        }
        // Nothing more of it goes out; the next call on the producer sends the abort.
        p.link.lock().aborting = true;
        p.producer.wake_sender();
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
}
