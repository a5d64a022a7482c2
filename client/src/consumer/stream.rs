//! [`RecordStream`]: the consumer's records as a `futures::Stream` that can still commit.
//!
//! Why a type of its own: a stream built on `Consumer::recv` holds the consumer mutably for
//! as long as the stream lives, so a `while let Some(r) = stream.next().await` loop could not
//! call `commit` (E0502). `RecordStream` holds the consumer itself, and lends it out through
//! [`RecordStream::consumer`] and the commit methods: a receive in progress is called off
//! first, which loses nothing because `recv` is cancel-safe.
//!
//! How: a pending receive owns the `&mut Consumer` (an async block that gives it back when
//! it ends). To lend the consumer out, a flag is set and the block polled once; the block
//! looks at the flag before the receive, so that poll ends it, with the receive dropped.
//!
//! What not: no `Sync`; one task drives the stream, as one drives the consumer.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::Either;
use futures::Stream;

use super::{Consumer, ConsumerRecord, PendingCommit, TopicPartition};
use crate::error::Error;

/// What a pending receive ends with: the consumer back, and the record or error unless the
/// receive was called off.
type Received<'a> = (&'a mut Consumer, Option<Result<ConsumerRecord, Error>>);

/// The records of a [`Consumer`] as a `futures::Stream`, from [`Consumer::stream`]. It never
/// ends, and yields errors as items (the stream goes on after them); dropping it, or the
/// `next()` future, is as safe as dropping a [`Consumer::recv`].
///
/// Unlike a plain stream over the consumer, it can commit between records, and lend the
/// consumer out for anything else (seek, pause, position):
///
/// ```no_run
/// # async fn demo(mut consumer: ferrokafka::Consumer) -> Result<(), ferrokafka::Error> {
/// use futures::StreamExt;
///
/// let mut stream = consumer.stream();
/// while let Some(record) = stream.next().await {
///     let record = record?;
///     println!("{}@{}", record.partition, record.offset);
///     stream
///         .commit_offsets([(record.topic_partition(), record.offset + 1)])
///         .await?;
///     if record.offset > 1_000 {
///         stream.consumer()?.pause(&[record.topic_partition()])?;
///     }
/// }
/// # Ok(()) }
/// ```
pub struct RecordStream<'a> {
    /// The consumer, while no receive holds it.
    idle: Option<&'a mut Consumer>,
    /// A receive in progress; it holds the consumer until it ends or is called off.
    receiving: Option<Pin<Box<dyn Future<Output = Received<'a>> + Send + 'a>>>,
    /// Set to call `receiving` off: its next poll then ends it.
    call_off: Arc<AtomicBool>,
    /// A record a called-off receive had already taken, handed out next.
    ready: Option<Result<ConsumerRecord, Error>>,
}

impl std::fmt::Debug for RecordStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("consumer", &self.idle)
            .field("receiving", &self.receiving.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> RecordStream<'a> {
    pub(super) fn new(consumer: &'a mut Consumer) -> Self {
        RecordStream {
            idle: Some(consumer),
            receiving: None,
            call_off: Arc::new(AtomicBool::new(false)),
            ready: None,
        }
    }

    /// The consumer, with any receive in progress called off (no record is lost: the next
    /// item comes from where the consumer stands then, seeks included).
    ///
    /// An error only if an earlier receive panicked and took the consumer with it.
    pub fn consumer(&mut self) -> Result<&mut Consumer, Error> {
        if let Some(mut receiving) = self.receiving.take() {
            self.call_off.store(true, Ordering::Relaxed);
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            match receiving.as_mut().poll(&mut cx) {
                Poll::Ready((consumer, result)) => {
                    self.idle = Some(consumer);
                    self.ready = result;
                }
                // Not reached: the flag is looked at before the receive on every poll.
                Poll::Pending => self.receiving = Some(receiving),
            }
            self.call_off.store(false, Ordering::Relaxed);
        }
        self.idle.as_deref_mut().ok_or_else(|| {
            Error::InvalidState("the stream's consumer is busy or was lost to a panic".into())
        })
    }

    /// [`Consumer::commit`] from inside a loop over the stream.
    pub async fn commit(&mut self) -> Result<(), Error> {
        self.consumer()?.commit().await
    }

    /// [`Consumer::commit_offsets`] from inside a loop over the stream.
    pub async fn commit_offsets<I>(&mut self, offsets: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        self.consumer()?.commit_offsets(offsets).await
    }

    /// [`Consumer::commit_async`] from inside a loop over the stream.
    pub fn commit_async(&mut self) -> PendingCommit {
        match self.consumer() {
            Ok(consumer) => consumer.commit_async(),
            Err(err) => PendingCommit::failed(err),
        }
    }

    /// [`Consumer::commit_offsets_async`] from inside a loop over the stream.
    pub fn commit_offsets_async<I>(&mut self, offsets: I) -> PendingCommit
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        match self.consumer() {
            Ok(consumer) => consumer.commit_offsets_async(offsets),
            Err(err) => PendingCommit::failed(err),
        }
    }

    /// A receive that owns `consumer` until it ends, or until `call_off` is set and it is
    /// polled (the flag is polled first, so that poll ends it).
    fn receive(
        &self,
        consumer: &'a mut Consumer,
    ) -> Pin<Box<dyn Future<Output = Received<'a>> + Send + 'a>> {
        let call_off = Arc::clone(&self.call_off);
        Box::pin(async move {
            let result = {
                let called_off = pin!(futures::future::poll_fn(move |_| {
                    if call_off.load(Ordering::Relaxed) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                }));
                let recv = pin!(consumer.recv());
                match futures::future::select(called_off, recv).await {
                    Either::Left(((), _)) => None,
                    Either::Right((result, _)) => Some(result),
                }
            };
            (consumer, result)
        })
    }
}

impl Stream for RecordStream<'_> {
    type Item = Result<ConsumerRecord, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(ready) = this.ready.take() {
            return Poll::Ready(Some(ready));
        }
        if this.receiving.is_none() {
            // No consumer: an earlier receive panicked with it.
            let Some(consumer) = this.idle.take() else {
                return Poll::Ready(None);
            };
            this.receiving = Some(this.receive(consumer));
        }
        let Some(receiving) = this.receiving.as_mut() else {
            return Poll::Ready(None);
        };
        match receiving.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((consumer, result)) => {
                this.receiving = None;
                this.idle = Some(consumer);
                match result {
                    Some(item) => Poll::Ready(Some(item)),
                    // Called off by a `consumer()` whose poll did not end it; start again.
                    None => {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                }
            }
        }
    }
}
