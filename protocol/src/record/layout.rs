//! Byte offsets of the v2 batch header, and small checked accessors over raw slices.
//!
//! Kept in one place so the view, the builder and the broker rewrite cannot disagree about where
//! a field lives. Offsets are from the start of the batch (the `baseOffset` field).

use super::RecordError;

pub(crate) const BASE_OFFSET: usize = 0;
pub(crate) const BATCH_LENGTH: usize = 8;
/// `baseOffset` + `batchLength`: the part of a batch not counted by `batchLength`.
pub(crate) const LOG_OVERHEAD: usize = 12;
pub(crate) const PARTITION_LEADER_EPOCH: usize = 12;
pub(crate) const MAGIC: usize = 16;
/// Everything up to and including `magic`: what must be present to tell a batch's kind and size.
pub(crate) const HEADER_UP_TO_MAGIC: usize = 17;
pub(crate) const CRC: usize = 17;
/// The CRC covers from here to the end of the batch.
pub(crate) const ATTRIBUTES: usize = 21;
pub(crate) const MAX_TIMESTAMP: usize = 35;
pub(crate) const RECORDS_COUNT: usize = 57;

/// Size of the fixed v2 header, i.e. of a batch holding no records.
pub const RECORD_BATCH_OVERHEAD: usize = 61;

/// Smallest legal `batchLength`: the header minus the 12 bytes the length does not count.
pub const MIN_BATCH_LENGTH: i32 = 49;

/// Attribute bits.
pub(crate) const COMPRESSION_MASK: i16 = 0x07;
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 0x08;
pub(crate) const TRANSACTIONAL_BIT: i16 = 0x10;
pub(crate) const CONTROL_BIT: i16 = 0x20;

/// Reads `N` bytes at `at`, or `None` if the slice is too short.
pub(crate) fn array_at<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    buf.get(at..end)?.try_into().ok()
}

pub(crate) fn i32_at(buf: &[u8], at: usize) -> Option<i32> {
    array_at(buf, at).map(i32::from_be_bytes)
}

pub(crate) fn i16_at(buf: &[u8], at: usize) -> Option<i16> {
    array_at(buf, at).map(i16::from_be_bytes)
}

pub(crate) fn i8_at(buf: &[u8], at: usize) -> Option<i8> {
    array_at(buf, at).map(i8::from_be_bytes)
}

/// Overwrites `bytes.len()` bytes at `at`; an error rather than a panic if the buffer is short.
pub(crate) fn patch(buf: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), RecordError> {
    let available = buf.len();
    let end = at.saturating_add(bytes.len());
    let dst = buf.get_mut(at..end).ok_or(RecordError::Truncated {
        needed: end,
        available,
    })?;
    dst.copy_from_slice(bytes);
    Ok(())
}

/// CRC-32C of everything from `attributes` to the end, as the batch's `crc` field should hold.
pub(crate) fn batch_crc(batch: &[u8]) -> Result<u32, RecordError> {
    let covered = batch.get(ATTRIBUTES..).ok_or(RecordError::Truncated {
        needed: ATTRIBUTES,
        available: batch.len(),
    })?;
    Ok(crc32c::crc32c(covered))
}
