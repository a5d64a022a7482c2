//! How a record's outcome reaches its sender: one [`Completion`] per batch, one
//! [`DeliveryFuture`] per record.
//!
//! Why per batch: every record of a batch shares the batch's fate (written at consecutive
//! offsets, or failed with one error), so the producer allocates one completion per batch and
//! each record's future is a reference to it plus the record's index: no channel and no
//! allocation per record. The outcome is set once, by the sender; futures that were polled
//! before leave a waker, and are woken together.
//!
//! What not: no cancellation of a record by dropping its future (the record is still sent),
//! no callbacks.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::error::Error;
use crate::producer::record::RecordMetadata;

/// The outcome of one batch.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Written (or, with `acks=0`, handed to the socket).
    Written {
        /// Offset of the batch's first record, when known.
        base_offset: Option<i64>,
        /// The broker's append time on LogAppendTime topics.
        log_append_time: Option<i64>,
    },
    /// Not delivered.
    Failed {
        /// Why.
        cause: Arc<Error>,
        /// Whether any attempt may have reached the log.
        may_be_written: bool,
    },
}

/// The shared fate of one batch.
#[derive(Debug)]
pub(crate) struct Completion {
    topic: Arc<str>,
    partition: i32,
    /// Set once, by the sender. Read without a lock: a future polled after the batch is done
    /// (the usual case when a caller awaits many records) costs one atomic load.
    outcome: OnceLock<Outcome>,
    /// Futures polled before the outcome was set.
    wakers: Mutex<Vec<Waker>>,
}

impl Completion {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<Completion> {
        Arc::new(Completion {
            topic,
            partition,
            outcome: OnceLock::new(),
            wakers: Mutex::new(Vec::new()),
        })
    }

    fn wakers(&self) -> MutexGuard<'_, Vec<Waker>> {
        // Every critical section is a take or a push; a panic elsewhere cannot break it.
        self.wakers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the outcome (the first one wins) and wakes every waiting future.
    pub(crate) fn complete(&self, outcome: Outcome) {
        if self.outcome.set(outcome).is_err() {
            return;
        }
        // Taken after the outcome is set: a future that registers later sees the outcome
        // under this same lock (see `poll_with`).
        let wakers = std::mem::take(&mut *self.wakers());
        for waker in wakers {
            waker.wake();
        }
    }

    /// Ready with `done(outcome)` once complete; otherwise leaves (or refreshes) a waker in
    /// `slot`.
    fn poll_with<T>(
        &self,
        slot: &mut Option<usize>,
        cx: &mut Context<'_>,
        done: impl FnOnce(&Outcome) -> T,
    ) -> Poll<T> {
        if let Some(outcome) = self.outcome.get() {
            return Poll::Ready(done(outcome));
        }
        let mut wakers = self.wakers();
        // Again under the lock: `complete` may have set it and taken the wakers meanwhile.
        if let Some(outcome) = self.outcome.get() {
            return Poll::Ready(done(outcome));
        }
        match slot.and_then(|i| wakers.get_mut(i)) {
            Some(waker) => {
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                *slot = Some(wakers.len());
                wakers.push(cx.waker().clone());
            }
        }
        Poll::Pending
    }

    /// Resolves once the batch has an outcome (for `flush`).
    pub(crate) fn done(self: &Arc<Self>) -> BatchDone {
        BatchDone {
            completion: Arc::clone(self),
            slot: None,
        }
    }
}

/// Resolves when a batch is complete, whatever its outcome.
#[derive(Debug)]
pub(crate) struct BatchDone {
    completion: Arc<Completion>,
    slot: Option<usize>,
}

impl Future for BatchDone {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.completion.poll_with(&mut this.slot, cx, |_| ())
    }
}

/// The outcome of one sent record: [`RecordMetadata`] once written, or an
/// [`Error::NotDelivered`] that says whether the record may have been written anyway.
///
/// Cancel-safe, and optional: dropping it does not withdraw the record, which is still sent
/// (use [`crate::Producer::flush`] to wait for everything). It may be awaited from any task,
/// before or after the outcome is known.
#[derive(Debug)]
#[must_use = "the record is sent either way; await this to learn whether it was written"]
pub struct DeliveryFuture {
    completion: Arc<Completion>,
    index: u32,
    timestamp: i64,
    slot: Option<usize>,
}

impl DeliveryFuture {
    pub(crate) fn new(completion: Arc<Completion>, index: u32, timestamp: i64) -> Self {
        DeliveryFuture {
            completion,
            index,
            timestamp,
            slot: None,
        }
    }

    /// The partition the record was appended to (known as soon as `send` returns).
    pub fn partition(&self) -> i32 {
        self.completion.partition
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (index, timestamp) = (this.index, this.timestamp);
        let completion = &this.completion;
        completion.poll_with(&mut this.slot, cx, |outcome| match outcome {
            Outcome::Written {
                base_offset,
                log_append_time,
            } => Ok(RecordMetadata {
                partition: completion.partition,
                offset: base_offset.map(|base| base.saturating_add(i64::from(index))),
                timestamp: log_append_time.unwrap_or(timestamp),
            }),
            Outcome::Failed {
                cause,
                may_be_written,
            } => Err(Error::NotDelivered {
                topic: completion.topic.to_string(),
                partition: Some(completion.partition),
                may_be_written: *may_be_written,
                cause: Arc::clone(cause),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_record_of_a_batch_gets_its_own_offset_and_the_shared_error() {
        let c = Completion::new(Arc::from("t"), 3);
        let first = DeliveryFuture::new(Arc::clone(&c), 0, 10);
        let second = DeliveryFuture::new(Arc::clone(&c), 1, 11);
        let waiter = tokio::spawn(second);
        tokio::task::yield_now().await;
        c.complete(Outcome::Written {
            base_offset: Some(40),
            log_append_time: None,
        });
        // A later outcome does not overwrite the first.
        c.complete(Outcome::Written {
            base_offset: Some(99),
            log_append_time: None,
        });
        let m = first.await.unwrap();
        assert_eq!((m.partition, m.offset, m.timestamp), (3, Some(40), 10));
        let m = waiter.await.unwrap().unwrap();
        assert_eq!((m.offset, m.timestamp), (Some(41), 11));

        let c = Completion::new(Arc::from("t"), 0);
        let f = DeliveryFuture::new(Arc::clone(&c), 0, 1);
        c.complete(Outcome::Failed {
            cause: Arc::new(Error::Closed),
            may_be_written: true,
        });
        let err = f.await.unwrap_err();
        assert!(err.may_be_written(), "{err}");
        c.done().await;
    }
}
