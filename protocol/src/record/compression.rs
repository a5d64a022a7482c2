//! The five batch codecs and their bounded decompression.
//!
//! What is compressed is everything after a batch's record count, as one block. Formats, as the
//! Java client writes them: gzip (RFC 1952; concatenated members accepted), snappy in xerial
//! framing (raw snappy is also accepted on read, since some clients send it), LZ4 frame format
//! with independent 64 KiB blocks, and a standard zstd frame.
//!
//! Decompression never produces more than the caller's `max_decompressed` bytes: a batch of a
//! few KiB can legally inflate to gigabytes, and the broker must not let a producer choose its
//! memory use.
//!
//! What not: no snappy "framing format" (sNaPpY stream identifier; Kafka never used it), no
//! dictionaries, no tunable levels yet (gzip and zstd use their defaults, as Java does).

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use bytes::Bytes;

use super::layout::COMPRESSION_MASK;
use super::RecordError;

/// A batch's compression codec (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Records stored as they are.
    #[default]
    None,
    /// gzip (deflate with gzip framing).
    Gzip,
    /// snappy; written with xerial framing like the Java client.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard (needs Produce v7+ / Fetch v10+ on the wire).
    Zstd,
}

impl Compression {
    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec id stored in the attributes (and in Java's `CompressionType.id`).
    pub const fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec for an id; 5-7 fit the three attribute bits but name nothing.
    pub fn from_id(id: u8) -> Result<Self, RecordError> {
        Ok(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => return Err(RecordError::UnknownCompression(other)),
        })
    }

    /// The codec named by a batch's attributes.
    pub fn from_attributes(attributes: i16) -> Result<Self, RecordError> {
        // Masked to three bits, so the cast cannot lose anything.
        Self::from_id((attributes & COMPRESSION_MASK) as u8)
    }

    /// The attribute bits for this codec, to be OR-ed into the other flags.
    pub const fn attribute_bits(self) -> i16 {
        self.id() as i16
    }

    /// The name Java and librdkafka use in `compression.type`.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// See [`compress`].
    pub fn compress(self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
        compress(self, input, out)
    }

    /// See [`decompress`].
    pub fn decompress(self, input: &[u8], max_decompressed: usize) -> Result<Bytes, RecordError> {
        decompress(self, input, max_decompressed)
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `compression.type` value that names no codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression type {0:?} (expected none, gzip, snappy, lz4 or zstd)")]
pub struct ParseCompressionError(pub String);

impl FromStr for Compression {
    type Err = ParseCompressionError;

    /// Accepts the Java names, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseCompressionError(s.to_owned()))
    }
}

/// xerial snappy stream header: magic, then version and minimum compatible version (both 1).
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed size of each xerial block; the Java library's default.
const XERIAL_BLOCK: usize = 32 * 1024;
/// zstd level the Java client uses unless told otherwise.
const ZSTD_LEVEL: i32 = 3;

/// Appends `input`, compressed with `codec`, to `out` (`Compression::None` appends it as is).
pub fn compress(codec: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
    let fail = |source: io::Error| RecordError::Compress { codec, source };
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            encoder.write_all(input).map_err(fail)?;
            encoder.finish().map_err(fail)?;
        }
        Compression::Snappy => compress_xerial(input, out).map_err(fail)?,
        Compression::Lz4 => compress_lz4_frame(input, out).map_err(fail)?,
        Compression::Zstd => compress_zstd(input, out).map_err(fail)?,
    }
    Ok(())
}

thread_local! {
    /// Each thread's zstd context, set up once: a context set up per batch (the stream
    /// encoder's way) cost more than compressing a 16 KiB batch.
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// One zstd frame holding `input` (with its size in the header, as a one-shot compression
/// writes it), appended to `out`.
fn compress_zstd(input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    ZSTD.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(io::Error::other)?;
        let compressor = match &mut *slot {
            Some(compressor) => compressor,
            empty => empty.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
        };
        let start = out.len();
        out.resize(start + zstd::zstd_safe::compress_bound(input.len()), 0);
        let room = out
            .get_mut(start..)
            .ok_or_else(|| io::Error::other("zstd output buffer"))?;
        let written = compressor.compress_to_buffer(input, room)?;
        out.truncate(start + written);
        Ok(())
    })
}

/// LZ4 frame header as Kafka writes it: magic, FLG (version 01, independent blocks, no
/// checksums, no content size), BD (64 KiB blocks), and the descriptor's xxh32 checksum byte.
/// Constant, so written as bytes (a test checks it against lz4_flex's own frame encoder).
const LZ4_FRAME_HEADER: [u8; 7] = [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82];
const LZ4_BLOCK: usize = 64 * 1024;
/// A block's size word with this bit set means "stored uncompressed".
const LZ4_UNCOMPRESSED: u32 = 0x8000_0000;

