//! One partition's log: record batches in offset order.
//!
//! Batches are kept exactly as they will be served (offsets already assigned, CRC valid), so a
//! fetch is a matter of picking byte ranges. Without a data dir every batch's bytes are in
//! memory. With one (`disk/`), every batch is written to the partition's files and only the
//! newest [`HOT_BYTES`] of them stay in memory as well (what a consumer at the end of the log
//! reads); older batches keep their offsets, timestamps and place in the files, and a read
//! fetches their bytes from the files (the page cache, mostly). So memory grows with the
//! number of batches, not with their bytes. A retention limit in bytes drops the oldest
//! batches and moves the log start offset; readers below it get OFFSET_OUT_OF_RANGE.
//! Idempotent producers' state lives with the log it guards but outlives retention, as in
//! Kafka, where moving the log start offset leaves producer entries alone.
//!
//! Transactions (KIP-98) leave two things here, as in Kafka's partition leader: the open
//! transactions (producer id -> offset of its first batch in this partition), whose earliest
//! first offset is the last stable offset (LSO) that read_committed readers stop at; and the
//! index of aborted transactions (producer id, first offset, offset of the ABORT marker), which
//! Fetch hands to read_committed readers so they can drop aborted records. A transaction that
//! wrote nothing here leaves no index entry. Index entries go when retention passes them.
//!
//! Each log wakes the fetches waiting on it, and only those: an append (a transaction marker
//! included, which is what moves the LSO) and the log's end (its topic deleted) wake them.
//! One wake-up for the whole broker made every append wake every waiting fetch, which then
//! looked at its partitions, found nothing and went back to sleep: with many fetches waiting
//! on quiet topics, that cost busy topics most of their throughput.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use ferrokafka_protocol::record::{
    BatchBuilder, ControlRecordType, EndTxnMarker, RecordBatch, RecordError, TimestampType,
};

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

use super::disk::{BatchSource, FilePos, PartitionFiles};
use super::memory::MemoryBudget;
use super::producers::{Placement, ProducerBatch, ProducerStates};

/// With a data dir, how many bytes of its newest batches a partition keeps in memory too.
pub const HOT_BYTES: usize = 64 << 10;

/// What a batch held only in the files costs in memory (its entry here), as counted against
/// the memory budget.
const ENTRY_BYTES: usize = std::mem::size_of::<StoredBatch>();

/// A batch as stored: its offsets and timestamps, and its wire bytes or where they are.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Largest record timestamp in the batch (or the append time for LogAppendTime topics).
    pub max_timestamp: i64,
    /// The whole batch, ready to send, while held in memory (boxed: most entries of a log
    /// on disk hold none, and a box keeps the entry small).
    bytes: Option<Box<Bytes>>,
    /// Its length in bytes (at most 1 GiB, the largest batch stored).
    len: u32,
    /// Where it is in the partition's files: the base offset of its segment (-1 for nowhere)
    /// and its position there (a compaction rewrite can make a segment of any size).
    segment: i64,
    position: u64,
    /// Set by the first cleaning pass that kept a tombstone or a transaction marker here, to
    /// that pass's time plus `delete.retention.ms`; passes after it remove them (Kafka's
    /// delete horizon, KIP-534, kept beside the batch rather than in its header).
    delete_horizon: Option<i64>,
}

impl StoredBatch {
    /// A batch as appended: its offsets, its newest timestamp and its stored bytes.
    pub fn new(base_offset: i64, last_offset: i64, max_timestamp: i64, bytes: Bytes) -> Self {
        StoredBatch {
            base_offset,
            last_offset,
            max_timestamp,
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            bytes: Some(Box::new(bytes)),
            segment: -1,
            position: 0,
            delete_horizon: None,
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Where the files have it.
    fn file(&self) -> Option<FilePos> {
        (self.segment >= 0).then_some(FilePos {
            segment: self.segment,
            position: self.position,
        })
    }

    /// Records where the files have it (`None`: they do not, or no longer).
    fn set_file(&mut self, at: Option<FilePos>) {
        match at {
            Some(at) => {
                self.segment = at.segment;
                self.position = at.position;
            }
            None => self.segment = -1,
        }
    }

    /// Always false: a batch has a header.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What it costs in memory: its bytes while held, else its entry.
    fn footprint(&self) -> usize {
        if self.bytes.is_some() {
            self.len()
        } else {
            ENTRY_BYTES
        }
    }
}

/// The in-memory log of one partition.
#[derive(Debug)]
pub struct PartitionLog {
    batches: VecDeque<StoredBatch>,
    log_start_offset: i64,
    next_offset: i64,
    bytes_held: usize,
    retention_bytes: usize,
    producers: ProducerStates,
    /// Producer id -> offset of the first batch of its open transaction here.
    open_txns: HashMap<i64, i64>,
    /// Aborted transactions, in marker order (so also ordered by last offset).
    aborted: VecDeque<AbortedTxn>,
    /// The last stable offset at the last cleaning pass: a pass with nothing new to clean and
    /// no delete horizon come due does nothing.
    cleaned_to: i64,
    /// The fetches waiting for this log to change.
    fetches: Arc<Notify>,
    /// The broker's budget, which `bytes_held` is part of.
    memory: Arc<MemoryBudget>,
    /// The partition's segment files, with a data dir (`disk/`).
    files: Option<PartitionFiles>,
    /// With files: batches from this index on may hold their bytes in memory; those before
    /// it do not (unless a compaction rewrite failed).
    hot_from: usize,
    /// With files: bytes of the batches from `hot_from` on held in memory.
    hot_bytes: usize,
    /// What this log counts against `memory`.
    in_memory: usize,
    /// Whether it has files (also while `files` is taken out to read them back).
    on_disk: bool,
}

/// Why a transaction marker could not be appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The marker batch could not be built.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The data dir refused the write.
    #[error("cannot write the partition log: {0}")]
    Disk(#[from] std::io::Error),
}

impl Drop for PartitionLog {
    /// A fetch waiting on a deleted partition answers at once (with the error) rather than
    /// at its timeout.
    fn drop(&mut self) {
        self.wake_fetches();
        self.memory.release(self.in_memory);
    }
}

/// What one cleaning pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleaned {
    /// Records removed: older values, tombstones and markers past their horizon, aborted data.
    pub records: usize,
    /// Bytes of batch data freed.
    pub bytes: usize,
}

/// An aborted transaction in one partition: what read_committed readers must skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer whose records to skip.
    pub producer_id: i64,
    /// Offset of the transaction's first batch in this partition.
    pub first_offset: i64,
    /// Offset of its ABORT marker.
    pub last_offset: i64,
}

