//! The one error type of the record module.
//!
//! Variants name what was wrong with the bytes, not where the bytes came from: the broker maps
//! them to Kafka error codes (mostly CORRUPT_MESSAGE; `UnsupportedMagic` and
//! `UnknownCompression` have codes of their own), the client to its own error type.

use std::io;

use super::varint::VarintError;
use super::{Compression, MIN_BATCH_LENGTH};

/// Why a record batch could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Fewer bytes were present than a field or length required.
    #[error("truncated: {needed} bytes needed, {available} present")]
    Truncated {
        /// Bytes the field or length called for.
        needed: usize,
        /// Bytes actually there.
        available: usize,
    },
    /// `batchLength` is negative or smaller than a v2 header.
    #[error("impossible batch length {0} (a v2 batch has at least {MIN_BATCH_LENGTH})")]
    BadBatchLength(i32),
    /// [`RecordBatch::new`](super::RecordBatch::new) was given more bytes than the batch declares.
    #[error("batch declares {declared} bytes but {actual} were given")]
    BatchLengthMismatch {
        /// 12 + `batchLength`.
        declared: usize,
        /// Size of the buffer handed in.
        actual: usize,
    },
    /// The magic byte is not 2 (legacy message sets, or garbage).
    #[error("unsupported record batch magic {0}; only v2 is supported")]
    UnsupportedMagic(i8),
    /// The stored CRC does not match the contents.
    #[error("CRC mismatch: batch says {expected:#010x}, contents give {actual:#010x}")]
    BadCrc {
        /// The CRC stored in the batch header.
        expected: u32,
        /// The CRC-32C computed over the batch.
        actual: u32,
    },
    /// The attributes name a compression codec that does not exist (5, 6 or 7).
    #[error("unknown compression codec id {0}")]
    UnknownCompression(u8),
    /// The record count is negative or cannot fit in the bytes present.
    #[error("record count {count} cannot fit in {available} bytes")]
    BadRecordCount {
        /// The count read from the header.
        count: i32,
        /// Bytes available for records.
        available: usize,
    },
    /// A record's length prefix is negative.
    #[error("invalid record length {0}")]
    BadRecordLength(i32),
    /// A record's fields did not use exactly the bytes its length prefix declared.
    #[error("record declared {declared} bytes but its fields used {used}")]
    RecordLengthMismatch {
        /// The record's length prefix.
        declared: usize,
        /// Bytes its fields actually occupied.
        used: usize,
    },
    /// A key, value or header length below -1 (or a null header key).
    #[error("invalid {field} length {len}")]
    BadFieldLength {
        /// Which field: "key", "value", "header key", "header value".
        field: &'static str,
        /// The length read.
        len: i32,
    },
    /// The header count is negative or cannot fit in the record.
    #[error("header count {count} cannot fit in {available} bytes")]
    BadHeaderCount {
        /// The count read.
        count: i32,
        /// Bytes left in the record.
        available: usize,
    },
    /// Bytes were left after the declared number of records.
    #[error("{0} bytes left over after the declared records")]
    TrailingBytes(usize),
    /// A varint or varlong was truncated, too long or overflowing.
    #[error("bad varint: {0}")]
    Varint(#[from] VarintError),
    /// A header key is not valid UTF-8.
    #[error("header key is not UTF-8: {0}")]
    InvalidHeaderKey(#[from] std::str::Utf8Error),
    /// The codec rejected the compressed data.
    #[error("{codec} decompression failed: {source}")]
    Decompress {
        /// The batch's codec.
        codec: Compression,
        /// What the codec reported.
        #[source]
        source: io::Error,
    },
    /// The data inflates past the caller's cap.
    #[error("{codec} data inflates past the {limit}-byte limit")]
    DecompressedTooLarge {
        /// The batch's codec.
        codec: Compression,
        /// The cap that was hit.
        limit: usize,
    },
    /// The codec failed while compressing (in practice only on allocation trouble).
    #[error("{codec} compression failed: {source}")]
    Compress {
        /// The codec asked for.
        codec: Compression,
        /// What the codec reported.
        #[source]
        source: io::Error,
    },
    /// [`BatchBuilder::build`](super::BatchBuilder::build) was called with no records.
    #[error("a record batch needs at least one record")]
    EmptyBatch,
    /// Something to be written does not fit the format's 32-bit fields.
    #[error("{0} is too large for the record format")]
    TooLarge(&'static str),
    /// A control record's key or value is malformed.
    #[error("malformed control record: {0}")]
    BadControlRecord(&'static str),
}
