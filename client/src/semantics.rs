//! Delivery semantics as types: which offsets a consumer commits, and when, decides what a
//! crash can do to the records being processed. The fast form works on `poll` batches:
//! [`Consumer::process_batches`] (for ever) and [`Consumer::process_batch`] (one batch), with
//! the discipline and its commit policy in a [`Batches`] value:
//!
//! ```no_run
//! # async fn demo(mut consumer: ferrokafka::Consumer) -> Result<(), Box<dyn std::error::Error>> {
//! use ferrokafka::semantics::{AtLeastOnce, Batches};
//!
//! // Commit after each batch was handled; the commit overlaps the next fetch.
//! consumer
//!     .process_batches(Batches::new(AtLeastOnce), |records| async move {
//!         for r in &records {
//!             println!("{}-{}@{}", r.topic, r.partition, r.offset);
//!         }
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! The per-record form, [`Consumer::process`] and [`Consumer::process_one`], commits once per
//! record and waits for each commit: one round trip per record, for handlers whose every
//! record must be settled before the next is read.
//!
//! | semantics | commits | after a crash | a handler error |
//! |---|---|---|---|
//! | [`AtMostOnce`], per record | `offset + 1` *before* the handler runs | the record being handled is lost, never seen twice | the record is skipped |
//! | [`AtMostOnce`], per batch | the batch's next offsets *before* the handler gets the batch | the rest of the batch being handled is lost (at most `max.poll.records`), never seen twice | the batch is skipped |
//! | [`AtLeastOnce`], per record | `offset + 1` *after* the handler succeeded | the record being handled is handled again, never lost | nothing committed; the consumer seeks back and the record comes again on the next call |
//! | [`AtLeastOnce`], per batch | the batch's next offsets *after* the handler succeeded, per the [`Batches`] policy, in the background | handled again, never lost: the batch in hand and the records handled since the last completed commit started (see below) | nothing committed for the batch; the consumer seeks back to its first offsets and the batch comes again on the next call |
//! | [`AutoCommit`] | the position, every `auto.commit.interval.ms`, inside `recv`/`poll` | see below | the record (batch) is skipped |
//!
//! **At-least-once per batch, what a crash re-delivers**: a commit starts once a batch was
//! handled and the policy says it is due; it runs in the background while the next batches
//! are fetched and handled, one at a time: offsets that come due while a commit runs join the
//! next one, which starts after the batch during which the first completed. So a crash
//! re-delivers the records handled since the last commit that completed had started: the
//! batch in hand, plus, with [`Batches::new`] (every batch), the batches handled during one
//! commit's round trip and the one before it; with [`Batches::commit_every_records`]`(n)`
//! fewer than `n` more records on top; with [`Batches::commit_every`]`(t)` what was handled in
//! the last `t` on top. The handler never waits for a commit. A rebalance can re-deliver the
//! same (the new owner starts from the last commit); [`Batches::commit_pending`] commits what
//! is handled and waits (call it before closing).
//!
//! **Auto-commit's real guarantee** (Java's default, `enable.auto.commit=true`): the
//! position of a partition covers every record *handed out*, and it is committed at the start
//! of a later `recv`/`poll` once the interval has passed. If the application finishes each
//! record before asking for the next (as `process` does), a crash re-delivers up to one
//! interval's worth of records (at least once, with duplicates bounded by time, not by
//! count). If it hands records to other tasks and asks for more before they finish,
//! records still in flight can be committed and then lost in a crash: neither at-least-once
//! nor at-most-once. A rebalance commits the positions of the revoked partitions first
//! (same caveat), and `close` commits everything.
//!
//! Handlers return `()` (they cannot fail) or `Result<(), E>` ([`HandlerOutput`]); a closure
//! that only ever returns `Ok(())` must name its error type (`Ok::<(), MyError>(())`), as
//! any Rust closure must.
//!
//! **Exactly once** ([`ExactlyOnce`], with [`Consumer::process_exactly_once`]) is for
//! consume-transform-produce: the application's transform turns each input record into
//! output records, and per `poll` batch the library runs one transaction of a
//! [`TransactionalProducer`]: begin, send the outputs, add the consumed offsets
//! (`sendOffsetsToTransaction` with [`Consumer::group_metadata`]), commit. Outputs and input
//! offsets become visible together or not at all, so a `read_committed` reader of the output
//! sees each input's outputs exactly once, whatever crashes happen. On any error the
//! transaction is aborted and the consumer rewinds to the batch's first offsets (the last
//! committed ones), so the batch comes again.
//!
//! **Where exactly-once stops**: it covers what is written to Kafka in the transaction and
//! the consumed offsets, nothing else. Side effects of the transform outside Kafka (a
//! database write, an HTTP call, a log line) run again when a batch is retried or a process
//! restarts: they are at-least-once, unless the application stores the consumed offsets
//! together with its results (in the same database transaction) and seeks to them on start.
//! Downstream readers must use `isolation.level=read_committed`; `read_uncommitted` readers
//! also see the outputs of aborted attempts.
//!
//! Rebalances cannot come between a per-record handler and its commit: revocations are only
//! acted on inside `recv`, which `process_one` calls before the handler. A member that lost its
//! partitions while the handler ran (session timeout) gets a commit error that says so
//! (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS); `AtLeastOnce` then goes on,
//! since the new owner re-reads the record, which at-least-once allows.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use tokio::time::Instant;