/// Where a read starts, relative to the log.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadStart {
    /// Inside the log: serve from this batch index.
    Batch(usize),
    /// Exactly at the end: nothing to serve yet.
    End,
    /// Below the start or above the end.
    OutOfRange,
}

impl PartitionLog {
    /// An empty log that keeps at most `retention_bytes` of batches (at least one batch),
    /// counting them against `memory`.
    pub fn new(retention_bytes: usize, memory: Arc<MemoryBudget>) -> Self {
        PartitionLog {
            batches: VecDeque::new(),
            log_start_offset: 0,
            next_offset: 0,
            bytes_held: 0,
            retention_bytes,
            producers: ProducerStates::default(),
            open_txns: HashMap::new(),
            aborted: VecDeque::new(),
            cleaned_to: 0,
            fetches: Arc::new(Notify::new()),
            memory,
            files: None,
            hot_from: 0,
            hot_bytes: 0,
            in_memory: 0,
            on_disk: false,
        }
    }

    /// This log, written to `files` as well from now on.
    pub fn with_files(mut self, files: PartitionFiles) -> Self {
        self.files = Some(files);
        self.on_disk = true;
        self
    }

    /// Reads back what this log's files hold (see [`PartitionFiles::load`]): the batches, the
    /// idempotent producers' state rebuilt from them as Kafka rebuilds it from its log, open
    /// and aborted transactions, and the log start offset. Retention applies afterwards.
    pub fn load(&mut self, max_batch: usize) -> std::io::Result<()> {
        let Some(mut files) = self.files.take() else {
            return Ok(());
        };
        let loaded = files.load(max_batch, |batch, at| self.restore(batch, at));
        self.files = Some(files);
        if let Some(start) = loaded? {
            self.next_offset = self.next_offset.max(start);
            self.log_start_offset = start;
        } else if let Some(first) = self.batches.front() {
            self.log_start_offset = first.base_offset;
        } else {
            self.log_start_offset = self.next_offset;
        }
        self.drop_below_start();
        self.enforce_retention();
        Ok(())
    }

    /// Appends a batch read back from disk, replaying what it means for producers and
    /// transactions.
    fn restore(&mut self, batch: RecordBatch, at: FilePos) {
        let (base, last) = (batch.base_offset(), batch.last_offset());
        let producer_id = batch.producer_id();
        if producer_id >= 0 {
            if batch.is_control() {
                let commit = batch
                    .records()
                    .ok()
                    .and_then(|mut records| records.next())
                    .and_then(Result::ok)
                    .and_then(|r| r.control_type().ok())
                    .is_some_and(|kind| kind == ControlRecordType::Commit);
                self.close_transaction(producer_id, commit, base);
                self.producers
                    .end_transaction(producer_id, batch.producer_epoch());
            } else {
                if batch.is_transactional() {
                    self.begin_transaction(producer_id, base);
                }
                self.producers.restore(
                    ProducerBatch {
                        producer_id,
                        epoch: batch.producer_epoch(),
                        first_seq: batch.base_sequence(),
                        last_seq: batch.last_sequence(),
                    },
                    Placement {
                        base_offset: base,
                        last_offset: last,
                        timestamp: batch.max_timestamp(),
                    },
                );
            }
        }
        let mut stored = StoredBatch::new(base, last, batch.max_timestamp(), batch.into_bytes());
        stored.set_file(Some(at));
        self.next_offset = last + 1;
        self.push(stored);
    }

    /// Producers with a transaction open here, with the epoch they wrote it with.
    pub fn open_transactions(&self) -> Vec<(i64, i16)> {
        let mut open: Vec<(i64, i16)> = self
            .open_txns
            .keys()
            .map(|id| (*id, self.producers.epoch(*id).unwrap_or(0)))
            .collect();
        open.sort_unstable();
        open
    }

    /// The largest producer id with state here.
    pub fn max_producer_id(&self) -> Option<i64> {
        self.producers.max_producer_id()
    }

    /// Adds `batch` at the end, counted; with files, older batches' bytes then leave memory
    /// past [`HOT_BYTES`].
    fn push(&mut self, batch: StoredBatch) {
        self.bytes_held += batch.len();
        self.hold(batch.footprint());
        if batch.bytes.is_some() {
            self.hot_bytes += batch.len();
        }
        self.batches.push_back(batch);
        self.cool();
    }

    fn hold(&mut self, bytes: usize) {
        self.in_memory += bytes;
        self.memory.hold(bytes);
    }

    fn release(&mut self, bytes: usize) {
        self.in_memory -= bytes;
        self.memory.release(bytes);
    }

    /// Removes the first batch, uncounted.
    fn pop_front(&mut self) -> Option<StoredBatch> {
        let old = self.batches.pop_front()?;
        self.bytes_held -= old.len();
        self.release(old.footprint());
        if self.hot_from > 0 {
            self.hot_from -= 1;
        } else if old.bytes.is_some() {
            self.hot_bytes = self.hot_bytes.saturating_sub(old.len());
        }
        Some(old)
    }

    /// With files: drops the bytes of the oldest batches held in memory until at most
    /// [`HOT_BYTES`] are (their files have them).
    fn cool(&mut self) {
        if !self.on_disk {
            return;
        }
        while self.hot_bytes > HOT_BYTES {
            let Some(batch) = self.batches.get_mut(self.hot_from) else {
                break;
            };
            self.hot_from += 1;
            if batch.bytes.is_none() {
                continue;
            }
            if batch.file().is_none() {
                // Only in memory (a compaction rewrite failed): it stays, out of the count.
                self.hot_bytes -= batch.len();
                continue;
            }
            let held = batch.footprint();
            batch.bytes = None;
            self.hot_bytes -= batch.len();
            self.release(held);
            self.hold(ENTRY_BYTES);
        }
    }

