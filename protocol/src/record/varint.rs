//! Variable-length integers as Kafka writes them: base-128, least significant group first,
//! continuation in the high bit; signed values are zigzag-mapped first so small negatives stay
//! short.
//!
//! Public because the client and broker need the same helpers for the flexible-version protocol
//! (compact strings and arrays use the unsigned forms).
//!
//! Decoding is strict: more than 5 bytes for a 32-bit value or 10 for a 64-bit one is an error,
//! and so are bits that would fall off the top of the type. Java silently drops such bits; no
//! real encoder produces them, so refusing them only ever rejects garbage.

use bytes::BufMut;

/// Longest encoding of a 32-bit value.
pub const MAX_VARINT_LEN: usize = 5;
/// Longest encoding of a 64-bit value.
pub const MAX_VARLONG_LEN: usize = 10;

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarintError {
    /// The input ended inside the varint.
    #[error("varint truncated")]
    Truncated,
    /// The continuation bit was still set on the last byte the type allows.
    #[error("varint longer than {max_len} bytes")]
    TooLong {
        /// 5 for 32-bit values, 10 for 64-bit ones.
        max_len: usize,
    },
    /// The last byte carries bits beyond the type's width.
    #[error("varint overflows its {bits}-bit type")]
    Overflow {
        /// 32 or 64.
        bits: u32,
    },
}

/// Zigzag-maps a signed 32-bit value so that small magnitudes get small codes.
pub const fn zigzag_encode_i32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

/// Inverse of [`zigzag_encode_i32`].
pub const fn zigzag_decode_i32(code: u32) -> i32 {
    ((code >> 1) as i32) ^ -((code & 1) as i32)
}

/// Zigzag-maps a signed 64-bit value.
pub const fn zigzag_encode_i64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Inverse of [`zigzag_encode_i64`].
pub const fn zigzag_decode_i64(code: u64) -> i64 {
    ((code >> 1) as i64) ^ -((code & 1) as i64)
}

/// Shared decoder: `max_len` bytes at most, and the last of them may only use `last_byte_max`.
fn decode_raw(
    buf: &[u8],
    max_len: usize,
    last_byte_max: u8,
    bits: u32,
) -> Result<(u64, usize), VarintError> {
    let mut value = 0u64;
    let mut shift = 0u32;
    for (index, &byte) in buf.iter().take(max_len).enumerate() {
        let used = index + 1;
        if used == max_len {
            if byte & 0x80 != 0 {
                return Err(VarintError::TooLong { max_len });
            }
            if byte > last_byte_max {
                return Err(VarintError::Overflow { bits });
            }
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((value, used));
        }
        shift += 7;
    }
    Err(VarintError::Truncated)
}

/// Reads an unsigned varint; returns the value and the number of bytes used.
pub fn decode_uvarint(buf: &[u8]) -> Result<(u32, usize), VarintError> {
    let (value, used) = decode_raw(buf, MAX_VARINT_LEN, 0x0f, 32)?;
    let value = u32::try_from(value).map_err(|_| VarintError::Overflow { bits: 32 })?;
    Ok((value, used))
}

/// Reads an unsigned varlong; returns the value and the number of bytes used.
pub fn decode_uvarlong(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    decode_raw(buf, MAX_VARLONG_LEN, 0x01, 64)
}

/// Reads a zigzag varint (Kafka's `varint`); returns the value and the number of bytes used.
pub fn decode_varint(buf: &[u8]) -> Result<(i32, usize), VarintError> {
    decode_uvarint(buf).map(|(code, used)| (zigzag_decode_i32(code), used))
}

/// Reads a zigzag varlong (Kafka's `varlong`); returns the value and the number of bytes used.
pub fn decode_varlong(buf: &[u8]) -> Result<(i64, usize), VarintError> {
    decode_uvarlong(buf).map(|(code, used)| (zigzag_decode_i64(code), used))
}

/// Appends an unsigned varint.
#[inline]
pub fn put_uvarint(out: &mut impl BufMut, value: u32) {
    put_uvarlong(out, u64::from(value));
}