use crate::consumer::{Consumer, ConsumerRecord, PendingCommit, TopicPartition};
use crate::error::Error;
use crate::producer::ProducerRecord;
use crate::transaction::{TransactionalProducer, TxnError};
use crate::ErrorCode;

mod sealed {
    pub trait Sealed {}
}

/// Which commit discipline [`Consumer::process`] follows. Sealed: the implementors are the
/// types of this module.
pub trait Semantics: sealed::Sealed + Copy + Send {
    #[doc(hidden)]
    const KIND: Kind;
}

#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AtMostOnce,
    AtLeastOnce,
    AutoCommit,
}

/// Commit before handling: a record is never handled twice, but may be lost.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtMostOnce;

/// Commit after handling succeeded: a record is never lost, but may be handled twice.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtLeastOnce;

/// Leave commits to `enable.auto.commit` (see the module docs for what that guarantees).
#[derive(Debug, Clone, Copy, Default)]
pub struct AutoCommit;

impl sealed::Sealed for AtMostOnce {}
impl sealed::Sealed for AtLeastOnce {}
impl sealed::Sealed for AutoCommit {}

impl Semantics for AtMostOnce {
    const KIND: Kind = Kind::AtMostOnce;
}
impl Semantics for AtLeastOnce {
    const KIND: Kind = Kind::AtLeastOnce;
}
impl Semantics for AutoCommit {
    const KIND: Kind = Kind::AutoCommit;
}

/// What a handler returns: `()` when it cannot fail, or `Result<(), E>`.
pub trait HandlerOutput {
    /// The handler's error type (`Infallible` for `()`).
    type Error;
    /// As a `Result`.
    fn into_result(self) -> Result<(), Self::Error>;
}