    /// The bytes of `batch`: from memory, or read from the files.
    fn bytes_of(&self, batch: &StoredBatch) -> std::io::Result<Bytes> {
        match (batch.bytes.as_deref(), batch.file(), &self.files) {
            (Some(bytes), _, _) => Ok(bytes.clone()),
            (None, Some(at), Some(files)) => files.read(at, batch.len()),
            _ => Err(std::io::Error::other(
                "a batch neither in memory nor on disk",
            )),
        }
    }

    /// Resolves at the next change of this log that a waiting fetch may want to see (see the
    /// module header). Take it under the topics lock before reading, so that no change
    /// between the read and the wait is missed.
    pub fn changed(&self) -> OwnedNotified {
        Arc::clone(&self.fetches).notified_owned()
    }

    /// Wakes the fetches waiting on this log. Called with the topics lock held: they look
    /// again once it is released, and see the whole change.
    pub fn wake_fetches(&self) {
        self.fetches.notify_waiters();
    }

    /// The idempotent producers that wrote here.
    pub fn producers(&self) -> &ProducerStates {
        &self.producers
    }

    /// The idempotent producers, to record an append.
    pub fn producers_mut(&mut self) -> &mut ProducerStates {
        &mut self.producers
    }

    /// The first offset still held.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next record will get; also the high watermark, as there are no followers.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Bytes of batch data held.
    pub fn bytes_held(&self) -> usize {
        self.bytes_held
    }

    /// Appends a batch whose offsets were assigned from [`Self::next_offset`]; with a data dir
    /// it is written to the active segment first, and a failed write leaves the log as it was.
    pub fn append(&mut self, mut batch: StoredBatch) -> std::io::Result<()> {
        debug_assert_eq!(batch.base_offset, self.next_offset);
        if let (Some(files), Some(bytes)) = (self.files.as_mut(), batch.bytes.as_deref()) {
            let at = files.append(bytes, batch.base_offset, batch.last_offset)?;
            batch.set_file(Some(at));
        }
        self.next_offset = batch.last_offset + 1;
        self.push(batch);
        self.enforce_retention();
        self.wake_fetches();
        Ok(())
    }

    /// Changes how many bytes of batches this log keeps (a topic's `retention.bytes` altered),
    /// dropping the oldest batches at once if it holds more.
    pub fn set_retention_bytes(&mut self, retention_bytes: usize) {
        self.retention_bytes = retention_bytes;
        self.enforce_retention();
    }

    fn enforce_retention(&mut self) {
        let start = self.log_start_offset;
        while self.bytes_held > self.retention_bytes && self.batches.len() > 1 {
            if let Some(old) = self.pop_front() {
                self.log_start_offset = old.last_offset + 1;
            }
        }
        self.forget_aborted_below_start();
        if self.log_start_offset != start {
            self.start_moved(false);
        }
    }

    /// Tells the files the log start offset moved (saved at once if `save`).
    fn start_moved(&mut self, save: bool) {
        let start = self.log_start_offset;
        if let Some(files) = self.files.as_mut() {
            files.start_moved(start, save);
        }
    }

    /// Frees the batches wholly below the log start offset.
    fn drop_below_start(&mut self) {
        while self
            .batches
            .front()
            .is_some_and(|b| b.last_offset < self.log_start_offset)
        {
            self.pop_front();
        }
        self.forget_aborted_below_start();
    }

    /// Moves the log start offset up to `offset` (DeleteRecords), freeing every batch wholly
    /// below it; the batch that holds `offset` is kept whole, as Kafka keeps the segment that
    /// holds it, and readers skip its records below the start. An `offset` at or below the
    /// start changes nothing. Returns the log start offset after.
    ///
    /// `offset` must not be above the high watermark (the caller answers that with
    /// OFFSET_OUT_OF_RANGE).
    pub fn delete_records_before(&mut self, offset: i64) -> i64 {
        debug_assert!(offset <= self.next_offset);
        if offset > self.log_start_offset {
            self.log_start_offset = offset.min(self.next_offset);
            self.drop_below_start();
            self.start_moved(true);
        }
        self.log_start_offset
    }

    /// Time retention (`retention.ms`): drops batches from the start whose newest timestamp is
    /// below `oldest_kept`, as Kafka deletes whole segments from the start once their largest
    /// timestamp is too old; the log start offset moves past them. Returns how many records
    /// went.
    pub fn expire_before(&mut self, oldest_kept: i64) -> usize {
        let mut records = 0usize;
        while self
            .batches
            .front()
            .is_some_and(|b| b.max_timestamp < oldest_kept)
        {
            if let Some(old) = self.pop_front() {
                self.log_start_offset = old.last_offset + 1;
                records += usize::try_from(old.last_offset - old.base_offset + 1).unwrap_or(0);
            }
        }
        self.forget_aborted_below_start();
        if records > 0 {
            self.start_moved(true);
        }
        records
    }

