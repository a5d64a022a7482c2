//! A forward-only reader over `Bytes` whose every read is checked.
//!
//! Why not `bytes::Buf` directly: its `get_*` methods panic when short, and wire input must never
//! be able to panic us. `take` hands out sub-slices of the same allocation, which is what keeps
//! record keys and values zero-copy.

use bytes::{Buf, Bytes};

use super::varint;
use super::RecordError;

#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    buf: Bytes,
}

impl Cursor {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn short(&self, needed: usize) -> RecordError {
        RecordError::Truncated {
            needed,
            available: self.buf.len(),
        }
    }

    /// The next `n` bytes as a slice of the underlying buffer (no copy).
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, RecordError> {
        if n > self.buf.len() {
            return Err(self.short(n));
        }
        Ok(self.buf.split_to(n))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let arr = super::layout::array_at::<N>(&self.buf, 0).ok_or_else(|| self.short(N))?;
        self.buf.advance(N);
        Ok(arr)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, RecordError> {
        self.array().map(i8::from_be_bytes)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, RecordError> {
        self.array().map(i16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, RecordError> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, RecordError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, RecordError> {
        self.array().map(i64::from_be_bytes)
    }

    pub(crate) fn varint(&mut self) -> Result<i32, RecordError> {
        let (value, used) = varint::decode_varint(&self.buf)?;
        self.buf.advance(used);
        Ok(value)
    }

    pub(crate) fn varlong(&mut self) -> Result<i64, RecordError> {
        let (value, used) = varint::decode_varlong(&self.buf)?;
        self.buf.advance(used);
        Ok(value)
    }
}
