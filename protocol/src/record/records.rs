//! The records inside a batch: [`Record`], [`Header`] and the lazy [`RecordIter`].
//!
//! Records are decoded one at a time from a `Bytes` holding the batch's (inflated) record area,
//! so key, value and header values are slices of that buffer: for an uncompressed batch they
//! point straight into the bytes received from the socket.
//!
//! Every length and count is checked against what is left before it is used, and a record must
//! consume exactly the bytes its length prefix declares, the same check Java makes.

use bytes::Bytes;

use super::cursor::Cursor;
use super::{RecordBatch, RecordError, TimestampType};

/// Smallest possible record: length, attributes, timestamp delta, offset delta, key length,
/// value length and header count, one byte each.
pub(crate) const MIN_RECORD_SIZE: usize = 7;
/// Smallest possible header: key length and value length, one byte each.
const MIN_HEADER_SIZE: usize = 2;

/// A record header. Keys are UTF-8 strings and never null; values may be null. Duplicate keys
/// are legal and keep their order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The header name.
    pub key: String,
    /// The header value; `None` is a null value, distinct from an empty one.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A header whose value is null.
    pub fn null(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: None,
        }
    }
}

/// One record as stored in a v2 batch. Offsets and timestamps are deltas against the batch;
/// use [`Record::offset`] and [`Record::timestamp`] for absolute values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Unused by Kafka so far; kept for completeness.
    pub attributes: i8,
    /// Milliseconds after the batch's `baseTimestamp`.
    pub timestamp_delta: i64,
    /// Position after the batch's `baseOffset`.
    pub offset_delta: i32,
    /// `None` is a null key (distinct from an empty one).
    pub key: Option<Bytes>,
    /// `None` is a null value: a tombstone on compacted topics.
    pub value: Option<Bytes>,
    /// Headers in wire order, duplicates included.
    pub headers: Vec<Header>,
}

impl Record {
    /// The record's absolute offset within `batch`'s partition.
    pub fn offset(&self, batch: &RecordBatch) -> i64 {
        // Wrapping, because hostile headers may sit near i64::MAX and must not panic us.
        batch
            .base_offset()
            .wrapping_add(i64::from(self.offset_delta))
    }

    /// The record's timestamp: the batch's `maxTimestamp` when the broker stamped the batch
    /// (LogAppendTime), otherwise `baseTimestamp` plus the delta.
    pub fn timestamp(&self, batch: &RecordBatch) -> i64 {
        match batch.timestamp_type() {
            TimestampType::LogAppendTime => batch.max_timestamp(),
            TimestampType::CreateTime => batch.base_timestamp().wrapping_add(self.timestamp_delta),
        }
    }
}

/// Lazily decodes the records of one batch. Yields `Err` once and then stops if the bytes are
/// malformed, including when bytes are left over after the declared count.
#[derive(Debug, Clone)]
pub struct RecordIter {
    data: Cursor,
    remaining: usize,
    failed: bool,
}

impl RecordIter {
    /// `data` is the (inflated) record area, `count` the header's record count. The count is
    /// checked against the bytes before any record is read, so a huge count with a small body is
    /// refused up front.
    pub(crate) fn new(data: Bytes, count: i32) -> Result<Self, RecordError> {
        let available = data.len();
        let bad = RecordError::BadRecordCount { count, available };
        let remaining =
            usize::try_from(count).map_err(|_| RecordError::BadRecordCount { count, available })?;
        match remaining.checked_mul(MIN_RECORD_SIZE) {
            Some(min) if min <= available => {}
            _ => return Err(bad),
        }
        Ok(Self {
            data: Cursor::new(data),
            remaining,
            failed: false,
        })
    }

    pub(crate) fn empty() -> Self {
        Self {
            data: Cursor::new(Bytes::new()),
            remaining: 0,
            failed: false,
        }
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.data.is_empty() {
                return None;
            }
            self.failed = true;
            return Some(Err(RecordError::TrailingBytes(self.data.remaining())));
        }
        self.remaining -= 1;
        let record = read_record(&mut self.data);
        if record.is_err() {
            self.failed = true;
        }
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            (0, Some(0))
        } else {
            // One more for a possible trailing-bytes error.
            (0, self.remaining.checked_add(1))
        }
    }
}

impl std::iter::FusedIterator for RecordIter {}

fn read_record(data: &mut Cursor) -> Result<Record, RecordError> {
    let length = data.varint()?;
    let declared = usize::try_from(length).map_err(|_| RecordError::BadRecordLength(length))?;
    let mut body = Cursor::new(data.take(declared)?);

    let attributes = body.i8()?;
    let timestamp_delta = body.varlong()?;
    let offset_delta = body.varint()?;
    let key = read_nullable(&mut body, "key")?;
    let value = read_nullable(&mut body, "value")?;
    let headers = read_headers(&mut body)?;

    if !body.is_empty() {
        return Err(RecordError::RecordLengthMismatch {
            declared,
            used: declared.saturating_sub(body.remaining()),
        });
    }
    Ok(Record {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

/// A varint length then that many bytes; -1 means null.
fn read_nullable(body: &mut Cursor, field: &'static str) -> Result<Option<Bytes>, RecordError> {
    let len = body.varint()?;
    if len == -1 {
        return Ok(None);
    }
    let n = usize::try_from(len).map_err(|_| RecordError::BadFieldLength { field, len })?;
    body.take(n).map(Some)
}

fn read_headers(body: &mut Cursor) -> Result<Vec<Header>, RecordError> {
    let count = body.varint()?;
    let available = body.remaining();
    let bad = || RecordError::BadHeaderCount { count, available };
    let n = usize::try_from(count).map_err(|_| bad())?;
    if n.checked_mul(MIN_HEADER_SIZE)
        .is_none_or(|min| min > available)
    {
        return Err(bad());
    }
    let mut headers = Vec::with_capacity(n);
    for _ in 0..n {
        let len = body.varint()?;
        let key_len = usize::try_from(len).map_err(|_| RecordError::BadFieldLength {
            field: "header key",
            len,
        })?;
        let key = std::str::from_utf8(&body.take(key_len)?)?.to_owned();
        let value = read_nullable(body, "header value")?;
        headers.push(Header { key, value });
    }
    Ok(headers)
}
