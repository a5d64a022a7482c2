//! [`RecordBatch`], a read-only view of one v2 batch, and [`BatchIter`], which splits a records
//! blob (what Fetch responses and Produce requests carry) into batches.
//!
//! The view owns a `Bytes` and a copy of the 61-byte header parsed once at construction, so
//! accessors are plain field reads and cloning costs a reference-count bump.
//!
//! Constructing a view checks framing only (size, magic, length); the CRC is checked on demand
//! with [`RecordBatch::verify_crc`], because a client may choose not to pay for it and the broker
//! checks it as part of [`RecordBatch::into_stored`].

use std::fmt;

use bytes::Bytes;

use super::compression::decompress;
use super::cursor::Cursor;
use super::layout::{
    self, CONTROL_BIT, HEADER_UP_TO_MAGIC, LOG_OVERHEAD, MIN_BATCH_LENGTH, RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_BIT, TRANSACTIONAL_BIT,
};
use super::records::RecordIter;
use super::{Compression, RecordError, DEFAULT_MAX_DECOMPRESSED, MAGIC_V2, NO_SEQUENCE};

/// Where a batch's timestamps come from (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer; each record has its own.
    #[default]
    CreateTime,
    /// Set by the broker on append; every record's timestamp is the batch's `maxTimestamp`.
    LogAppendTime,
}

/// The fixed header fields, parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchHeader {
    base_offset: i64,
    batch_length: i32,
    partition_leader_epoch: i32,
    magic: i8,
    crc: u32,
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records_count: i32,
}

impl BatchHeader {
    fn parse(bytes: &Bytes) -> Result<Self, RecordError> {
        let mut c = Cursor::new(bytes.clone());
        Ok(Self {
            base_offset: c.i64()?,
            batch_length: c.i32()?,
            partition_leader_epoch: c.i32()?,
            magic: c.i8()?,
            crc: c.u32()?,
            attributes: c.i16()?,
            last_offset_delta: c.i32()?,
            base_timestamp: c.i64()?,
            max_timestamp: c.i64()?,
            producer_id: c.i64()?,
            producer_epoch: c.i16()?,
            base_sequence: c.i32()?,
            records_count: c.i32()?,
        })
    }
}

/// What the start of a buffer says about the batch there.
enum Peek {
    /// Not enough bytes to hold what the header promises; `needed` in total.
    Incomplete { needed: usize },
    /// A complete batch of `len` bytes.
    Complete { len: usize },
}

/// Framing checks shared by [`RecordBatch::new`] and [`BatchIter`]. Magic is looked at before
/// the length so that a legacy message set is reported as such, not as a bad length.
fn peek(buf: &[u8]) -> Result<Peek, RecordError> {
    let (Some(magic), Some(batch_length)) = (
        layout::i8_at(buf, layout::MAGIC),
        layout::i32_at(buf, layout::BATCH_LENGTH),
    ) else {
        return Ok(Peek::Incomplete {
            needed: HEADER_UP_TO_MAGIC,
        });
    };
    if magic != MAGIC_V2 {
        return Err(RecordError::UnsupportedMagic(magic));
    }
    if batch_length < MIN_BATCH_LENGTH {
        return Err(RecordError::BadBatchLength(batch_length));
    }
    let len = usize::try_from(batch_length)
        .ok()
        .and_then(|l| l.checked_add(LOG_OVERHEAD))
        .ok_or(RecordError::BadBatchLength(batch_length))?;
    if buf.len() < len {
        Ok(Peek::Incomplete { needed: len })
    } else {
        Ok(Peek::Complete { len })
    }
}

/// A zero-copy view of one magic-v2 record batch.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordBatch {
    bytes: Bytes,
    header: BatchHeader,
}

impl fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The header is what anyone debugging wants; the body could be megabytes.
        f.debug_struct("RecordBatch")
            .field("size", &self.bytes.len())
            .field("header", &self.header)
            .finish()
    }
}

impl RecordBatch {
    /// Views `bytes`, which must hold exactly one batch.
    pub fn new(bytes: Bytes) -> Result<Self, RecordError> {
        match peek(&bytes)? {
            Peek::Incomplete { needed } => Err(RecordError::Truncated {
                needed,
                available: bytes.len(),
            }),
            Peek::Complete { len } if len != bytes.len() => Err(RecordError::BatchLengthMismatch {
                declared: len,
                actual: bytes.len(),
            }),
            Peek::Complete { .. } => Self::from_framed(bytes),
        }
    }

    /// `bytes` already passed [`peek`] with its exact length.
    fn from_framed(bytes: Bytes) -> Result<Self, RecordError> {
        let header = BatchHeader::parse(&bytes)?;
        Ok(Self { bytes, header })
    }

    /// Splits a records blob into batches; see [`BatchIter`].
    pub fn iter_blob(blob: Bytes) -> BatchIter {
        BatchIter::new(blob)
    }

    /// `baseOffset`: the offset of the first record (assigned by the broker).
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    /// `batchLength`: bytes after this field, i.e. `size() - 12`.
    pub fn batch_length(&self) -> i32 {
        self.header.batch_length
    }

    /// `partitionLeaderEpoch`, stamped by the broker; outside the CRC.
    pub fn partition_leader_epoch(&self) -> i32 {
        self.header.partition_leader_epoch
    }

    /// Always 2 for a constructed view.
    pub fn magic(&self) -> i8 {
        self.header.magic
    }

    /// The stored CRC-32C (not verified; see [`verify_crc`](Self::verify_crc)).
    pub fn crc(&self) -> u32 {
        self.header.crc
    }

    /// The raw attribute bits.
    pub fn attributes(&self) -> i16 {
        self.header.attributes
    }