    /// One pass of Kafka's log cleaner (`cleanup.policy=compact`) at `now_ms`. It cleans the
    /// stable part of the log (below the last stable offset) except the last batch, which
    /// stands for Kafka's active segment, never cleaned:
    /// - of each key only the record at its latest offset stays (records without a key go, as
    ///   the cleaner drops them); offsets are kept, so the log has gaps;
    /// - data of aborted transactions goes;
    /// - tombstones (null values) and transaction markers stay until `delete.retention.ms`
    ///   after the first pass that saw them, then go; a marker only once no data of its
    ///   transaction is left before it.
    ///
    /// The log start offset does not move. A pass with nothing new below the last stable
    /// offset and no horizon come due does nothing.
    pub fn compact(&mut self, now_ms: i64, delete_retention_ms: i64) -> Cleaned {
        let end = self.last_stable_offset();
        let cleanable = self
            .batches
            .partition_point(|b| b.last_offset < end)
            .min(self.batches.len().saturating_sub(1));
        let due = |b: &StoredBatch| b.delete_horizon.is_some_and(|h| h <= now_ms);
        let horizon_due = self.batches.range(..cleanable).any(due);
        if end == self.cleaned_to && !horizon_due {
            return Cleaned::default();
        }
        let horizon = now_ms.saturating_add(delete_retention_ms.max(0));

        // The latest offset of every key in the cleanable part, aborted data left out.
        let mut latest: HashMap<Bytes, i64> = HashMap::new();
        for stored in self.batches.range(..cleanable) {
            let bytes = match self.bytes_of(stored) {
                Ok(bytes) => bytes,
                Err(err) => {
                    tracing::warn!(%err, "compaction: cannot read the log; this pass is skipped");
                    return Cleaned::default();
                }
            };
            let Ok(batch) = RecordBatch::new(bytes) else {
                continue;
            };
            if batch.is_control() || self.is_aborted(&batch) {
                continue;
            }
            for record in batch.records().into_iter().flatten().flatten() {
                if let Some(key) = record.key.clone() {
                    latest.insert(key, record.offset(&batch));
                }
            }
        }

        self.cleaned_to = end;
        let mut cleaned = Cleaned::default();
        let footprint_before: usize = self.batches.iter().map(StoredBatch::footprint).sum();
        let mut kept = VecDeque::with_capacity(self.batches.len());
        // Indices (in `kept`) of the batches the pass changed.
        let mut changed = Vec::new();
        // Per producer: whether data of its current transaction is still in the log.
        let mut txn_data_left: HashMap<i64, bool> = HashMap::new();
        let mut removed_aborts = Vec::new();
        for (index, mut stored) in std::mem::take(&mut self.batches).into_iter().enumerate() {
            // A batch that cannot be read stays as it is.
            let Some(batch) = (index < cleanable)
                .then(|| self.bytes_of(&stored).ok())
                .flatten()
                .and_then(|bytes| RecordBatch::new(bytes).ok())
            else {
                kept.push_back(stored);
                continue;
            };
            let past_horizon = due(&stored);
            let before = stored.len();
            let records = usize::try_from(batch.records_count()).unwrap_or(0);
            let retained = if batch.is_control() {
                let data_left = txn_data_left
                    .insert(batch.producer_id(), false)
                    .unwrap_or(false);
                if past_horizon && !data_left {
                    removed_aborts.push(stored.base_offset);
                    None
                } else {
                    Some(batch)
                }
            } else if self.is_aborted(&batch) {
                None
            } else {
                batch
                    .retain(|r| {
                        let newest = r
                            .key
                            .as_ref()
                            .is_some_and(|k| latest.get(k) == Some(&r.offset(&batch)));
                        newest && (r.value.is_some() || !past_horizon)
                    })
                    .unwrap_or(Some(batch))
            };
            let Some(retained) = retained else {
                cleaned.records += records;
                cleaned.bytes += before;
                continue;
            };
            if retained.is_transactional() && !retained.is_control() {
                txn_data_left.insert(retained.producer_id(), true);
            }
            cleaned.records += records - usize::try_from(retained.records_count()).unwrap_or(0);
            let has_deletes = retained.is_control()
                || retained
                    .records()
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|r| r.value.is_none());
            if has_deletes && stored.delete_horizon.is_none() {
                stored.delete_horizon = Some(horizon);
            }
            let bytes = retained.into_bytes();
            if bytes.len() < before {
                // Changed: held in memory until the rewrite below places it in the files.
                cleaned.bytes += before - bytes.len();
                stored.len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                stored.bytes = Some(Box::new(bytes));
                changed.push(kept.len());
            }
            kept.push_back(stored);
        }
        self.batches = kept;
        self.aborted
            .retain(|a| !removed_aborts.contains(&a.last_offset));
        if cleaned.bytes > 0 {
            self.rewrite_files(&changed);
        }
        self.bytes_held -= cleaned.bytes;
        self.release(footprint_before);
        let footprint_after: usize = self.batches.iter().map(StoredBatch::footprint).sum();
        self.hold(footprint_after);
        self.hot_from = 0;
        self.hot_bytes = self
            .batches
            .iter()
            .filter(|b| b.bytes.is_some())
            .map(|b| b.len())
            .sum();
        self.cool();
        cleaned
    }

    /// After a compaction pass changed the batches at `changed`: the files rewritten to
    /// match (streamed: unchanged batches are copied from the old files), each batch's place
    /// updated. If that fails, the changed batches stay in memory only (the files keep the
    /// uncompacted log, which a restart reads back).
    fn rewrite_files(&mut self, changed: &[usize]) {
        let Some(files) = self.files.as_mut() else {
            return;
        };
        let sources: Option<Vec<_>> = self
            .batches
            .iter()
            .map(|b| {
                let source = match (b.bytes.as_deref(), b.file()) {
                    (Some(bytes), _) => BatchSource::Memory(bytes),
                    (None, Some(at)) => BatchSource::File(at, b.len()),
                    (None, None) => return None,
                };
                Some((b.base_offset, b.last_offset, source))
            })
            .collect();
        let rewritten = sources
            .ok_or_else(|| std::io::Error::other("a batch neither in memory nor on disk"))
            .and_then(|sources| files.rewrite(sources.into_iter()));
        match rewritten {
            Ok(places) => {
                for (batch, at) in self.batches.iter_mut().zip(places) {
                    batch.set_file(Some(at));
                }
            }
            Err(err) => {
                tracing::warn!(%err, "compaction: cannot rewrite the partition's files; the compacted batches stay in memory, and after a restart the files are read uncompacted");
                for &i in changed {
                    if let Some(batch) = self.batches.get_mut(i) {
                        batch.set_file(None);
                    }
                }
            }
        }
    }

    /// Whether `batch` is data of a transaction that was aborted here.
    fn is_aborted(&self, batch: &RecordBatch) -> bool {
        batch.is_transactional()
            && !batch.is_control()
            && self.aborted.iter().any(|a| {
                a.producer_id == batch.producer_id()
                    && (a.first_offset..=a.last_offset).contains(&batch.base_offset())
            })
    }

    fn forget_aborted_below_start(&mut self) {
        while self
            .aborted
            .front()
            .is_some_and(|a| a.last_offset < self.log_start_offset)
        {
            self.aborted.pop_front();
        }
    }

    /// The last stable offset: the first offset of the earliest open transaction, else the
    /// high watermark. read_committed readers see nothing at or above it.
    pub fn last_stable_offset(&self) -> i64 {
        self.open_txns
            .values()
            .min()
            .map_or(self.next_offset, |first| {
                (*first).clamp(self.log_start_offset, self.next_offset)
            })
    }

    /// The first offset of `producer_id`'s open transaction here, if it has one.
    pub fn open_transaction(&self, producer_id: i64) -> Option<i64> {
        self.open_txns.get(&producer_id).copied()
    }

    /// Records that `producer_id`'s transaction wrote its first batch here at `first_offset`
    /// (nothing changes if it already has an open transaction).
    pub fn begin_transaction(&mut self, producer_id: i64, first_offset: i64) {
        self.open_txns.entry(producer_id).or_insert(first_offset);
    }

    /// Appends a COMMIT or ABORT marker for `producer_id` (coordinator epoch 0) and closes its
    /// transaction here; an abort of a transaction that wrote here enters the aborted index.
    /// `log_append_time` stamps the marker as LogAppendTime topics stamp every batch.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        now_ms: i64,
        log_append_time: bool,
    ) -> Result<i64, AppendError> {
        let offset = self.next_offset;
        let marker = EndTxnMarker {
            kind: if commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            },
            coordinator_epoch: 0,
        };
        let mut bytes = BatchBuilder::new()
            .base_offset(offset)
            .producer(producer_id, producer_epoch)
            .end_txn_marker(marker, now_ms)?;
        if log_append_time {
            bytes = RecordBatch::new(bytes)?
                .into_stored(offset, 0, Some(now_ms))?
                .into_bytes();
        }
        self.append(StoredBatch::new(offset, offset, now_ms, bytes))?;
        self.close_transaction(producer_id, commit, offset);
        self.producers.end_transaction(producer_id, producer_epoch);
        Ok(offset)
    }

    /// `producer_id`'s transaction here ended with a marker at `marker_offset`; an abort of a
    /// transaction that wrote here enters the aborted index.
    fn close_transaction(&mut self, producer_id: i64, commit: bool, marker_offset: i64) {
        if let Some(first_offset) = self.open_txns.remove(&producer_id) {
            if !commit {
                self.aborted.push_back(AbortedTxn {
                    producer_id,
                    first_offset,
                    last_offset: marker_offset,
                });
            }
        }
    }

    /// Aborted transactions a read of `[from, upper)` must know about: those whose range
    /// overlaps it (marker at or after `from`, first batch before `upper`), as Kafka collects
    /// them from its transaction index.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < upper)
            .copied()
            .collect()
    }

    /// Locates `offset`.
    pub fn locate(&self, offset: i64) -> ReadStart {
        if offset == self.next_offset {
            return ReadStart::End;
        }
        if offset < self.log_start_offset || offset > self.next_offset {
            return ReadStart::OutOfRange;
        }
        // The first batch whose last offset is at or past `offset` holds it.
        let idx = self.batches.partition_point(|b| b.last_offset < offset);
        if idx < self.batches.len() {
            ReadStart::Batch(idx)
        } else {
            ReadStart::End
        }
    }

    /// Batches from index `from`, stopping before `max_bytes` would be exceeded, but always
    /// including the first one so a large batch cannot stall a consumer.
    pub fn read_from(&self, from: usize, max_bytes: usize) -> std::io::Result<Vec<Bytes>> {
        Ok(self.read_below(from, max_bytes, i64::MAX, true)?.0)
    }

    /// Like [`Self::read_from`], but only batches that start below `end` (the last stable
    /// offset for read_committed readers); also returns the offset after the last batch
    /// returned (`end` of the read, for the aborted-transaction lookup). Without
    /// `first_may_exceed` the first batch too must fit in `max_bytes` (a response that
    /// already holds data). Fails only when a batch held in the files cannot be read from
    /// them.
    pub fn read_below(
        &self,
        from: usize,
        max_bytes: usize,
        end: i64,
        first_may_exceed: bool,
    ) -> std::io::Result<(Vec<Bytes>, i64)> {
        let mut out = Vec::new();
        let mut total = 0usize;
        let mut upper = self
            .batches
            .get(from)
            .map_or(self.next_offset, |b| b.base_offset);
        // Batches next to each other in the files are read with one read.
        let mut run: Option<(FilePos, Vec<usize>)> = None;
        for batch in self.batches.range(from..) {
            let limited = total > 0 || !first_may_exceed;
            if batch.base_offset >= end || (limited && total + batch.len() > max_bytes) {
                break;
            }
            total += batch.len();
            upper = batch.last_offset + 1;
            match (batch.bytes.as_deref(), batch.file()) {
                (None, Some(at)) => {
                    let next_to_run = run.as_ref().is_some_and(|(start, lens)| {
                        start.segment == at.segment
                            && start.position + lens.iter().sum::<usize>() as u64 == at.position
                    });
                    match run.as_mut() {
                        Some((_, lens)) if next_to_run => lens.push(batch.len()),
                        _ => {
                            self.read_run(run.take(), &mut out)?;
                            run = Some((at, vec![batch.len()]));
                        }
                    }
                }
                _ => {
                    self.read_run(run.take(), &mut out)?;
                    out.push(self.bytes_of(batch)?);
                }
            }
        }
        self.read_run(run, &mut out)?;
        Ok((out, upper))
    }

    /// Reads batches of the lengths `lens` lying one after the other in the files from
    /// `start`, with one read, into `out`.
    fn read_run(
        &self,
        run: Option<(FilePos, Vec<usize>)>,
        out: &mut Vec<Bytes>,
    ) -> std::io::Result<()> {
        let Some((start, lens)) = run else {
            return Ok(());
        };
        let files = self.files.as_ref().ok_or_else(|| {
            std::io::Error::other("a batch placed in files the log does not have")
        })?;
        let mut bytes = files.read(start, lens.iter().sum())?;
        for len in lens {
            out.push(bytes.split_to(len));
        }
        Ok(())
    }

    /// The first record with a timestamp at or after `ts`, as `(offset, timestamp)`.
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        let batch = self.batches.iter().find(|b| b.max_timestamp >= ts)?;
        self.first_record_at_or_after(batch, ts)
    }

    /// The first record with the largest timestamp in the log, as `(offset, timestamp)`.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let batch = self
            .batches
            .iter()
            .fold(None, |best: Option<&StoredBatch>, b| match best {
                Some(x) if x.max_timestamp >= b.max_timestamp => Some(x),
                _ => Some(b),
            })?;
        self.first_record_at_or_after(batch, batch.max_timestamp)
    }

    /// Scans one stored batch for its first record stamped at or after `ts`. Stored batches
    /// were validated on append, so a parse failure here means nothing matches rather than
    /// an error; a batch the files cannot give back is logged and matches nothing.
    fn first_record_at_or_after(&self, batch: &StoredBatch, ts: i64) -> Option<(i64, i64)> {
        let bytes = self
            .bytes_of(batch)
            .map_err(|err| tracing::warn!(%err, offset = batch.base_offset, "cannot read a batch to look up a timestamp"))
            .ok()?;
        let view = RecordBatch::new(bytes).ok()?;
        if view.timestamp_type() == TimestampType::LogAppendTime {
            return Some((batch.base_offset, batch.max_timestamp));
        }
        view.records().ok()?.filter_map(Result::ok).find_map(|r| {
            let at = r.timestamp(&view);
            (at >= ts).then(|| (r.offset(&view), at))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokafka_protocol::record::{BatchBuilder, RecordInput};

    fn unlimited() -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget::unlimited())
    }

    #[test]
    fn the_budget_counts_what_the_log_holds_until_it_is_dropped() {
        let memory = Arc::new(MemoryBudget::new(1 << 20));
        let mut log = PartitionLog::new(250, Arc::clone(&memory));
        log.append(batch(0, 3, 1_000, 100)).unwrap();
        assert_eq!(memory.held(), log.bytes_held());
        log.append(batch(3, 3, 1_000, 100)).unwrap();
        log.append(batch(6, 3, 1_000, 100)).unwrap();
        assert!(log.log_start_offset() > 0, "retention dropped some");
        assert_eq!(memory.held(), log.bytes_held());
        log.delete_records_before(log.next_offset());
        assert_eq!(memory.held(), log.bytes_held());
        drop(log);
        assert_eq!(memory.held(), 0);
    }

    /// A real batch of `n` records stamped `ts, ts+1, ...`, padded to about `size` bytes.
    /// A log on files in a fresh temp dir (removed by the caller), 256 KiB segments.
    fn on_files(tag: &str, memory: Arc<MemoryBudget>) -> (PartitionLog, std::path::PathBuf) {
        let root =
            std::env::temp_dir().join(format!("ferrokafka-log-{tag}-{}", uuid::Uuid::new_v4()));
        let dir = super::super::disk::DataDir::open(&root, Default::default()).unwrap();
        let log =
            PartitionLog::new(usize::MAX, memory).with_files(dir.partition("t", 0, 256 << 10));
        (log, root)
    }

    #[test]
    fn with_files_only_the_newest_bytes_stay_in_memory_and_the_rest_reads_back_from_disk() {
        let memory = Arc::new(MemoryBudget::unlimited());
        let (mut log, root) = on_files("cold", Arc::clone(&memory));
        let mut written = Vec::new();
        // 4 MiB in 16 KiB batches of 4 records: 16 segments, 1 MiB kept in memory.
        for i in 0..256 {
            let b = batch(i * 4, 4, 1_000 + i, 16 << 10);
            written.push(b.bytes.as_deref().unwrap().clone());
            log.append(b).unwrap();
        }
        let entries = 256 * ENTRY_BYTES;
        assert!(
            memory.held() <= HOT_BYTES + entries,
            "{} bytes held in memory for {} of log",
            memory.held(),
            log.bytes_held()
        );
        assert!(memory.held() >= HOT_BYTES - (16 << 10));
        assert_eq!(
            log.bytes_held(),
            written.iter().map(Bytes::len).sum::<usize>()
        );
        let read = log.read_from(0, usize::MAX).unwrap();
        assert_eq!(
            read, written,
            "every batch byte for byte, cold ones from the files"
        );
        assert_eq!(
            log.offset_for_timestamp(1_010),
            Some((31, 1_010)),
            "a timestamp lookup in a cold batch (records stamped 1007..=1010 at 28..=31)"
        );
        // Retention drops cold batches; the budget gives back their entries.
        log.delete_records_before(512);
        assert_eq!(log.read_from(0, usize::MAX).unwrap(), written[128..]);
        assert!(memory.held() <= HOT_BYTES + 128 * ENTRY_BYTES);
        drop(log);
        assert_eq!(memory.held(), 0);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn compaction_reads_cold_batches_and_rewrites_the_files() {
        let (mut log, root) = on_files("compact", unlimited());
        let filler = "x".repeat(8 << 10);
        // 300 batches of two keys each, values 8 KiB: well past what stays in memory.
        for i in 0..300i64 {
            let key = format!("k{}", i % 3);
            let records = [(key.as_str(), Some(filler.as_str())), ("last", Some("v"))];
            log.append(keyed(i * 2, &records, None)).unwrap();
        }
        let cleaned = log.compact(2_000, 0);
        assert!(cleaned.records > 500, "{cleaned:?}");
        let left = contents(&log);
        let keys: Vec<&str> = left.iter().map(|(_, k, _)| k.as_str()).collect();
        // The last batch is never cleaned; of the rest, each key's newest record stays.
        assert_eq!(keys, ["k2", "k0", "k1", "last", "k2", "last"]);
        assert_eq!(log.read_from(0, usize::MAX).unwrap().len(), 4);
        // What the files hold after the rewrite is what is served.
        let reread: Vec<i64> = left.iter().map(|(o, _, _)| *o).collect();
        assert_eq!(reread, [592, 594, 596, 597, 598, 599]);
        std::fs::remove_dir_all(root).unwrap();
    }

    fn batch(base: i64, n: i64, ts: i64, size: usize) -> StoredBatch {
        let mut b = BatchBuilder::new().base_offset(base);
        for i in 0..n {
            let value = Bytes::from(vec![b'v'; size / n as usize]);
            b.push(RecordInput {
                timestamp: ts + i,
                value: Some(value),
                ..Default::default()
            })
            .unwrap();
        }
        let bytes = b.build().unwrap();
        StoredBatch::new(base, base + n - 1, ts + n - 1, bytes)
    }

    #[test]
    fn locate_read_and_search_by_time() {
        let mut log = PartitionLog::new(usize::MAX, unlimited());
        log.append(batch(0, 3, 10, 100)).unwrap();
        log.append(batch(3, 2, 30, 100)).unwrap();
        log.append(batch(5, 1, 20, 100)).unwrap();
        assert_eq!(log.next_offset(), 6);
        assert_eq!(log.locate(0), ReadStart::Batch(0));
        assert_eq!(log.locate(4), ReadStart::Batch(1));
        assert_eq!(log.locate(6), ReadStart::End);
        assert_eq!(log.locate(7), ReadStart::OutOfRange);
        let one = log.read_from(0, 1).unwrap().len();
        assert_eq!(one, 1, "always at least one batch");
        assert_eq!(log.read_from(1, usize::MAX).unwrap().len(), 2);
        assert_eq!(log.offset_for_timestamp(11), Some((1, 11)));
        assert_eq!(log.offset_for_timestamp(13), Some((3, 30)));
        assert_eq!(log.offset_for_timestamp(32), None);
        assert_eq!(log.max_timestamp(), Some((4, 31)));
    }

    #[test]
    fn open_transactions_hold_the_last_stable_offset_and_aborts_are_indexed() {
        let mut log = PartitionLog::new(usize::MAX, unlimited());
        log.append(batch(0, 2, 0, 10)).unwrap(); // 0..=1, plain
        log.begin_transaction(7, 2);
        log.append(batch(2, 2, 0, 10)).unwrap(); // 2..=3, producer 7
        log.begin_transaction(8, 4);
        log.append(batch(4, 1, 0, 10)).unwrap(); // 4, producer 8
        log.begin_transaction(7, 99); // already open: keeps its first offset
        assert_eq!(log.last_stable_offset(), 2);
        assert_eq!(log.append_marker(7, 0, false, 5, false).unwrap(), 5);
        assert_eq!(log.last_stable_offset(), 4, "held by producer 8 now");
        assert_eq!(log.append_marker(8, 0, true, 6, false).unwrap(), 6);
        assert_eq!(log.last_stable_offset(), 7);
        assert_eq!(log.next_offset(), 7);
        let aborted = AbortedTxn {
            producer_id: 7,
            first_offset: 2,
            last_offset: 5,
        };
        assert_eq!(log.aborted_transactions(0, 7), vec![aborted]);
        assert_eq!(log.aborted_transactions(5, 7), vec![aborted]);
        assert!(
            log.aborted_transactions(6, 7).is_empty(),
            "marker before the read"
        );
        assert!(
            log.aborted_transactions(0, 2).is_empty(),
            "first batch after the read"
        );
        // A marker for a transaction that wrote nothing here indexes nothing.
        log.append_marker(9, 0, false, 7, false).unwrap();
        assert_eq!(log.aborted_transactions(0, 100).len(), 1);
        // read_committed reads stop below the end given.
        let (read, upper) = log.read_below(0, usize::MAX, 4, true).unwrap();
        assert_eq!((read.len(), upper), (2, 4));
    }

    #[test]
    fn retention_drops_old_aborted_entries() {
        let mut log = PartitionLog::new(250, unlimited());
        log.begin_transaction(7, 0);
        log.append(batch(0, 1, 0, 100)).unwrap();
        log.append_marker(7, 0, false, 1, false).unwrap();
        assert_eq!(log.aborted_transactions(0, 10).len(), 1);
        for i in 0..4 {
            let at = log.next_offset();
            log.append(batch(at, 1, i, 100)).unwrap();
        }
        assert!(log.log_start_offset() > 1);
        assert!(log.aborted_transactions(0, 10).is_empty());
    }

    #[test]
    fn deleting_records_moves_the_start_and_frees_whole_batches_only() {
        let mut log = PartitionLog::new(usize::MAX, unlimited());
        for base in [0, 4, 8] {
            log.append(batch(base, 4, 0, 40)).unwrap();
        }
        let one = log.bytes_held() / 3;
        // Inside the second batch: the first is freed, the second kept whole.
        assert_eq!(log.delete_records_before(6), 6);
        assert_eq!((log.log_start_offset(), log.bytes_held()), (6, 2 * one));
        assert_eq!(log.locate(5), ReadStart::OutOfRange);
        assert_eq!(log.locate(6), ReadStart::Batch(0));
        // Below the start: nothing changes.
        assert_eq!(log.delete_records_before(2), 6);
        // Up to the high watermark: everything freed, reads start at the end.
        assert_eq!(log.delete_records_before(12), 12);
        assert_eq!((log.bytes_held(), log.next_offset()), (0, 12));
        assert_eq!(log.locate(12), ReadStart::End);
    }

    #[test]
    fn retention_moves_start_offset() {
        let mut log = PartitionLog::new(250, unlimited());
        for i in 0..5 {
            log.append(batch(i * 2, 2, i, 100)).unwrap();
        }
        assert!(log.bytes_held() <= 250);
        assert_eq!(log.log_start_offset(), 8);
        assert_eq!(log.locate(7), ReadStart::OutOfRange);
        assert_eq!(log.locate(8), ReadStart::Batch(0));
    }

    /// A batch of keyed records (`None` value: a tombstone), optionally transactional for
    /// `producer`.
    fn keyed(base: i64, records: &[(&str, Option<&str>)], producer: Option<i64>) -> StoredBatch {
        let mut b = BatchBuilder::new().base_offset(base);
        if let Some(id) = producer {
            b = b.producer(id, 0).base_sequence(0).transactional(true);
        }
        for (key, value) in records {
            b.push(RecordInput {
                timestamp: 1_000,
                key: Some(Bytes::copy_from_slice(key.as_bytes())),
                value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
                ..Default::default()
            })
            .unwrap();
        }
        let n = records.len() as i64;
        StoredBatch::new(base, base + n - 1, 1_000, b.build().unwrap())
    }

    /// Every record left, as (offset, key, value), batch by batch.
    fn contents(log: &PartitionLog) -> Vec<(i64, String, Option<String>)> {
        let text = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
        let mut out = Vec::new();
        for stored in &log.batches {
            let batch = RecordBatch::new(log.bytes_of(stored).unwrap()).unwrap();
            batch.verify_crc().unwrap();
            if batch.is_control() {
                out.push((batch.base_offset(), "<marker>".to_owned(), None));
                continue;
            }
            for r in batch.records().unwrap() {
                let r = r.unwrap();
                out.push((r.offset(&batch), text(r.key).unwrap(), text(r.value)));
            }
        }
        out
    }

    #[test]
    fn compaction_keeps_the_latest_value_per_key_and_tombstones_until_their_horizon() {
        let mut log = PartitionLog::new(usize::MAX, unlimited());
        log.append(keyed(0, &[("a", Some("1")), ("b", Some("1"))], None))
            .unwrap();
        log.append(keyed(2, &[("a", Some("2")), ("b", None)], None))
            .unwrap();
        log.append(keyed(4, &[("c", Some("1"))], None)).unwrap();
        log.append(keyed(5, &[("a", Some("3"))], None)).unwrap(); // the last batch: never cleaned
        let before = log.bytes_held();
        let first = log.compact(10_000, 100);
        assert_eq!(first.records, 2, "a=1 and b=1");
        assert_eq!(
            contents(&log),
            vec![
                (2, "a".into(), Some("2".into())),
                (3, "b".into(), None),
                (4, "c".into(), Some("1".into())),
                (5, "a".into(), Some("3".into())),
            ]
        );
        assert_eq!(log.bytes_held(), before - first.bytes);
        assert_eq!((log.log_start_offset(), log.next_offset()), (0, 6));
        assert_eq!(log.locate(0), ReadStart::Batch(0), "reads skip the gap");

        // Nothing new and no horizon due: nothing happens.
        assert_eq!(log.compact(10_050, 100), Cleaned::default());
        // The tombstone's horizon (10_000 + 100) has passed: it goes.
        let second = log.compact(10_100, 100);
        assert_eq!(second.records, 1);
        assert_eq!(
            contents(&log),
            vec![
                (2, "a".into(), Some("2".into())),
                (4, "c".into(), Some("1".into())),
                (5, "a".into(), Some("3".into())),
            ]
        );
        // A new record makes a = 3 cleanable: a = 2 goes.
        log.append(keyed(6, &[("d", Some("1"))], None)).unwrap();
        log.compact(10_200, 100);
        assert_eq!(
            contents(&log),
            vec![
                (4, "c".into(), Some("1".into())),
                (5, "a".into(), Some("3".into())),
                (6, "d".into(), Some("1".into())),
            ]
        );
    }

    #[test]
    fn compaction_drops_aborted_data_then_markers_and_stops_at_open_transactions() {
        let mut log = PartitionLog::new(usize::MAX, unlimited());
        log.begin_transaction(7, 0);
        log.append(keyed(0, &[("a", Some("aborted"))], Some(7)))
            .unwrap();
        log.append_marker(7, 0, false, 1_000, false).unwrap(); // 1
        log.begin_transaction(8, 2);
        log.append(keyed(2, &[("a", Some("committed"))], Some(8)))
            .unwrap();
        log.append_marker(8, 0, true, 1_000, false).unwrap(); // 3
        log.begin_transaction(9, 4);
        log.append(keyed(4, &[("a", Some("open"))], Some(9)))
            .unwrap();
        log.append(keyed(5, &[("z", Some("1"))], None)).unwrap();
        log.compact(10_000, 0);
        assert_eq!(
            contents(&log),
            vec![
                (1, "<marker>".into(), None),
                (2, "a".into(), Some("committed".into())),
                (3, "<marker>".into(), None),
                (4, "a".into(), Some("open".into())),
                (5, "z".into(), Some("1".into())),
            ],
            "aborted data gone; open transaction (above the LSO) untouched"
        );
        // Past the horizon: the ABORT marker goes with its index entry; the COMMIT marker
        // stays while its transaction's data does.
        log.compact(10_001, 0);
        assert_eq!(
            contents(&log),
            vec![
                (2, "a".into(), Some("committed".into())),
                (3, "<marker>".into(), None),
                (4, "a".into(), Some("open".into())),
                (5, "z".into(), Some("1".into())),
            ]
        );
        assert!(log.aborted_transactions(0, 10).is_empty());
    }

    #[test]
    fn time_retention_drops_old_batches_from_the_start() {
        let mut log = PartitionLog::new(usize::MAX, unlimited());
        log.append(batch(0, 2, 100, 10)).unwrap();
        log.append(batch(2, 2, 300, 10)).unwrap();
        log.append(batch(4, 2, 200, 10)).unwrap();
        assert_eq!(log.expire_before(150), 2);
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(
            log.expire_before(250),
            0,
            "from the start only, as segments go"
        );
        assert_eq!(log.expire_before(1_000), 4);
        assert_eq!((log.log_start_offset(), log.next_offset()), (6, 6));
        assert_eq!(log.bytes_held(), 0);
    }
}
