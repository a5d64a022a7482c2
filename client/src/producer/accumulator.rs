//! The record accumulator: per-partition queues of batches being filled, the `buffer.memory`
//! budget, and the registry of batches not yet complete.
//!
//! `send` runs here, on the caller's task: it picks the partition, encodes the record
//! straight into the open batch of that partition's queue (one short lock per record, no
//! allocation beyond the batch buffer's growth), and returns. The sender task takes batches
//! from the front of the queues once they are ready: full, lingered long enough, or a flush or
//! close is under way.
//!
//! Memory: each record is charged its worst-case encoded size against a byte semaphore of
//! `buffer.memory` permits before it is appended, and its batch gives the whole charge back
//! when it completes. A full budget makes `send` wait (backpressure), up to `max.block.ms`.
//!
//! Locks: the topic table is read-locked per record and written only when metadata changes
//! the partitions; each partition queue has its own mutex; the incomplete-batch registry is
//! touched once per batch. No lock is held across an await.
//!
//! What not: no batch splitting on MESSAGE_TOO_LARGE, no compression-ratio estimate
//! (`batch.size` counts uncompressed bytes, as librdkafka does; Java estimates the compressed
//! size).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrokafka_protocol::record::{BatchBuilder, Compression, Header, RecordError, RecordRef};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::config::ProducerConfig;
use super::delivery::{BatchDone, Completion, DeliveryFuture};
use crate::error::Error;
use crate::metadata::TopicInfo;
use crate::partitioner::{partition_for_key, Partitioner, RoundRobin, StickyPartition};

/// A batch being filled, or full and waiting for the sender.
#[derive(Debug)]
pub(crate) struct OpenBatch {
    pub(crate) id: u64,
    pub(crate) builder: BatchBuilder,
    pub(crate) completion: Arc<Completion>,
    pub(crate) created: Instant,
    pub(crate) records: u32,
    /// `buffer.memory` bytes to give back when the batch completes.
    pub(crate) reserved: usize,
    /// No more records go in.
    pub(crate) full: bool,
}

/// The batches of one partition, oldest first; only the last one takes records.
#[derive(Debug)]
pub(crate) struct PartitionQueue {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    batches: Mutex<VecDeque<OpenBatch>>,
}

/// What the front of a queue is up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Front {
    /// No batch.
    Empty,
    /// The front batch can go now.
    Ready,
    /// The front batch lingers until then.
    LingersUntil(Instant),
}

impl PartitionQueue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<OpenBatch>> {
        // Critical sections push or pop whole batches; a panic cannot leave half of one.
        self.batches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the front batch is ready; `force` (flush, close) ignores `linger.ms`.
    pub(crate) fn front(
        &self,
        now: Instant,
        linger: Duration,
        batch_size: usize,
        force: bool,
    ) -> Front {
        let q = self.lock();
        let Some(front) = q.front() else {
            return Front::Empty;
        };
        let due = front.created + linger;
        if force
            || front.full
            || q.len() > 1
            || front.builder.estimated_size() >= batch_size
            || due <= now
        {
            Front::Ready
        } else {
            Front::LingersUntil(due)
        }
    }

    /// Creation time of the front batch, for expiry.
    pub(crate) fn front_created(&self) -> Option<Instant> {
        self.lock().front().map(|b| b.created)
    }

    /// Takes the front batch.
    pub(crate) fn pop(&self) -> Option<OpenBatch> {
        self.lock().pop_front()
    }

