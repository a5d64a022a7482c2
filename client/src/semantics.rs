//! Delivery semantics as types: which offsets a consumer commits, and when, decides what a
//! crash can do to the records being processed. [`Consumer::process`] (one record after the
//! other, for ever) and [`Consumer::process_one`] make that choice one word.
//!
//! | semantics | commits | after a crash | a handler error |
//! |---|---|---|---|
//! | [`AtMostOnce`] | `offset + 1` *before* the handler runs | the record being handled is lost, never seen twice | the record is skipped |
//! | [`AtLeastOnce`] | `offset + 1` *after* the handler succeeded | the record being handled is handled again, never lost | nothing committed; the consumer seeks back and the record comes again on the next call |
//! | [`AutoCommit`] | the position, every `auto.commit.interval.ms`, inside `recv`/`poll` | see below | the record is skipped |
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
//! Commits from `AtMostOnce` and `AtLeastOnce` are synchronous, one round trip per record:
//! correct, not fast. For throughput, process a `poll` batch and commit it with
//! [`Consumer::commit_offsets`] (the duplicate or loss window is then the batch).
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
//! Rebalances cannot come between a handler and its commit: revocations are only acted on
//! inside `recv`, which `process_one` calls before the handler. A member that lost its
//! partitions while the handler ran (session timeout) gets a commit error that says so
//! (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS); `AtLeastOnce` then goes on,
//! since the new owner re-reads the record, which at-least-once allows.

use std::future::Future;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::consumer::{Consumer, ConsumerRecord, TopicPartition};
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
    pub async fn process<S, F, Fut, E>(
        &mut self,
        semantics: S,
        mut handler: F,
    ) -> Result<(), ProcessError<E>>
    where
        S: Semantics,
        F: FnMut(ConsumerRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        loop {
            self.process_one(semantics, &mut handler).await?;
        }
    }

    /// Receives one record and handles it with `semantics`; returns the record's
    /// `(partition, offset)` once it is done (handled and, per the semantics, committed).
    pub async fn process_one<S, F, Fut, E>(
        &mut self,
        _semantics: S,
        handler: F,
    ) -> Result<(TopicPartition, i64), ProcessError<E>>
    where
        S: Semantics,
        F: FnOnce(ConsumerRecord) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        self.check_semantics(S::KIND)?;
        let record = self.recv().await?;
        let tp = record.topic_partition();
        let offset = record.offset;
        let failed = |error: E, tp: &TopicPartition| ProcessError::Handler {
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
                handler(record).await.map_err(|e| failed(e, &tp))?;
            }
            Kind::AtLeastOnce => {
                let mut guard = SeekBack {
                    consumer: self,
                    tp: tp.clone(),
                    offset,
                    armed: true,
                };
                // On error the guard seeks back: the record comes again.
                handler(record).await.map_err(|e| failed(e, &tp))?;
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
                handler(record).await.map_err(|e| failed(e, &tp))?;
            }
        }
        Ok((tp, offset))
    }
}

/// Consume-transform-produce in transactions: see the module docs and
/// [`Consumer::process_exactly_once`].
#[derive(Debug)]
pub struct ExactlyOnce<'p> {
    /// The producer that writes the outputs; initialized (`init_transactions`) or not.
    pub producer: &'p mut TransactionalProducer,
    /// How long each `poll` waits for a batch (default 100 ms).
    pub poll_timeout: Duration,
}

impl<'p> ExactlyOnce<'p> {
    /// Exactly-once with `producer` and the default poll timeout.
    pub fn new(producer: &'p mut TransactionalProducer) -> Self {
        ExactlyOnce {
            producer,
            poll_timeout: Duration::from_millis(100),
        }
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

    /// One `poll` batch in one transaction: transform every record, send the outputs and the
    /// batch's offsets, commit. Returns how many input records were committed (0 when the
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
        let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        for r in &records {
            let tp = r.topic_partition();
            first.entry(tp.clone()).or_insert(r.offset);
            let n = next.entry(tp).or_insert(r.offset);
            *n = (*n).max(r.offset.saturating_add(1));
        }
        let count = records.len();
        let mut rewind = Rewind {
            consumer: self,
            to: first,
            armed: true,
        };
        let mut txn = semantics.producer.begin().await?;
        for record in records {
            let (tp, offset) = (record.topic_partition(), record.offset);
            let outputs = match transform(record).await {
                Ok(outputs) => outputs,
                Err(error) => {
                    let _ = txn.abort().await;
                    return Err(ProcessError::Handler {
                        topic: tp.topic,
                        partition: tp.partition,
                        offset,
                        error,
                    });
                }
            };
            for out in outputs {
                if let Err(err) = txn.send(out).await {
                    if !err.is_fatal() {
                        let _ = txn.abort().await;
                    }
                    return Err(err.into());
                }
            }
        }
        if let Err(err) = txn.send_offsets(next, &group).await {
            if !err.is_fatal() {
                let _ = txn.abort().await;
            }
            return Err(err.into());
        }
        // A failed commit aborts by itself.
        txn.commit().await?;
        rewind.armed = false;
        drop(rewind);
        Ok(count)
    }
}
