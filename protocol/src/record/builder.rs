//! [`BatchBuilder`]: encodes records into a v2 batch, as a producer (or the broker, for
//! transaction markers) needs to send it.
//!
//! Records are encoded as they are pushed, into a buffer whose first 61 bytes are reserved for
//! the header, so an uncompressed batch is finished by patching the header in place; a
//! compressed one costs exactly one pass through the codec.
//!
//! Offset deltas are the push order (0, 1, 2, ...), and `baseTimestamp` is the first record's
//! timestamp, matching what Java producers write.
//!
//! What not: no size limit or "is it full?" policy (that is the producer accumulator's job; see
//! [`BatchBuilder::estimated_size`]), and no per-record attributes (Kafka defines none).

use bytes::{BufMut, Bytes};

use super::compression::compress;
use super::layout::{
    self, CONTROL_BIT, LOG_OVERHEAD, RECORD_BATCH_OVERHEAD, TIMESTAMP_TYPE_BIT, TRANSACTIONAL_BIT,
};
use super::varint::{put_varint, put_varlong, varint_len, varlong_len};
use super::{
    Compression, ControlRecordType, EndTxnMarker, Header, RecordError, TimestampType, MAGIC_V2,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};

/// A record to be written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordInput {
    /// Create time in milliseconds since the epoch.
    pub timestamp: i64,
    /// `None` writes a null key.
    pub key: Option<Bytes>,
    /// `None` writes a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Written in order; duplicates allowed.
    pub headers: Vec<Header>,
}

impl RecordInput {
    /// The record as a [`RecordRef`], for [`BatchBuilder::push_ref`].
    pub fn borrowed(&self) -> RecordRef<'_> {
        RecordRef {
            timestamp: self.timestamp,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: &self.headers,
        }
    }
}

/// A record to be written, borrowed: the builder only copies bytes, so the caller keeps the
/// record (a producer whose batch is full places it in the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Create time in milliseconds since the epoch.
    pub timestamp: i64,
    /// `None` writes a null key.
    pub key: Option<&'a [u8]>,
    /// `None` writes a null value.
    pub value: Option<&'a [u8]>,
    /// Written in order; duplicates allowed.
    pub headers: &'a [Header],
}