    /// Takes every batch (the producer failed fatally).
    pub(crate) fn drain(&self) -> Vec<OpenBatch> {
        self.lock().drain(..).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// One topic's queues and partitioner state; replaced whole when its partitions change.
#[derive(Debug)]
pub(crate) struct TopicQueues {
    queues: Vec<Arc<PartitionQueue>>,
    /// Partitions with a leader: where keyless records go.
    available: Vec<i32>,
    sticky: Arc<StickyPartition>,
    round_robin: Arc<RoundRobin>,
}

/// The record fields a batch takes, moved out one by one as the record is encoded.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) partition: Option<i32>,
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<Header>,
    pub(crate) timestamp: i64,
    /// `buffer.memory` bytes this record holds.
    pub(crate) reserved: usize,
}

/// What `append` needs before it can place a record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NeedsMetadata {
    /// The topic is not in the table.
    Topic,
    /// The explicit partition is beyond the known partitions.
    Partition(i32, usize),
}

/// The topic table's hash, FxHash-style: eight bytes per multiply. The table is looked up once
/// per record, keyed by names the application chose (not network input), so a fast unkeyed
/// hash is safe here and SipHash's cost (a few percent of a 100-byte `send`) is not.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TopicHasher(u64);

impl TopicHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for TopicHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in words.by_ref() {
            self.add(u64::from_le_bytes(
                <[u8; 8]>::try_from(word).unwrap_or_default(),
            ));
        }
        let mut tail = [0u8; 8];
        for (slot, byte) in tail.iter_mut().zip(words.remainder()) {
            *slot = *byte;
        }
        self.add(u64::from_le_bytes(tail));
    }
}

/// `linger.ms` is an upper bound on how long a record waits for others to join its batch. tokio's
/// timers tick every millisecond and fire on the first tick at or after their deadline, so the
/// timer aims one tick early: a batch goes within (`linger.ms` - 1 ms, `linger.ms`] of its first
/// record, the spread Java's accumulator has too (it compares whole-millisecond clock readings).
/// Aiming at `linger.ms` itself sent every batch up to a tick late, on average half a tick.
fn timer_linger(linger: Duration) -> Duration {
    const TICK: Duration = Duration::from_millis(1);
    linger.saturating_sub(TICK)
}

/// The shared accumulator.
#[derive(Debug)]
pub(crate) struct Accumulator {
    batch_size: usize,
    linger: Duration,
    compression: Compression,
    partitioner: Partitioner,
    topics: RwLock<HashMap<Arc<str>, TopicQueues, BuildHasherDefault<TopicHasher>>>,
    /// Every queue, by index; the sender snapshots it when `queues_version` moves.
    queues: RwLock<Vec<Arc<PartitionQueue>>>,
    queues_version: AtomicU64,
    memory: Semaphore,
    incomplete: Mutex<HashMap<u64, Arc<Completion>>>,
    next_batch: AtomicU64,
    flushing: AtomicUsize,
    closing: AtomicBool,
    /// `send`s between their last look at `closing` and the end of their append: the sender
    /// does not stop while any is under way, so no record lands in a queue nobody drains.
    appending: AtomicUsize,
    /// Wakes the sender: a batch was created or filled, a flush began, the producer closes.
    pub(crate) wake: Notify,
}

impl Accumulator {
    pub(crate) fn new(config: &ProducerConfig) -> Self {
        Accumulator {
            batch_size: config.batch_size,
            linger: timer_linger(config.linger),
            compression: config.compression,
            partitioner: config.partitioner,
            topics: RwLock::new(HashMap::default()),
            queues: RwLock::new(Vec::new()),
            queues_version: AtomicU64::new(0),
            memory: Semaphore::new(config.buffer_memory.min(Semaphore::MAX_PERMITS)),
            incomplete: Mutex::new(HashMap::new()),
            next_batch: AtomicU64::new(0),
            flushing: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            appending: AtomicUsize::new(0),
            wake: Notify::new(),
        }
    }

    pub(crate) fn linger(&self) -> Duration {
        self.linger
    }