impl HandlerOutput for () {
    type Error = Infallible;
    fn into_result(self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl<E> HandlerOutput for Result<(), E> {
    type Error = E;
    fn into_result(self) -> Result<(), E> {
        self
    }
}

/// The error type of a handler whose future is `Fut`.
pub type HandlerError<Fut> = <<Fut as Future>::Output as HandlerOutput>::Error;

/// Why processing stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError<E> {
    /// The handler failed on this record (what happens to it depends on the semantics).
    #[error("the handler failed on {topic}-{partition} at offset {offset}: {error}")]
    Handler {
        /// The record's topic.
        topic: String,
        /// The record's partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// The handler's error.
        error: E,
    },
    /// The handler failed on a batch ([`Consumer::process_batch`]); under [`AtLeastOnce`]
    /// the batch comes again, under [`AtMostOnce`] it is skipped.
    #[error("the handler failed on a batch of {records} records: {error}")]
    Batch {
        /// Records in the batch.
        records: usize,
        /// The first offset of each partition in the batch.
        first: BTreeMap<TopicPartition, i64>,
        /// The handler's error.
        error: E,
    },
    /// The consumer failed (fetching, committing, or the group).
    #[error(transparent)]
    Consumer(#[from] Error),
    /// The transaction failed ([`ExactlyOnce`]); it was aborted and the batch will come
    /// again, unless the error is fatal (the producer was fenced, for instance).
    #[error(transparent)]
    Transaction(#[from] TxnError),
}

/// Commit errors that mean the group moved on: the record will be re-read by its new owner.
fn group_moved(err: &Error) -> bool {
    matches!(
        err.code(),
        Some(
            ErrorCode::REBALANCE_IN_PROGRESS
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::UNKNOWN_MEMBER_ID
        )
    )
}

/// Seeks back to a record unless disarmed: a dropped `process_one` under [`AtLeastOnce`]
/// re-delivers the record instead of losing it.
struct SeekBack<'a> {
    consumer: &'a mut Consumer,
    tp: TopicPartition,
    offset: i64,
    armed: bool,
}

impl Drop for SeekBack<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Not assigned any more: then there is nothing to re-deliver here.
            let _ = self.consumer.seek(&self.tp, self.offset);
        }
    }
}