/// Appends an unsigned varlong. One-byte values (most lengths and deltas in a batch) are one
/// `put_u8`; longer ones are assembled on the stack and appended with one `put_slice`, instead
/// of a capacity check per byte.
#[inline]
pub fn put_uvarlong(out: &mut impl BufMut, value: u64) {
    if value < 0x80 {
        out.put_u8(value as u8);
        return;
    }
    let mut bytes = [0u8; MAX_VARLONG_LEN];
    let mut rest = value;
    let mut used = 0;
    for slot in bytes.iter_mut() {
        used += 1;
        if rest < 0x80 {
            *slot = rest as u8;
            break;
        }
        *slot = (rest & 0x7f) as u8 | 0x80;
        rest >>= 7;
    }
    // A u64 needs at most 10 groups of 7 bits, so the loop always ends on its `break`.
    out.put_slice(bytes.get(..used).unwrap_or(&bytes));
}

/// Appends a zigzag varint.
#[inline]
pub fn put_varint(out: &mut impl BufMut, value: i32) {
    put_uvarint(out, zigzag_encode_i32(value));
}

/// Appends a zigzag varlong.
#[inline]
pub fn put_varlong(out: &mut impl BufMut, value: i64) {
    put_uvarlong(out, zigzag_encode_i64(value));
}

/// Encoded size of an unsigned varint.
#[inline]
pub const fn uvarint_len(value: u32) -> usize {
    uvarlong_len(value as u64)
}

/// Encoded size of an unsigned varlong.
#[inline]
pub const fn uvarlong_len(value: u64) -> usize {
    let significant = 64 - value.leading_zeros() as usize;
    if significant == 0 {
        1
    } else {
        significant.div_ceil(7)
    }
}

/// Encoded size of a zigzag varint.
#[inline]
pub const fn varint_len(value: i32) -> usize {
    uvarint_len(zigzag_encode_i32(value))
}

/// Encoded size of a zigzag varlong.
#[inline]
pub const fn varlong_len(value: i64) -> usize {
    uvarlong_len(zigzag_encode_i64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (300, &[0xd8, 0x04]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(value, bytes) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(varint_len(value), bytes.len());
            assert_eq!(decode_varint(bytes), Ok((value, bytes.len())));
        }
    }

    #[test]
    fn limits_are_enforced() {
        assert_eq!(
            decode_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(VarintError::TooLong { max_len: 5 })
        );
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]),
            Err(VarintError::Overflow { bits: 32 })
        );
        assert_eq!(decode_varint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(decode_varint(&[]), Err(VarintError::Truncated));
        let mut eleven = vec![0x80u8; 10];
        eleven.push(0);
        assert_eq!(
            decode_varlong(&eleven),
            Err(VarintError::TooLong { max_len: 10 })
        );
        let mut max = Vec::new();
        put_varlong(&mut max, i64::MIN);
        assert_eq!(max.len(), 10);
        assert_eq!(decode_varlong(&max), Ok((i64::MIN, 10)));
        let mut wide = vec![0xffu8; 9];
        wide.push(0x02);
        assert_eq!(
            decode_varlong(&wide),
            Err(VarintError::Overflow { bits: 64 })
        );
    }

    proptest::proptest! {
        #[test]
        fn varint_round_trip(value: i32, tail: Vec<u8>) {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            proptest::prop_assert_eq!(out.len(), varint_len(value));
            out.extend_from_slice(&tail);
            proptest::prop_assert_eq!(decode_varint(&out), Ok((value, varint_len(value))));
        }

        #[test]
        fn varlong_round_trip(value: i64) {
            let mut out = Vec::new();
            put_varlong(&mut out, value);
            proptest::prop_assert_eq!(out.len(), varlong_len(value));
            proptest::prop_assert_eq!(decode_varlong(&out), Ok((value, out.len())));
        }

        #[test]
        fn decoding_never_panics(bytes: Vec<u8>) {
            let _ = decode_varint(&bytes);
            let _ = decode_varlong(&bytes);
            let _ = decode_uvarint(&bytes);
        }
    }
}