    /// `lastOffsetDelta`: last record's offset minus `baseOffset`.
    pub fn last_offset_delta(&self) -> i32 {
        self.header.last_offset_delta
    }

    /// `baseTimestamp`: the first record's create time.
    pub fn base_timestamp(&self) -> i64 {
        self.header.base_timestamp
    }

    /// `maxTimestamp`: the largest record timestamp, or the broker's time under LogAppendTime.
    pub fn max_timestamp(&self) -> i64 {
        self.header.max_timestamp
    }

    /// `producerId`, -1 without idempotence.
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    /// `producerEpoch`, -1 without idempotence.
    pub fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }

    /// `baseSequence`, -1 without idempotence.
    pub fn base_sequence(&self) -> i32 {
        self.header.base_sequence
    }

    /// Sequence number of the last record; sequences wrap from `i32::MAX` to 0.
    pub fn last_sequence(&self) -> i32 {
        let base = self.header.base_sequence;
        if base == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        // Sequences live in 0..=i32::MAX, so the sum fits an i64 and the wrap is a modulo.
        let next = (i64::from(base) + i64::from(self.header.last_offset_delta))
            .rem_euclid(i64::from(i32::MAX) + 1);
        i32::try_from(next).unwrap_or(NO_SEQUENCE)
    }

    /// The header's record count (unchecked until [`records`](Self::records) is called).
    pub fn records_count(&self) -> i32 {
        self.header.records_count
    }

    /// The codec named by the attributes; ids 5-7 are an error.
    pub fn compression(&self) -> Result<Compression, RecordError> {
        Compression::from_attributes(self.header.attributes)
    }

    /// Attribute bit 3.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.header.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Attribute bit 4: part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.header.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Attribute bit 5: holds control records (transaction markers), not user data.
    pub fn is_control(&self) -> bool {
        self.header.attributes & CONTROL_BIT != 0
    }

    /// Offset of the last record (`baseOffset + lastOffsetDelta`).
    pub fn last_offset(&self) -> i64 {
        self.header
            .base_offset
            .wrapping_add(i64::from(self.header.last_offset_delta))
    }

    /// The offset after this batch: where the next batch starts.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Total size in bytes, header included.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The batch exactly as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The batch exactly as received, without the view.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// CRC-32C of the bytes the `crc` field covers (attributes to the end).
    pub fn compute_crc(&self) -> u32 {
        // Cannot fail: construction guarantees a full header.
        layout::batch_crc(&self.bytes).unwrap_or_default()
    }

    /// Checks the stored CRC against the contents.
    pub fn verify_crc(&self) -> Result<(), RecordError> {
        let actual = layout::batch_crc(&self.bytes)?;
        if actual == self.header.crc {
            Ok(())
        } else {
            Err(RecordError::BadCrc {
                expected: self.header.crc,
                actual,
            })
        }
    }

    /// The records, decompressing first if needed, with the default inflation cap.
    pub fn records(&self) -> Result<RecordIter, RecordError> {
        self.records_with_limit(DEFAULT_MAX_DECOMPRESSED)
    }

    /// The records; a compressed batch may inflate to at most `max_decompressed` bytes.
    ///
    /// Uncompressed records borrow from this batch's `Bytes`; compressed ones from one fresh
    /// buffer holding the inflated area. The CRC is not checked here.
    pub fn records_with_limit(&self, max_decompressed: usize) -> Result<RecordIter, RecordError> {
        let count = self.header.records_count;
        if count == 0 {
            // Like Java: an empty batch (left behind by compaction) has nothing to decode, so the
            // body is not looked at.
            return Ok(RecordIter::empty());
        }
        let codec = self.compression()?;
        let body = match self.bytes.get(RECORD_BATCH_OVERHEAD..) {
            Some(_) => self.bytes.slice(RECORD_BATCH_OVERHEAD..),
            None => {
                return Err(RecordError::Truncated {
                    needed: RECORD_BATCH_OVERHEAD,
                    available: self.bytes.len(),
                })
            }
        };
        let data = match codec {
            Compression::None => body,
            codec => decompress(codec, &body, max_decompressed)?,
        };
        RecordIter::new(data, count)
    }
}

/// Splits a records blob into batches, without copying.
///
/// A batch cut short at the end of the blob ends the iteration without an error: brokers trim
/// Fetch responses at the byte limit mid-batch, and clients are expected to re-fetch from the
/// last complete batch. [`truncated_tail`](Self::truncated_tail) reports whether that happened.
/// A malformed batch (bad magic, impossible length) yields one `Err`, after which the iterator
/// stops, since the next batch's position is unknown.
#[derive(Debug, Clone)]
pub struct BatchIter {
    rest: Bytes,
    truncated_tail: bool,
    done: bool,
}

impl BatchIter {
    /// Iterates over the batches of `blob`.
    pub fn new(blob: Bytes) -> Self {
        Self {
            rest: blob,
            truncated_tail: false,
            done: false,
        }
    }

    /// True once the iteration has stopped at an incomplete final batch.
    pub fn truncated_tail(&self) -> bool {
        self.truncated_tail
    }

    /// Bytes not yet handed out (the partial batch, after a truncated tail).
    pub fn remaining(&self) -> &Bytes {
        &self.rest
    }
}

impl Iterator for BatchIter {
    type Item = Result<RecordBatch, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        match peek(&self.rest) {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok(Peek::Incomplete { .. }) => {
                self.done = true;
                self.truncated_tail = true;
                None
            }
            Ok(Peek::Complete { len }) => {
                let batch = RecordBatch::from_framed(self.rest.split_to(len));
                if batch.is_err() {
                    self.done = true;
                }
                Some(batch)
            }
        }
    }
}

impl std::iter::FusedIterator for BatchIter {}