impl Consumer {
    fn check_semantics(&self, kind: Kind) -> Result<(), Error> {
        match kind {
            Kind::AtMostOnce | Kind::AtLeastOnce => {
                if self.config().group_id.is_none() {
                    return Err(Error::invalid_config(
                        "group.id",
                        "",
                        "AtMostOnce and AtLeastOnce commit offsets, which needs a group.id",
                    ));
                }
                if self.config().auto_commit() {
                    return Err(Error::invalid_config(
                        "enable.auto.commit",
                        true,
                        "AtMostOnce and AtLeastOnce commit themselves; auto-commit would \
                         commit on its own schedule and weaken them (set it to false)",
                    ));
                }
            }
            Kind::AutoCommit => {
                if !self.config().auto_commit() {
                    return Err(Error::invalid_config(
                        "enable.auto.commit",
                        false,
                        "AutoCommit needs enable.auto.commit=true and a group.id",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Handles records one after the other with `semantics`, until the handler or the
    /// consumer fails. Cancel-safe in the sense of the semantics: dropped under
    /// [`AtLeastOnce`], the record being handled comes again; under [`AtMostOnce`], it may be
    /// lost.
    pub async fn process<S, F, Fut>(
        &mut self,
        semantics: S,
        mut handler: F,
    ) -> Result<(), ProcessError<HandlerError<Fut>>>
    where
        S: Semantics,
        F: FnMut(ConsumerRecord) -> Fut,
        Fut: Future,
        Fut::Output: HandlerOutput,
    {
        loop {
            self.process_one(semantics, &mut handler).await?;
        }
    }

    /// Receives one record and handles it with `semantics`; returns the record's
    /// `(partition, offset)` once it is done (handled and, per the semantics, committed).
    pub async fn process_one<S, F, Fut>(
        &mut self,
        _semantics: S,
        handler: F,
    ) -> Result<(TopicPartition, i64), ProcessError<HandlerError<Fut>>>
    where
        S: Semantics,
        F: FnOnce(ConsumerRecord) -> Fut,
        Fut: Future,
        Fut::Output: HandlerOutput,
    {
        self.check_semantics(S::KIND)?;
        let record = self.recv().await?;
        let tp = record.topic_partition();
        let offset = record.offset;
        let failed = |error, tp: &TopicPartition| ProcessError::Handler {
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset,
            error,
        };
        match S::KIND {
            Kind::AtMostOnce => {
                if let Err(err) = self
                    .commit_offsets([(tp.clone(), offset.saturating_add(1))])
                    .await
                {
                    // Not committed, so not handled: it comes again.
                    let _ = self.seek(&tp, offset);
                    return Err(err.into());
                }
                handler(record)
                    .await
                    .into_result()
                    .map_err(|e| failed(e, &tp))?;
            }
            Kind::AtLeastOnce => {
                let mut guard = SeekBack {
                    consumer: self,
                    tp: tp.clone(),
                    offset,
                    armed: true,
                };
                // On error the guard seeks back: the record comes again.
                handler(record)
                    .await
                    .into_result()
                    .map_err(|e| failed(e, &tp))?;
                let committed = guard
                    .consumer
                    .commit_offsets([(tp.clone(), offset.saturating_add(1))])
                    .await;
                guard.armed = false;
                match committed {
                    Ok(()) => {}
                    Err(err) if group_moved(&err) => {
                        tracing::info!(%tp, offset, %err, "handled but not committed: the group moved on; the new owner will handle it again");
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            Kind::AutoCommit => {
                handler(record)
                    .await
                    .into_result()
                    .map_err(|e| failed(e, &tp))?;
            }
        }
        Ok((tp, offset))
    }
}

/// When [`AtLeastOnce`] per batch commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommitPolicy {
    EveryBatch,
    EveryRecords(usize),
    Every(Duration),
}

/// Per-batch processing with semantics `S` ([`AtLeastOnce`], [`AtMostOnce`] or
/// [`AutoCommit`]), for [`Consumer::process_batches`] and [`Consumer::process_batch`]. It
/// also carries what is handled and not yet committed, so keep one value per consumer across
/// calls. See the module docs for what a crash can do in each mode.
#[derive(Debug)]
pub struct Batches<S> {
    policy: CommitPolicy,
    poll_timeout: Duration,
    /// Next offsets of handled records not yet in a commit.
    uncommitted: BTreeMap<TopicPartition, i64>,
    /// Records handled since the last commit started.
    handled: usize,
    last_commit: Instant,
    in_flight: Option<PendingCommit>,
    _semantics: PhantomData<S>,
}

impl<S: Semantics> Batches<S> {
    /// `semantics` per batch: [`AtLeastOnce`] commits after every batch (in the background,
    /// see the module docs); `poll` waits up to 100 ms for a batch.
    pub fn new(_semantics: S) -> Self {
        Batches {
            policy: CommitPolicy::EveryBatch,
            poll_timeout: Duration::from_millis(100),
            uncommitted: BTreeMap::new(),
            handled: 0,
            last_commit: Instant::now(),
            in_flight: None,
            _semantics: PhantomData,
        }
    }

    /// How long each `poll` waits for a batch (default 100 ms).
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    /// Whether a commit is due (for [`AtLeastOnce`]).
    fn commit_due(&self) -> bool {
        if self.uncommitted.is_empty() {
            return false;
        }
        match self.policy {
            CommitPolicy::EveryBatch => true,
            CommitPolicy::EveryRecords(n) => self.handled >= n,
            CommitPolicy::Every(t) => self.last_commit.elapsed() >= t,
        }
    }

    /// Waits for the commit under way, if any; a commit refused because the group moved on
    /// is only logged (the new owner re-reads those records, which at-least-once allows).
    async fn settle_in_flight(&mut self) -> Result<(), Error> {
        let Some(pending) = self.in_flight.take() else {
            return Ok(());
        };
        match pending.await {
            Ok(()) => Ok(()),
            Err(err) if group_moved(&err) => {
                tracing::info!(%err, "handled but not committed: the group moved on; the new owner will handle those records again");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Starts a commit of what is handled when the policy says so and no commit is under
    /// way; while one is, the offsets wait and join the next (the handler never waits for a
    /// commit's round trip, which on a real cluster is longer than a batch takes).
    async fn maybe_commit(&mut self, consumer: &Consumer) -> Result<(), Error> {
        if self
            .in_flight
            .as_ref()
            .is_some_and(PendingCommit::is_finished)
        {
            self.settle_in_flight().await?;
        }
        if self.in_flight.is_some() || !self.commit_due() {
            return Ok(());
        }
        let offsets = std::mem::take(&mut self.uncommitted);
        self.handled = 0;
        self.last_commit = Instant::now();
        self.in_flight = Some(consumer.commit_offsets_async(offsets));
        Ok(())
    }

    /// Commits everything handled so far and waits for it (and for a commit under way).
    /// Call it before closing the consumer, so a restart does not re-deliver those records.
    pub async fn commit_pending(&mut self, consumer: &Consumer) -> Result<(), Error> {
        self.settle_in_flight().await?;
        if self.uncommitted.is_empty() {
            return Ok(());
        }
        let offsets = std::mem::take(&mut self.uncommitted);
        self.handled = 0;
        self.last_commit = Instant::now();
        match consumer.commit_offsets(offsets).await {
            Err(err) if !group_moved(&err) => Err(err),
            _ => Ok(()),
        }
    }
}

impl Batches<AtLeastOnce> {
    /// Commits once at least `records` records were handled since the last commit (and at
    /// [`commit_pending`](Self::commit_pending)), instead of after every batch.
    pub fn commit_every_records(mut self, records: usize) -> Self {
        self.policy = CommitPolicy::EveryRecords(records.max(1));
        self
    }

    /// Commits once `interval` has passed since the last commit (checked after each batch
    /// and each empty poll), instead of after every batch.
    pub fn commit_every(mut self, interval: Duration) -> Self {
        self.policy = CommitPolicy::Every(interval);
        self
    }
}

impl Consumer {
    /// Runs [`process_batch`](Self::process_batch) for ever: until the handler or the
    /// consumer fails.
    pub async fn process_batches<S, F, Fut>(
        &mut self,
        mut batches: Batches<S>,
        mut handler: F,
    ) -> Result<(), ProcessError<HandlerError<Fut>>>
    where
        S: Semantics,
        F: FnMut(Vec<ConsumerRecord>) -> Fut,
        Fut: Future,
        Fut::Output: HandlerOutput,
    {
        loop {
            self.process_batch(&mut batches, &mut handler).await?;
        }
    }

    /// Polls one batch (up to `max.poll.records`, waiting up to the [`Batches`] poll timeout)
    /// and hands it to `handler` with the semantics of `batches`; returns how many records it
    /// handled (0 after an empty poll).
    ///
    /// [`AtMostOnce`]: the batch's offsets are committed (and the commit awaited) before the
    /// handler runs; a handler error skips the batch. [`AtLeastOnce`]: after the handler
    /// succeeded the batch's offsets join the next commit (see [`Batches`]); a handler error
    /// seeks back to the batch's first offsets, so the batch comes again on the next call.
    ///
    /// Cancel-safe in the sense of the semantics: dropped while the handler runs, under
    /// [`AtLeastOnce`] the batch comes again.
    pub async fn process_batch<S, F, Fut>(
        &mut self,
        batches: &mut Batches<S>,
        handler: F,
    ) -> Result<usize, ProcessError<HandlerError<Fut>>>
    where
        S: Semantics,
        F: FnOnce(Vec<ConsumerRecord>) -> Fut,
        Fut: Future,
        Fut::Output: HandlerOutput,
    {
        self.check_semantics(S::KIND)?;
        if S::KIND == Kind::AtLeastOnce {
            // A commit that came due by time while nothing arrived.
            batches.maybe_commit(self).await?;
        }
        let records = self.poll(batches.poll_timeout).await?;
        if records.is_empty() {
            return Ok(0);
        }
        let count = records.len();
        let (first, next) = batch_offsets(&records);
        let failed = |error, first| ProcessError::Batch {
            records: count,
            first,
            error,
        };
        match S::KIND {
            Kind::AtMostOnce => {
                if let Err(err) = self.commit_offsets(next).await {
                    // Not committed, so not handled: it comes again.
                    for (tp, offset) in &first {
                        let _ = self.seek(tp, *offset);
                    }
                    return Err(err.into());
                }
                if let Err(error) = handler(records).await.into_result() {
                    return Err(failed(error, first));
                }
            }
            Kind::AtLeastOnce => {
                let mut rewind = Rewind {
                    consumer: self,
                    to: first,
                    armed: true,
                };
                // On error (or cancellation) the guard seeks back: the batch comes again.
                if let Err(error) = handler(records).await.into_result() {
                    let first = rewind.to.clone();
                    return Err(failed(error, first));
                }
                rewind.armed = false;
                let consumer = &*rewind.consumer;
                for (tp, offset) in next {
                    let n = batches.uncommitted.entry(tp).or_insert(offset);
                    *n = (*n).max(offset);
                }
                batches.handled = batches.handled.saturating_add(count);
                batches.maybe_commit(consumer).await?;
            }
            Kind::AutoCommit => {
                if let Err(error) = handler(records).await.into_result() {
                    return Err(failed(error, first));
                }
            }
        }
        Ok(count)
    }
}

/// Transforms every record of `records` and sends the outputs in `txn`.
async fn transform_into<F, Fut, E>(
    txn: &mut crate::transaction::Transaction<'_>,
    records: Vec<ConsumerRecord>,
    transform: &mut F,
) -> Result<(), ProcessError<E>>
where
    F: FnMut(ConsumerRecord) -> Fut,
    Fut: Future<Output = Result<Vec<ProducerRecord>, E>>,
{
    for record in records {
        let (tp, offset) = (record.topic_partition(), record.offset);
        let outputs = transform(record)
            .await
            .map_err(|error| ProcessError::Handler {
                topic: tp.topic,
                partition: tp.partition,
                offset,
                error,
            })?;
        for out in outputs {
            txn.send(out).await?;
        }
    }
    Ok(())
}

/// The first offset and the next offset to read of each partition in `records`.
fn batch_offsets(
    records: &[ConsumerRecord],
) -> (BTreeMap<TopicPartition, i64>, BTreeMap<TopicPartition, i64>) {
    let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in records {
        let tp = r.topic_partition();
        first.entry(tp.clone()).or_insert(r.offset);
        let n = next.entry(tp).or_insert(r.offset);
        *n = (*n).max(r.offset.saturating_add(1));
    }
    (first, next)
}

/// Consume-transform-produce in transactions: see the module docs and
/// [`Consumer::process_exactly_once`].
#[derive(Debug)]
pub struct ExactlyOnce<'p> {
    /// The producer that writes the outputs; initialized (`init_transactions`) or not.
    pub producer: &'p mut TransactionalProducer,
    /// How long each `poll` waits for a batch (default 100 ms).
    pub poll_timeout: Duration,
    /// How long one transaction takes in more poll batches after its first (default zero:
    /// one transaction per poll batch). Longer transactions cost fewer commits; a crash or
    /// an error sends the whole span's records through again.
    pub transaction_span: Duration,
}

impl<'p> ExactlyOnce<'p> {
    /// Exactly-once with `producer`, the default poll timeout, one transaction per batch.
    pub fn new(producer: &'p mut TransactionalProducer) -> Self {
        ExactlyOnce {
            producer,
            poll_timeout: Duration::from_millis(100),
            transaction_span: Duration::ZERO,
        }
    }

    /// One transaction per `span` (Java users commit on a timer the same way) instead of
    /// one per poll batch.
    pub fn transaction_every(mut self, span: Duration) -> Self {
        self.transaction_span = span;
        self
    }
}

/// Seeks the consumer back to a batch's first offsets unless disarmed: a failed or dropped
/// exactly-once batch comes again (its transaction is aborted).
struct Rewind<'a> {
    consumer: &'a mut Consumer,
    to: BTreeMap<TopicPartition, i64>,
    armed: bool,
}

impl Drop for Rewind<'_> {
    fn drop(&mut self) {
        if self.armed {
            for (tp, offset) in &self.to {
                // Not assigned any more: the new owner reads from the committed offset.
                let _ = self.consumer.seek(tp, *offset);
            }
        }
    }
}

impl Consumer {
    /// Runs [`process_exactly_once_batch`](Self::process_exactly_once_batch) for ever: until
    /// the transform fails, or the consumer or the producer fails. After an error the batch
    /// was aborted and rewound; calling again retries it (unless the producer is fenced:
    /// [`TxnError::is_fatal`]).
    pub async fn process_exactly_once<F, Fut, E>(
        &mut self,
        mut semantics: ExactlyOnce<'_>,
        mut transform: F,
    ) -> Result<(), ProcessError<E>>
    where
        F: FnMut(ConsumerRecord) -> Fut,
        Fut: Future<Output = Result<Vec<ProducerRecord>, E>>,
    {
        loop {
            self.process_exactly_once_batch(&mut semantics, &mut transform)
                .await?;
        }
    }

    /// One `poll` batch in one transaction (or the batches of one
    /// [`ExactlyOnce::transaction_every`] span): transform every record, send the outputs and
    /// the batch's offsets, commit. Returns how many input records were committed (0 when the
    /// poll came back empty). On any error the transaction is aborted and the consumer seeks
    /// back to the batch's first offsets, so the same records come again.
    ///
    /// Needs a `group.id` and `enable.auto.commit=false`. Rebalances happen only inside
    /// `poll`, before the transaction begins, so no transaction is open while partitions are
    /// revoked; a member that lost its partitions during the batch (session timeout) has its
    /// offsets refused by the coordinator (KIP-447 generation check), which aborts the batch.
    ///
    /// Cancel-safe in the exactly-once sense: dropped, the transaction is aborted (see
    /// [`crate::Transaction`]) and the consumer rewound.
    pub async fn process_exactly_once_batch<F, Fut, E>(
        &mut self,
        semantics: &mut ExactlyOnce<'_>,
        mut transform: F,
    ) -> Result<usize, ProcessError<E>>
    where
        F: FnMut(ConsumerRecord) -> Fut,
        Fut: Future<Output = Result<Vec<ProducerRecord>, E>>,
    {
        if self.config().group_id.is_none() {
            return Err(Error::invalid_config(
                "group.id",
                "",
                "ExactlyOnce commits offsets in transactions, which needs a group.id",
            )
            .into());
        }
        if self.config().auto_commit() {
            return Err(Error::invalid_config(
                "enable.auto.commit",
                true,
                "ExactlyOnce commits offsets in its transactions; set enable.auto.commit=false",
            )
            .into());
        }
        if semantics.producer.producer_id_and_epoch().is_none() {
            semantics.producer.init_transactions().await?;
        }
        let records = self.poll(semantics.poll_timeout).await?;
        if records.is_empty() {
            return Ok(0);
        }
        let Some(group) = self.group_metadata() else {
            return Err(Error::InvalidState("ExactlyOnce needs a group".into()).into());
        };
        let started = Instant::now();
        let (first, mut next) = batch_offsets(&records);
        let mut count = records.len();
        let mut rewind = Rewind {
            consumer: self,
            to: first,
            armed: true,
        };
        let mut txn = semantics.producer.begin().await?;
        let mut batch = records;
        let outcome = loop {
            if let Err(err) = transform_into(&mut txn, batch, &mut transform).await {
                break Err(err);
            }
            // More batches while the span lasts. A rebalance in these polls is safe: the
            // offsets go with the generation of the first batch, which the coordinator then
            // refuses (KIP-447), so the transaction aborts and the records come again.
            let Some(left) = semantics
                .transaction_span
                .checked_sub(started.elapsed())
                .filter(|left| !left.is_zero())
            else {
                break Ok(());
            };
            batch = match rewind.consumer.poll(left.min(semantics.poll_timeout)).await {
                Ok(more) => more,
                Err(err) => break Err(err.into()),
            };
            let (more_first, more_next) = batch_offsets(&batch);
            for (tp, offset) in more_first {
                rewind.to.entry(tp).or_insert(offset);
            }
            for (tp, offset) in more_next {
                let n = next.entry(tp).or_insert(offset);
                *n = (*n).max(offset);
            }
            count += batch.len();
        };
        let outcome = match outcome {
            Ok(()) => txn
                .send_offsets(next, &group)
                .await
                .map_err(ProcessError::from),
            Err(err) => Err(err),
        };
        if let Err(err) = outcome {
            let fatal = matches!(&err, ProcessError::Transaction(e) if e.is_fatal());
            if !fatal {
                let _ = txn.abort().await;
            }
            return Err(err);
        }
        // A failed commit aborts by itself.
        txn.commit().await?;
        rewind.armed = false;
        drop(rewind);
        Ok(count)
    }
}