/// Builds one record batch. Configure with the chained setters, `push` records, then `build`.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    timestamp_type: TimestampType,
    /// Reserved header space followed by the encoded records.
    buf: Vec<u8>,
    count: i32,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchBuilder {
    /// An uncompressed, non-idempotent, CreateTime batch at offset 0.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Like [`BatchBuilder::new`], with room for `bytes` of encoded records before the buffer
    /// grows: a producer that knows its `batch.size` copies each record once instead of again
    /// on every doubling.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(RECORD_BATCH_OVERHEAD.saturating_add(bytes));
        buf.resize(RECORD_BATCH_OVERHEAD, 0);
        Self {
            compression: Compression::None,
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
            timestamp_type: TimestampType::CreateTime,
            buf,
            count: 0,
            base_timestamp: None,
            // Only read once a record has been pushed, by which point it holds a real value.
            max_timestamp: i64::MIN,
        }
    }

    /// Codec for the record area. Default: none.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// `baseOffset`. Producers leave it at 0; the broker assigns the real one.
    pub fn base_offset(mut self, base_offset: i64) -> Self {
        self.base_offset = base_offset;
        self
    }

    /// `partitionLeaderEpoch`. Default -1; the broker stamps it.
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// `producerId` and `producerEpoch` of an idempotent or transactional producer.
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self
    }

    /// `baseSequence`: sequence number of the first record. Default -1 (none).
    pub fn base_sequence(mut self, base_sequence: i32) -> Self {
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as holding control records. Prefer [`BatchBuilder::end_txn_marker`],
    /// which also writes a well-formed marker record.
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// The timestamp type bit. With `LogAppendTime`, `maxTimestamp` is still the largest record
    /// timestamp: pass the append time as the records' timestamps if that is what is meant.
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(0)
    }

    /// True before the first push.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size the batch would have uncompressed; an upper bound in practice once compressed.
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// Encodes one record. On error the builder is left as it was.
    pub fn push(&mut self, record: RecordInput) -> Result<(), RecordError> {
        self.push_ref(record.borrowed())
    }

    /// Encodes one borrowed record (the builder copies what it writes). On error the builder
    /// is left as it was.
    pub fn push_ref(&mut self, record: RecordRef<'_>) -> Result<(), RecordError> {
        self.push_within(record, usize::MAX).map(|_| ())
    }

    /// Encodes one record unless that would take [`BatchBuilder::estimated_size`] past
    /// `limit`: then nothing is written and the answer is `Ok(false)`. The size is worked out
    /// once, for the check and the write, so a producer deciding "does it fit?" pays for it
    /// once. On error the builder is left as it was.
    pub fn push_within(
        &mut self,
        record: RecordRef<'_>,
        limit: usize,
    ) -> Result<bool, RecordError> {
        let offset_delta = self.count;
        let next_count = offset_delta
            .checked_add(1)
            .ok_or(RecordError::TooLarge("record count"))?;
        let base_timestamp = self.base_timestamp.unwrap_or(record.timestamp);
        // Wrapping: decoding adds it back the same way, so any pair of timestamps round-trips.
        let timestamp_delta = record.timestamp.wrapping_sub(base_timestamp);
        let body_len = body_len(&record, timestamp_delta, offset_delta)?;
        let body_len_i32 = to_i32(body_len, "record")?;
        let total = varint_len(body_len_i32).saturating_add(body_len);
        if self.buf.len().saturating_add(total) > limit {
            return Ok(false);
        }

        self.buf.reserve(total);
        put_record(
            &mut self.buf,
            &record,
            0,
            timestamp_delta,
            offset_delta,
            body_len_i32,
        );

        self.count = next_count;
        self.base_timestamp = Some(base_timestamp);
        self.max_timestamp = self.max_timestamp.max(record.timestamp);
        Ok(true)
    }

    /// Finishes the batch: compresses, fills in the header and the CRC.
    pub fn build(self) -> Result<Bytes, RecordError> {
        if self.count == 0 {
            return Err(RecordError::EmptyBatch);
        }
        let mut out = match self.compression {
            Compression::None => self.buf,
            codec => {
                let records = self.buf.get(RECORD_BATCH_OVERHEAD..).unwrap_or_default();
                let mut out = Vec::with_capacity(RECORD_BATCH_OVERHEAD + records.len() / 2);
                out.resize(RECORD_BATCH_OVERHEAD, 0);
                compress(codec, records, &mut out)?;
                out
            }
        };
        let batch_length = out
            .len()
            .checked_sub(LOG_OVERHEAD)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or(RecordError::TooLarge("batch"))?;

        let mut attributes = self.compression.attribute_bits();
        if self.timestamp_type == TimestampType::LogAppendTime {
            attributes |= TIMESTAMP_TYPE_BIT;
        }
        if self.transactional {
            attributes |= TRANSACTIONAL_BIT;
        }
        if self.control {
            attributes |= CONTROL_BIT;
        }

        let mut header = Vec::with_capacity(RECORD_BATCH_OVERHEAD);
        header.put_i64(self.base_offset);
        header.put_i32(batch_length);
        header.put_i32(self.partition_leader_epoch);
        header.put_i8(MAGIC_V2);
        header.put_u32(0); // CRC, filled in below once everything it covers is in place
        header.put_i16(attributes);
        header.put_i32(self.count - 1); // lastOffsetDelta; count >= 1 here
        header.put_i64(self.base_timestamp.unwrap_or(super::NO_TIMESTAMP));
        header.put_i64(self.max_timestamp);
        header.put_i64(self.producer_id);
        header.put_i16(self.producer_epoch);
        header.put_i32(self.base_sequence);
        header.put_i32(self.count);
        layout::patch(&mut out, 0, &header)?;

        let crc = layout::batch_crc(&out)?;
        layout::patch(&mut out, layout::CRC, &crc.to_be_bytes())?;
        Ok(Bytes::from(out))
    }

    /// Builds a control batch holding one COMMIT or ABORT marker, using this builder's base
    /// offset, leader epoch and producer id/epoch. It is always transactional, uncompressed,
    /// CreateTime, and has no sequence number, as Java writes markers.
    pub fn end_txn_marker(
        self,
        marker: EndTxnMarker,
        timestamp: i64,
    ) -> Result<Bytes, RecordError> {
        if !matches!(
            marker.kind,
            ControlRecordType::Abort | ControlRecordType::Commit
        ) {
            return Err(RecordError::BadControlRecord(
                "only COMMIT and ABORT markers can be built",
            ));
        }
        if !self.is_empty() {
            return Err(RecordError::BadControlRecord(
                "a marker batch holds only the marker",
            ));
        }
        let mut builder = self
            .compression(Compression::None)
            .timestamp_type(TimestampType::CreateTime)
            .base_sequence(NO_SEQUENCE)
            .transactional(true)
            .control(true);
        builder.push(RecordInput {
            timestamp,
            key: Some(marker.kind.to_key()),
            value: Some(marker.to_value()),
            headers: Vec::new(),
        })?;
        builder.build()
    }
}

/// A COMMIT or ABORT control batch for `producer_id`/`producer_epoch` at base offset 0 and
/// leader epoch -1; the broker assigns both when appending (see
/// [`RecordBatch::into_stored`](super::RecordBatch::into_stored)).
pub fn control_batch(
    marker: EndTxnMarker,
    producer_id: i64,
    producer_epoch: i16,
    timestamp: i64,
) -> Result<Bytes, RecordError> {
    BatchBuilder::new()
        .producer(producer_id, producer_epoch)
        .end_txn_marker(marker, timestamp)
}

