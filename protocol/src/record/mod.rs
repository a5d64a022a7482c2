//! Kafka record batches, message format v2 ("magic 2").
//!
//! What: a zero-copy view over the batches carried by Fetch responses and Produce requests
//! ([`RecordBatch`], [`BatchIter`], [`Record`]), a [`BatchBuilder`] for producers and for the
//! broker's transaction markers, the five codecs ([`Compression`]), the zigzag varints the format
//! is built from ([`varint`]), and the broker's append-time rewrite ([`RecordBatch::into_stored`]).
//!
//! Why one module: the client and the mini-broker must agree on every byte; sharing the code is
//! the cheapest way to keep them agreeing.
//!
//! Everything read from the wire is treated as hostile. Counts and lengths are checked against
//! the bytes actually present before anything is allocated, decompression is capped
//! ([`DEFAULT_MAX_DECOMPRESSED`]), and no code path here indexes, unwraps or overflows on input.
//!
//! What not: legacy message sets (magic 0 and 1) are recognised and refused with
//! [`RecordError::UnsupportedMagic`], never decoded or converted. No streaming decompression (a
//! compressed batch is inflated in one go, under the cap), no decision about what compaction
//! keeps (only the rewrite, [`RecordBatch::retain`]), no validation of producer sequences;
//! those belong to the broker's state.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo
)]

mod batch;
mod builder;
mod compression;
mod control;
mod cursor;
mod error;
mod layout;
mod records;
mod retain;
mod stored;
pub mod varint;

pub use batch::{BatchIter, RecordBatch, TimestampType};
pub use builder::{control_batch, BatchBuilder, RecordInput, RecordRef};
pub use compression::{compress, decompress, Compression, ParseCompressionError};
pub use control::{ControlRecordType, EndTxnMarker};
pub use error::RecordError;
pub use layout::{MIN_BATCH_LENGTH, RECORD_BATCH_OVERHEAD};
pub use records::{Header, Record, RecordIter};

/// The only batch format spoken here.
pub const MAGIC_V2: i8 = 2;

/// Default cap on the inflated size of one compressed batch. Kafka's own default
/// `message.max.bytes` is about 1 MiB, so 256 MiB leaves ample room for highly compressible
/// batches while still stopping a zip bomb long before it hurts.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// `producerId` of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producerEpoch` of a batch written without idempotence.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `baseSequence` of a batch written without idempotence.
pub const NO_SEQUENCE: i32 = -1;
/// `partitionLeaderEpoch` before a broker has stamped the batch.
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// Timestamp meaning "none given".
pub const NO_TIMESTAMP: i64 = -1;