    pub(crate) fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Reserves `bytes` of `buffer.memory`, waiting up to `max_block` for room. Also returns
    /// the deadline it waited against, when it had to wait.
    pub(crate) async fn reserve(
        &self,
        bytes: usize,
        max_block: Duration,
    ) -> Result<(Reservation<'_>, Option<Instant>), Error> {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        let mut waited = None;
        let permit = match self.memory.try_acquire_many(n) {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout_at(
                *waited.insert(Instant::now() + max_block),
                self.memory.acquire_many(n),
            )
            .await
            .map_err(|_| Error::Timeout {
                operation: format!("waiting for {bytes} bytes of buffer.memory"),
                after: max_block,
                last_error: None,
            })?
            .map_err(|_| Error::Closed)?,
        };
        permit.forget();
        let reservation = Reservation {
            memory: &self.memory,
            bytes: n as usize,
        };
        Ok((reservation, waited))
    }

    /// Gives `bytes` of `buffer.memory` back.
    pub(crate) fn release(&self, bytes: usize) {
        self.memory.add_permits(bytes);
    }

    /// Appends a record, choosing its partition; `Ok(Err(_))` when the topic's metadata is
    /// needed first. The caller has reserved `pending.reserved` bytes, which the batch now
    /// owns (on success only).
    pub(crate) fn append(
        &self,
        topic: &str,
        pending: &mut Pending,
    ) -> Result<Result<DeliveryFuture, NeedsMetadata>, Error> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = topics.get(topic) else {
            return Ok(Err(NeedsMetadata::Topic));
        };
        let count = entry.queues.len();
        let partitions = i32::try_from(count).unwrap_or(i32::MAX);
        if let Some(p) = pending.partition {
            return match usize::try_from(p).ok().and_then(|i| entry.queues.get(i)) {
                Some(queue) => self.append_to(queue, pending).map(Ok),
                None => Ok(Err(NeedsMetadata::Partition(p, count))),
            };
        }
        let keyed = match (&pending.key, self.partitioner) {
            (Some(key), Partitioner::Default) => Some(partition_for_key(key, partitions)),
            (_, Partitioner::RoundRobin) => {
                Some(entry.round_robin.next(&entry.available, partitions))
            }
            _ => None,
        };
        if let Some(p) = keyed {
            return self.append_to(queue_at(&entry.queues, p)?, pending).map(Ok);
        }
        // Sticky (KIP-480): stay while the open batch there takes records; when a new batch
        // would be needed, move to another partition first.
        let p = entry.sticky.current(&entry.available, partitions);
        let queue = queue_at(&entry.queues, p)?;
        let (appended, filled) = {
            let mut q = queue.lock();
            self.try_open_batch(&mut q, queue, pending)?
        };
        if filled {
            self.wake.notify_one();
        }
        if let Some(future) = appended {
            return Ok(Ok(future));
        }
        let p = entry.sticky.switch_from(p, &entry.available, partitions);
        self.append_to(queue_at(&entry.queues, p)?, pending).map(Ok)
    }

    /// Appends to `queue`'s open batch, or to a new one.
    fn append_to(
        &self,
        queue: &PartitionQueue,
        pending: &mut Pending,
    ) -> Result<DeliveryFuture, Error> {
        let mut q = queue.lock();
        let (appended, filled) = self.try_open_batch(&mut q, queue, pending)?;
        let future = match appended {
            Some(future) => future,
            None => self.new_batch(&mut q, queue, pending)?,
        };
        let notify = filled || appended_new(&q);
        drop(q);
        if notify {
            self.wake.notify_one();
        }
        Ok(future)
    }

    /// Appends to the open (last, not full) batch if the record fits; says whether that
    /// batch is now full. A record that does not fit closes the batch.
    fn try_open_batch(
        &self,
        q: &mut VecDeque<OpenBatch>,
        queue: &PartitionQueue,
        pending: &mut Pending,
    ) -> Result<(Option<DeliveryFuture>, bool), Error> {
        let Some(last) = q.back_mut().filter(|b| !b.full) else {
            return Ok((None, false));
        };
        let Some(future) = push(last, pending, self.batch_size).map_err(|e| too_large(queue, e))?
        else {
            last.full = true;
            return Ok((None, true));
        };
        if last.builder.estimated_size() >= self.batch_size {
            last.full = true;
            return Ok((Some(future), true));
        }
        Ok((Some(future), false))
    }

    /// Starts a batch with the record (which may alone exceed `batch.size`).
    fn new_batch(
        &self,
        q: &mut VecDeque<OpenBatch>,
        queue: &PartitionQueue,
        pending: &mut Pending,
    ) -> Result<DeliveryFuture, Error> {
        let id = self.next_batch.fetch_add(1, Ordering::Relaxed);
        let mut batch = OpenBatch {
            id,
            // Room for a full batch up front: records are copied once, not again each time
            // the buffer would double.
            builder: BatchBuilder::with_capacity(self.batch_size).compression(self.compression),
            completion: Completion::new(Arc::clone(&queue.topic), queue.partition),
            created: Instant::now(),
            records: 0,
            reserved: 0,
            full: false,
        };
        let future = push(&mut batch, pending, usize::MAX)
            .map_err(|e| too_large(queue, e))?
            .ok_or_else(|| too_large(queue, RecordError::TooLarge("record")))?;
        if batch.builder.estimated_size() >= self.batch_size {
            batch.full = true;
        }
        self.incomplete_lock()
            .insert(id, Arc::clone(&batch.completion));
        q.push_back(batch);
        Ok(future)
    }

    fn incomplete_lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Completion>>> {
        self.incomplete.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets a completed batch and returns its memory.
    pub(crate) fn finished(&self, batch_id: u64) {
        self.incomplete_lock().remove(&batch_id);
    }

    /// Brings the topic table in line with `info` (more partitions, other leaders).
    pub(crate) fn update_topic(&self, info: &TopicInfo) {
        let count = info.partitions.len();
        if count == 0 || !info.error.is_ok() {
            return;
        }
        let available: Vec<i32> = info
            .partitions
            .values()
            .filter(|p| p.leader.is_some())
            .map(|p| p.partition)
            .collect();
        {
            let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = topics.get(info.name.as_str()) {
                if entry.queues.len() >= count && entry.available == available {
                    return;
                }
            }
        }
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let name: Arc<str> = Arc::from(info.name.as_str());
        let (mut queues, sticky, round_robin) = match topics.remove(info.name.as_str()) {
            Some(old) => (old.queues, old.sticky, old.round_robin),
            None => (Vec::new(), Arc::default(), Arc::default()),
        };
        if queues.len() < count {
            let mut all = self.queues.write().unwrap_or_else(|p| p.into_inner());
            for partition in queues.len()..count {
                let queue = Arc::new(PartitionQueue {
                    topic: Arc::clone(&name),
                    partition: i32::try_from(partition).unwrap_or(i32::MAX),
                    batches: Mutex::new(VecDeque::new()),
                });
                all.push(Arc::clone(&queue));
                queues.push(queue);
            }
            self.queues_version.fetch_add(1, Ordering::Release);
        }
        topics.insert(
            name,
            TopicQueues {
                queues,
                available,
                sticky,
                round_robin,
            },
        );
    }

    /// Topics with queues.
    pub(crate) fn topic_names(&self) -> Vec<String> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        topics.keys().map(|t| t.to_string()).collect()
    }

    /// Every queue, if the set changed since `version`.
    pub(crate) fn queues_since(&self, version: u64) -> Option<(u64, Vec<Arc<PartitionQueue>>)> {
        let now = self.queues_version.load(Ordering::Acquire);
        if now == version {
            return None;
        }
        let all = self.queues.read().unwrap_or_else(|p| p.into_inner());
        Some((now, all.clone()))
    }

    /// Marks a flush as under way until the guard drops.
    pub(crate) fn begin_flush(&self) -> FlushGuard<'_> {
        self.flushing.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
        FlushGuard(self)
    }

    pub(crate) fn flushing(&self) -> bool {
        self.flushing.load(Ordering::Acquire) > 0
    }

    /// Futures for every batch not yet complete.
    pub(crate) fn incomplete(&self) -> Vec<BatchDone> {
        self.incomplete_lock()
            .values()
            .map(Completion::done)
            .collect()
    }

    /// Stops accepting records; the sender drains what is there.
    pub(crate) fn begin_close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Announces an append; `None` once the producer is closing. (Sequentially consistent
    /// with `begin_close` and `appends_under_way`: either the append sees the close, or the
    /// sender sees the append.)
    pub(crate) fn begin_append(&self) -> Option<AppendGuard<'_>> {
        self.appending.fetch_add(1, Ordering::SeqCst);
        let guard = AppendGuard(self);
        if self.closing.load(Ordering::SeqCst) {
            return None;
        }
        Some(guard)
    }

    /// Whether some `send` is between its closing check and the end of its append.
    pub(crate) fn appends_under_way(&self) -> bool {
        self.appending.load(Ordering::SeqCst) > 0
    }
}