/// An LZ4 frame of independent 64 KiB blocks, each compressed straight into `out`. Why not
/// lz4_flex's `FrameEncoder`: it sets up (and zeroes) 64 KiB stream buffers and a hash table
/// per frame, which cost more than compressing a 16 KiB batch; its block compressor is the
/// same.
fn compress_lz4_frame(input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.extend_from_slice(&LZ4_FRAME_HEADER);
    for block in input.chunks(LZ4_BLOCK) {
        let size_at = out.len();
        let start = size_at + 4;
        out.resize(
            start + lz4_flex::block::get_maximum_output_size(block.len()),
            0,
        );
        let room = out
            .get_mut(start..)
            .ok_or_else(|| io::Error::other("lz4 output buffer"))?;
        let written = lz4_flex::block::compress_into(block, room).map_err(io::Error::other)?;
        // Blocks are at most 64 KiB, so both sizes fit the 31 bits a size word has.
        let word = if written < block.len() {
            out.truncate(start + written);
            written as u32
        } else {
            out.truncate(start);
            out.extend_from_slice(block);
            block.len() as u32 | LZ4_UNCOMPRESSED
        };
        out.get_mut(size_at..start)
            .ok_or_else(|| io::Error::other("lz4 output buffer"))?
            .copy_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // end mark
    Ok(())
}

fn compress_xerial(input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    let mut scratch = vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK)];
    for block in input.chunks(XERIAL_BLOCK) {
        let written = encoder.compress(block, &mut scratch)?;
        let compressed = scratch
            .get(..written)
            .ok_or_else(|| io::Error::other("snappy reported more output than its buffer"))?;
        // A compressed 32 KiB block is far below i32::MAX.
        let len = i32::try_from(compressed.len()).map_err(io::Error::other)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(compressed);
    }
    Ok(())
}

/// Inflates `input`, refusing to produce more than `max_decompressed` bytes.
///
/// For `Compression::None` this is a bounded copy.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_decompressed: usize,
) -> Result<Bytes, RecordError> {
    let too_large = RecordError::DecompressedTooLarge {
        codec,
        limit: max_decompressed,
    };
    match codec {
        Compression::None => {
            if input.len() > max_decompressed {
                return Err(too_large);
            }
            Ok(Bytes::copy_from_slice(input))
        }
        Compression::Gzip => read_bounded(
            flate2::read::MultiGzDecoder::new(input),
            codec,
            max_decompressed,
        ),
        Compression::Snappy => {
            let mut out = Vec::new();
            if input.starts_with(&XERIAL_MAGIC) {
                let blocks = input
                    .get(XERIAL_HEADER_LEN..)
                    .ok_or(RecordError::Decompress {
                        codec,
                        source: io::Error::new(io::ErrorKind::UnexpectedEof, "short xerial header"),
                    })?;
                decompress_xerial_blocks(blocks, max_decompressed, &mut out)?;
            } else {
                decompress_snappy_raw(input, max_decompressed, &mut out)?;
            }
            Ok(Bytes::from(out))
        }
        Compression::Lz4 => read_bounded(
            lz4_flex::frame::FrameDecoder::new(input),
            codec,
            max_decompressed,
        ),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|source| RecordError::Decompress { codec, source })?;
            read_bounded(decoder, codec, max_decompressed)
        }
    }
}

/// Reads a streaming decoder to the end, but never past `max + 1` bytes: the one extra byte is
/// how we learn that the limit was exceeded rather than met exactly.
fn read_bounded(reader: impl Read, codec: Compression, max: usize) -> Result<Bytes, RecordError> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|source| RecordError::Decompress { codec, source })?;
    if out.len() > max {
        return Err(RecordError::DecompressedTooLarge { codec, limit: max });
    }
    Ok(Bytes::from(out))
}

fn snappy_error(source: impl Into<io::Error>) -> RecordError {
    RecordError::Decompress {
        codec: Compression::Snappy,
        source: source.into(),
    }
}

/// xerial framing after its header: repeated (i32 big-endian length, raw snappy block).
fn decompress_xerial_blocks(
    mut rest: &[u8],
    max: usize,
    out: &mut Vec<u8>,
) -> Result<(), RecordError> {
    while !rest.is_empty() {
        let len_bytes: [u8; 4] = super::layout::array_at(rest, 0).ok_or_else(|| {
            snappy_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated xerial block length",
            ))
        })?;
        let len = usize::try_from(i32::from_be_bytes(len_bytes)).map_err(|_| {
            snappy_error(io::Error::new(
                io::ErrorKind::InvalidData,
                "negative xerial block length",
            ))
        })?;
        let block = rest.get(4..).and_then(|r| r.get(..len)).ok_or_else(|| {
            snappy_error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated xerial block",
            ))
        })?;
        decompress_snappy_raw(block, max, out)?;
        rest = rest.get(4 + len..).unwrap_or_default();
    }
    Ok(())
}

