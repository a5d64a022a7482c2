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
//! **Exactly once is not implemented.** It needs the transactional producer (not written
//! yet): the handler's output and the consumed offsets committed in one transaction
//! (`sendOffsetsToTransaction` with [`Consumer::group_metadata`]), read downstream with
//! `isolation.level=read_committed`. [`Semantics`] is sealed here so the transactions work
//! can add `ExactlyOnce` as its implementor; nothing in this crate pretends to offer it.
//!
//! Rebalances cannot come between a handler and its commit: revocations are only acted on
//! inside `recv`, which `process_one` calls before the handler. A member that lost its
//! partitions while the handler ran (session timeout) gets a commit error that says so
//! (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS); `AtLeastOnce` then goes on,
//! since the new owner re-reads the record, which at-least-once allows.

use std::future::Future;

use crate::consumer::{Consumer, ConsumerRecord, TopicPartition};
use crate::error::Error;
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
