//! One partition's log: record batches in memory, in offset order.
//!
//! Batches are kept exactly as they will be served (offsets already assigned, CRC valid), so a
//! fetch is a matter of picking byte ranges. A retention limit in bytes drops the oldest
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

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use ferrokafka_protocol::record::{
    BatchBuilder, ControlRecordType, EndTxnMarker, RecordBatch, RecordError, TimestampType,
};

use super::producers::ProducerStates;

/// A batch as stored: its offsets and timestamps, and its wire bytes.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Largest record timestamp in the batch (or the append time for LogAppendTime topics).
    pub max_timestamp: i64,
    /// The whole batch, ready to send.
    pub bytes: Bytes,
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
    /// An empty log that keeps at most `retention_bytes` of batches (at least one batch).
    pub fn new(retention_bytes: usize) -> Self {
        PartitionLog {
            batches: VecDeque::new(),
            log_start_offset: 0,
            next_offset: 0,
            bytes_held: 0,
            retention_bytes,
            producers: ProducerStates::default(),
            open_txns: HashMap::new(),
            aborted: VecDeque::new(),
        }
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

    /// Appends a batch whose offsets were assigned from [`Self::next_offset`].
    pub fn append(&mut self, batch: StoredBatch) {
        debug_assert_eq!(batch.base_offset, self.next_offset);
        self.next_offset = batch.last_offset + 1;
        self.bytes_held += batch.bytes.len();
        self.batches.push_back(batch);
        self.enforce_retention();
    }

    /// Changes how many bytes of batches this log keeps (a topic's `retention.bytes` altered),
    /// dropping the oldest batches at once if it holds more.
    pub fn set_retention_bytes(&mut self, retention_bytes: usize) {
        self.retention_bytes = retention_bytes;
        self.enforce_retention();
    }

    fn enforce_retention(&mut self) {
        while self.bytes_held > self.retention_bytes && self.batches.len() > 1 {
            if let Some(old) = self.batches.pop_front() {
                self.bytes_held -= old.bytes.len();
                self.log_start_offset = old.last_offset + 1;
            }
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
            while self
                .batches
                .front()
                .is_some_and(|b| b.last_offset < self.log_start_offset)
            {
                if let Some(old) = self.batches.pop_front() {
                    self.bytes_held -= old.bytes.len();
                }
            }
            self.forget_aborted_below_start();
        }
        self.log_start_offset
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
    ) -> Result<i64, RecordError> {
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
        self.append(StoredBatch {
            base_offset: offset,
            last_offset: offset,
            max_timestamp: now_ms,
            bytes,
        });
        if let Some(first_offset) = self.open_txns.remove(&producer_id) {
            if !commit {
                self.aborted.push_back(AbortedTxn {
                    producer_id,
                    first_offset,
                    last_offset: offset,
                });
            }
        }
        self.producers.end_transaction(producer_id, producer_epoch);
        Ok(offset)
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
    pub fn read_from(&self, from: usize, max_bytes: usize) -> Vec<Bytes> {
        self.read_below(from, max_bytes, i64::MAX).0
    }

    /// Like [`Self::read_from`], but only batches that start below `end` (the last stable
    /// offset for read_committed readers); also returns the offset after the last batch
    /// returned (`end` of the read, for the aborted-transaction lookup).
    pub fn read_below(&self, from: usize, max_bytes: usize, end: i64) -> (Vec<Bytes>, i64) {
        let mut out = Vec::new();
        let mut total = 0usize;
        let mut upper = self
            .batches
            .get(from)
            .map_or(self.next_offset, |b| b.base_offset);
        for batch in self.batches.range(from..) {
            if batch.base_offset >= end
                || (!out.is_empty() && total + batch.bytes.len() > max_bytes)
            {
                break;
            }
            total += batch.bytes.len();
            out.push(batch.bytes.clone());
            upper = batch.last_offset + 1;
        }
        (out, upper)
    }

    /// The first record with a timestamp at or after `ts`, as `(offset, timestamp)`.
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        let batch = self.batches.iter().find(|b| b.max_timestamp >= ts)?;
        first_record_at_or_after(batch, ts)
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
        first_record_at_or_after(batch, batch.max_timestamp)
    }
}