/// An append in progress; see [`Accumulator::begin_append`].
#[derive(Debug)]
pub(crate) struct AppendGuard<'a>(&'a Accumulator);

impl Drop for AppendGuard<'_> {
    fn drop(&mut self) {
        self.0.appending.fetch_sub(1, Ordering::SeqCst);
        if self.0.closing.load(Ordering::SeqCst) {
            self.0.wake.notify_one();
        }
    }
}

/// A flush in progress.
#[derive(Debug)]
pub(crate) struct FlushGuard<'a>(&'a Accumulator);

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        self.0.flushing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `buffer.memory` held by a record on its way into a batch; given back if it never gets
/// there (an error, or a dropped `send`).
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    memory: &'a Semaphore,
    bytes: usize,
}

impl Reservation<'_> {
    /// The batch owns the bytes now.
    pub(crate) fn commit(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.memory.add_permits(self.bytes);
        }
    }
}

/// Appends the record to `batch` unless that takes the batch past `limit` bytes (`Ok(None)`).
fn push(
    batch: &mut OpenBatch,
    pending: &mut Pending,
    limit: usize,
) -> Result<Option<DeliveryFuture>, RecordError> {
    let record = RecordRef {
        timestamp: pending.timestamp,
        key: pending.key.as_deref(),
        value: pending.value.as_deref(),
        headers: &pending.headers,
    };
    if !batch.builder.push_within(record, limit)? {
        return Ok(None);
    }
    let index = batch.records;
    batch.records += 1;
    batch.reserved += pending.reserved;
    pending.reserved = 0;
    Ok(Some(DeliveryFuture::new(
        Arc::clone(&batch.completion),
        index,
        pending.timestamp,
    )))
}

fn queue_at(queues: &[Arc<PartitionQueue>], p: i32) -> Result<&Arc<PartitionQueue>, Error> {
    usize::try_from(p)
        .ok()
        .and_then(|i| queues.get(i))
        .ok_or_else(|| Error::Kafka {
            code: ferrokafka_protocol::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            message: Some(format!(
                "the partitioner chose partition {p}, which is unknown"
            )),
            topic: None,
            partition: Some(p),
        })
}

/// True when the last batch holds exactly one record: it was just created.
fn appended_new(q: &VecDeque<OpenBatch>) -> bool {
    q.back().is_some_and(|b| b.records == 1)
}

fn too_large(queue: &PartitionQueue, err: RecordError) -> Error {
    Error::Kafka {
        code: ferrokafka_protocol::ErrorCode::MESSAGE_TOO_LARGE,
        message: Some(err.to_string()),
        topic: Some(queue.topic.to_string()),
        partition: Some(queue.partition),
    }
}

/// Milliseconds since the epoch, for records sent without a timestamp.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