/// Encodes one record: its length prefix (`body_len`, from [`body_len`]), attributes, deltas,
/// key, value and headers.
fn put_record(
    out: &mut Vec<u8>,
    record: &RecordRef<'_>,
    attributes: i8,
    timestamp_delta: i64,
    offset_delta: i32,
    body_len: i32,
) {
    put_varint(out, body_len);
    out.push(attributes.to_be_bytes()[0]);
    put_varlong(out, timestamp_delta);
    put_varint(out, offset_delta);
    put_nullable(out, record.key);
    put_nullable(out, record.value);
    // Checked by `body_len`, so the fallback is never taken.
    put_varint(out, i32::try_from(record.headers.len()).unwrap_or(i32::MAX));
    for header in record.headers {
        put_nullable(out, Some(header.key.as_bytes()));
        put_nullable(out, header.value.as_deref());
    }
}

/// Encodes a record read from a batch as it was: same attributes and deltas (the cleaner's
/// rewrite keeps every record's offset and timestamp).
pub(crate) fn put_existing_record(
    out: &mut Vec<u8>,
    record: &super::Record,
) -> Result<(), RecordError> {
    let borrowed = RecordRef {
        timestamp: 0,
        key: record.key.as_deref(),
        value: record.value.as_deref(),
        headers: &record.headers,
    };
    let len = body_len(&borrowed, record.timestamp_delta, record.offset_delta)?;
    let len = to_i32(len, "record")?;
    put_record(
        out,
        &borrowed,
        record.attributes,
        record.timestamp_delta,
        record.offset_delta,
        len,
    );
    Ok(())
}

fn to_i32(n: usize, what: &'static str) -> Result<i32, RecordError> {
    i32::try_from(n).map_err(|_| RecordError::TooLarge(what))
}

/// Encoded size of a record's body (what its length prefix counts), with every length checked
/// against the i32 the format stores it in.
fn body_len(
    record: &RecordRef<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
) -> Result<usize, RecordError> {
    // attributes, then the deltas: at most 1 + 10 + 5 bytes, so no overflow yet.
    let mut len = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
    len = add_len(len, nullable_len(record.key, "key")?)?;
    len = add_len(len, nullable_len(record.value, "value")?)?;
    let header_count = to_i32(record.headers.len(), "header count")?;
    len = add_len(len, varint_len(header_count))?;
    for header in record.headers {
        let key_len = to_i32(header.key.len(), "header key")?;
        len = add_len(len, varint_len(key_len))?;
        len = add_len(len, header.key.len())?;
        len = add_len(len, nullable_len(header.value.as_deref(), "header value")?)?;
    }
    Ok(len)
}

fn add_len(total: usize, more: usize) -> Result<usize, RecordError> {
    total
        .checked_add(more)
        .ok_or(RecordError::TooLarge("record"))
}

/// Encoded size of a length-prefixed, nullable byte string.
fn nullable_len(bytes: Option<&[u8]>, what: &'static str) -> Result<usize, RecordError> {
    match bytes {
        None => Ok(varint_len(-1)),
        Some(b) => add_len(varint_len(to_i32(b.len(), what)?), b.len()),
    }
}

/// Lengths were validated by `nullable_len` before anything was written, so the cast is exact.
fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, i32::try_from(b.len()).unwrap_or(i32::MAX));
            out.extend_from_slice(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &[u8]) -> RecordRef<'_> {
        RecordRef {
            timestamp: 1_000,
            key: None,
            value: Some(value),
            headers: &[],
        }
    }

    #[test]
    fn push_within_writes_up_to_the_limit_and_nothing_past_it() {
        let mut builder = BatchBuilder::with_capacity(64);
        assert!(builder.push_within(record(b"abc"), usize::MAX).unwrap());
        let one = builder.estimated_size() - RECORD_BATCH_OVERHEAD;
        let full = builder.estimated_size() + one;
        assert!(!builder.push_within(record(b"abc"), full - 1).unwrap());
        assert_eq!((builder.len(), builder.estimated_size()), (1, full - one));
        assert!(builder.push_within(record(b"abc"), full).unwrap());
        assert_eq!((builder.len(), builder.estimated_size()), (2, full));

        let mut pushed = BatchBuilder::new();
        for _ in 0..2 {
            pushed
                .push(RecordInput {
                    timestamp: 1_000,
                    value: Some(Bytes::from_static(b"abc")),
                    ..RecordInput::default()
                })
                .unwrap();
        }
        assert_eq!(pushed.build().unwrap(), builder.build().unwrap());
    }
}
