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
            buf: vec![0; RECORD_BATCH_OVERHEAD],
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
        let offset_delta = self.count;
        let next_count = offset_delta
            .checked_add(1)
            .ok_or(RecordError::TooLarge("record count"))?;
        let base_timestamp = self.base_timestamp.unwrap_or(record.timestamp);
        // Wrapping: decoding adds it back the same way, so any pair of timestamps round-trips.
        let timestamp_delta = record.timestamp.wrapping_sub(base_timestamp);
        let key = record.key.as_deref();
        let value = record.value.as_deref();

        let mut body_len = 1usize // attributes
            .checked_add(varlong_len(timestamp_delta))
            .and_then(|n| n.checked_add(varint_len(offset_delta)))
            .ok_or(RecordError::TooLarge("record"))?;
        body_len = add_len(body_len, nullable_len(key, "key")?)?;
        body_len = add_len(body_len, nullable_len(value, "value")?)?;
        let header_count = to_i32(record.headers.len(), "header count")?;
        body_len = add_len(body_len, varint_len(header_count))?;
        for header in &record.headers {
            let key_len = to_i32(header.key.len(), "header key")?;
            body_len = add_len(body_len, varint_len(key_len))?;
            body_len = add_len(body_len, header.key.len())?;
            body_len = add_len(
                body_len,
                nullable_len(header.value.as_deref(), "header value")?,
            )?;
        }
        let body_len_i32 = to_i32(body_len, "record")?;

        self.buf
            .reserve(varint_len(body_len_i32).saturating_add(body_len));
        put_varint(&mut self.buf, body_len_i32);
        self.buf.put_i8(0);
        put_varlong(&mut self.buf, timestamp_delta);
        put_varint(&mut self.buf, offset_delta);
        put_nullable(&mut self.buf, key);
        put_nullable(&mut self.buf, value);
        put_varint(&mut self.buf, header_count);
        for header in &record.headers {
            put_nullable(&mut self.buf, Some(header.key.as_bytes()));
            put_nullable(&mut self.buf, header.value.as_deref());
        }

        self.count = next_count;
        self.base_timestamp = Some(base_timestamp);
        self.max_timestamp = self.max_timestamp.max(record.timestamp);
        Ok(())
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

fn to_i32(n: usize, what: &'static str) -> Result<i32, RecordError> {
    i32::try_from(n).map_err(|_| RecordError::TooLarge(what))
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