/// One raw snappy block appended to `out`. The block states its inflated size up front, so the
/// budget is checked before any allocation.
fn decompress_snappy_raw(block: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let inflated = snap::raw::decompress_len(block).map_err(snappy_error)?;
    let start = out.len();
    let end = start
        .checked_add(inflated)
        .filter(|&end| end <= max)
        .ok_or(RecordError::DecompressedTooLarge {
            codec: Compression::Snappy,
            limit: max,
        })?;
    out.resize(end, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let written = snap::raw::Decoder::new()
        .decompress(block, dst)
        .map_err(snappy_error)?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_frames_match_lz4_flex_and_round_trip() {
        let info = lz4_flex::frame::FrameInfo::new()
            .block_size(lz4_flex::frame::BlockSize::Max64KB)
            .block_mode(lz4_flex::frame::BlockMode::Independent);
        let mut reference = Vec::new();
        let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, &mut reference);
        encoder.write_all(b"x").unwrap();
        encoder.finish().unwrap();
        assert_eq!(reference.get(..7), Some(&LZ4_FRAME_HEADER[..]));

        // Empty, incompressible, compressible, and more than one block.
        let noise: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let cycling: Vec<u8> = (0..200_000).map(|i| (i % 251) as u8).collect();
        for input in [&b""[..], &noise, &cycling, &cycling[..LZ4_BLOCK]] {
            let mut out = Vec::new();
            compress(Compression::Lz4, input, &mut out).unwrap();
            let back = decompress(Compression::Lz4, &out, input.len()).unwrap();
            assert_eq!(&back[..], input);
        }
    }

    #[test]
    fn names_round_trip() {
        for codec in Compression::ALL {
            assert_eq!(codec.name().parse::<Compression>(), Ok(codec));
            assert_eq!(Compression::from_id(codec.id()).unwrap(), codec);
        }
        assert_eq!("ZSTD".parse::<Compression>(), Ok(Compression::Zstd));
        assert!("brotli".parse::<Compression>().is_err());
        assert!(matches!(
            Compression::from_attributes(0x07),
            Err(RecordError::UnknownCompression(7))
        ));
    }

    #[test]
    fn every_codec_round_trips_and_respects_the_cap() {
        // Twice per codec (a codec's state kept between calls must not leak into the next),
        // appended after bytes already in the output.
        for step in [251u32, 7] {
            let input: Vec<u8> = (0..200_000u32).map(|i| (i % step) as u8).collect();
            for codec in Compression::ALL {
                let mut out = b"header".to_vec();
                compress(codec, &input, &mut out).unwrap();
                let packed = out.strip_prefix(b"header").unwrap();
                let unpacked = decompress(codec, packed, input.len()).unwrap();
                assert_eq!(&unpacked[..], &input[..], "{codec}");
                assert!(matches!(
                    decompress(codec, packed, input.len() - 1),
                    Err(RecordError::DecompressedTooLarge { .. })
                ));
            }
        }
    }

    #[test]
    fn snappy_reads_raw_and_xerial() {
        let input = b"hello hello hello hello snappy".repeat(100);
        let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
        assert_eq!(
            &decompress(Compression::Snappy, &raw, 1 << 20).unwrap()[..],
            &input[..]
        );
        let mut xerial = Vec::new();
        compress(Compression::Snappy, &input, &mut xerial).unwrap();
        assert!(xerial.starts_with(&XERIAL_MAGIC));
        assert_eq!(&xerial[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            &decompress(Compression::Snappy, &xerial, 1 << 20).unwrap()[..],
            &input[..]
        );
    }

    #[test]
    fn zip_bomb_is_stopped() {
        // 64 MiB of zeros squeezes to a few tens of KiB.
        let zeros = vec![0u8; 64 << 20];
        for codec in [
            Compression::Gzip,
            Compression::Lz4,
            Compression::Zstd,
            Compression::Snappy,
        ] {
            let mut packed = Vec::new();
            compress(codec, &zeros, &mut packed).unwrap();
            assert!(packed.len() < 4 << 20, "{codec}: {}", packed.len());
            assert!(matches!(
                decompress(codec, &packed, 1 << 20),
                Err(RecordError::DecompressedTooLarge { limit, .. }) if limit == 1 << 20
            ));
        }
    }
}
