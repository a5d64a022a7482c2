//! One partition's log: record batches in memory, in offset order.
//!
//! Batches are kept exactly as they will be served (offsets already assigned, CRC valid), so a
//! fetch is a matter of picking byte ranges. A retention limit in bytes drops the oldest
//! batches and moves the log start offset; readers below it get OFFSET_OUT_OF_RANGE.
//! Idempotent producers' state lives with the log it guards but outlives retention, as in
//! Kafka, where moving the log start offset leaves producer entries alone.

use std::collections::VecDeque;

use bytes::Bytes;
use ferrokafka_protocol::record::{RecordBatch, TimestampType};

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
        while self.bytes_held > self.retention_bytes && self.batches.len() > 1 {
            if let Some(old) = self.batches.pop_front() {
                self.bytes_held -= old.bytes.len();
                self.log_start_offset = old.last_offset + 1;
            }
        }
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
        let mut out = Vec::new();
        let mut total = 0usize;
        for batch in self.batches.range(from..) {
            if !out.is_empty() && total + batch.bytes.len() > max_bytes {
                break;
            }
            total += batch.bytes.len();
            out.push(batch.bytes.clone());
        }
        out
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