/// Scans one stored batch for its first record stamped at or after `ts`. Stored batches were
/// validated on append, so a parse failure here means nothing matches rather than an error.
fn first_record_at_or_after(batch: &StoredBatch, ts: i64) -> Option<(i64, i64)> {
    let view = RecordBatch::new(batch.bytes.clone()).ok()?;
    if view.timestamp_type() == TimestampType::LogAppendTime {
        return Some((batch.base_offset, batch.max_timestamp));
    }
    view.records().ok()?.filter_map(Result::ok).find_map(|r| {
        let at = r.timestamp(&view);
        (at >= ts).then(|| (r.offset(&view), at))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokafka_protocol::record::{BatchBuilder, RecordInput};

    /// A real batch of `n` records stamped `ts, ts+1, ...`, padded to about `size` bytes.
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
        StoredBatch {
            base_offset: base,
            last_offset: base + n - 1,
            max_timestamp: ts + n - 1,
            bytes,
        }
    }

    #[test]
    fn locate_read_and_search_by_time() {
        let mut log = PartitionLog::new(usize::MAX);
        log.append(batch(0, 3, 10, 100));
        log.append(batch(3, 2, 30, 100));
        log.append(batch(5, 1, 20, 100));
        assert_eq!(log.next_offset(), 6);
        assert_eq!(log.locate(0), ReadStart::Batch(0));
        assert_eq!(log.locate(4), ReadStart::Batch(1));
        assert_eq!(log.locate(6), ReadStart::End);
        assert_eq!(log.locate(7), ReadStart::OutOfRange);
        let one = log.read_from(0, 1).len();
        assert_eq!(one, 1, "always at least one batch");
        assert_eq!(log.read_from(1, usize::MAX).len(), 2);
        assert_eq!(log.offset_for_timestamp(11), Some((1, 11)));
        assert_eq!(log.offset_for_timestamp(13), Some((3, 30)));
        assert_eq!(log.offset_for_timestamp(32), None);
        assert_eq!(log.max_timestamp(), Some((4, 31)));
    }

    #[test]
    fn open_transactions_hold_the_last_stable_offset_and_aborts_are_indexed() {
        let mut log = PartitionLog::new(usize::MAX);
        log.append(batch(0, 2, 0, 10)); // 0..=1, plain
        log.begin_transaction(7, 2);
        log.append(batch(2, 2, 0, 10)); // 2..=3, producer 7
        log.begin_transaction(8, 4);
        log.append(batch(4, 1, 0, 10)); // 4, producer 8
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
        let (read, upper) = log.read_below(0, usize::MAX, 4);
        assert_eq!((read.len(), upper), (2, 4));
    }

    #[test]
    fn retention_drops_old_aborted_entries() {
        let mut log = PartitionLog::new(250);
        log.begin_transaction(7, 0);
        log.append(batch(0, 1, 0, 100));
        log.append_marker(7, 0, false, 1, false).unwrap();
        assert_eq!(log.aborted_transactions(0, 10).len(), 1);
        for i in 0..4 {
            let at = log.next_offset();
            log.append(batch(at, 1, i, 100));
        }
        assert!(log.log_start_offset() > 1);
        assert!(log.aborted_transactions(0, 10).is_empty());
    }

    #[test]
    fn deleting_records_moves_the_start_and_frees_whole_batches_only() {
        let mut log = PartitionLog::new(usize::MAX);
        for base in [0, 4, 8] {
            log.append(batch(base, 4, 0, 40));
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
        let mut log = PartitionLog::new(250);
        for i in 0..5 {
            log.append(batch(i * 2, 2, i, 100));
        }
        assert!(log.bytes_held() <= 250);
        assert_eq!(log.log_start_offset(), 8);
        assert_eq!(log.locate(7), ReadStart::OutOfRange);
        assert_eq!(log.locate(8), ReadStart::Batch(0));
    }
}
