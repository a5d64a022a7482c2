//! Length-prefixed frames: a 4-byte big-endian size, then that many bytes.
//!
//! The length is checked before anything is allocated for the frame: a negative, zero or
//! oversized prefix is an error, and a frame's buffer grows with the bytes that really arrive
//! rather than with the size the peer claims. [`FrameReader::read_frame`] is cancel-safe: its
//! state lives in the reader, so a dropped call loses nothing. [`FrameWriter`] poisons itself
//! when a write is interrupted half-way, because the peer would otherwise read the tail of one
//! frame as the head of the next.

use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Default largest frame accepted, as Kafka's `socket.request.max.bytes`.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// How much the read buffer grows at a time while a large frame trickles in.
const READ_CHUNK: usize = 64 * 1024;

/// Most slices handed to one vectored write (Linux takes up to 1024).
const MAX_SLICES_PER_WRITE: usize = 256;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is negative.
    #[error("frame length {0} is negative")]
    NegativeLength(i32),
    /// The length prefix is zero; no Kafka message is empty.
    #[error("frame length is zero")]
    EmptyFrame,
    /// The length prefix exceeds the configured maximum.
    #[error("frame length {len} exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The claimed length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed with {buffered} bytes of an unfinished frame")]
    Truncated {
        /// Bytes of the unfinished frame (prefix included) that had arrived.
        buffered: usize,
    },
    /// An earlier write was interrupted half-way; the stream can no longer be trusted.
    #[error("connection poisoned by an interrupted write")]
    Poisoned,
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks a length prefix against `max`, before any buffer is sized for it.
pub fn check_length(prefix: i32, max: usize) -> Result<usize, FrameError> {
    let len = usize::try_from(prefix).map_err(|_| FrameError::NegativeLength(prefix))?;
    if len == 0 {
        return Err(FrameError::EmptyFrame);
    }
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Splits one whole frame off the front of `buf`, if a whole frame is there.
///
/// Returns `Ok(None)` when more bytes are needed. The returned bytes exclude the prefix.
pub fn split_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let prefix = i32::from_be_bytes(*prefix);
    let len = check_length(prefix, max)?;
    if buf.len() - 4 < len {
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Appends `body` to `out` with its length prefix.
pub fn encode_frame(body: &[u8], out: &mut BytesMut) {
    out.reserve(4 + body.len());
    out.put_u32(frame_len(body.len()));
    out.put_slice(body);
}

fn frame_len(len: usize) -> u32 {
    // Frames we build are bounded by memory we already hold; saturate rather than wrap.
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Reads frames from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    max: usize,
    /// Length of the last whole frame read: bytes that did arrive, so room for that many is
    /// not a claim taken on trust.
    last_len: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps `inner`, accepting frames up to `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::with_capacity(8 * 1024),
            max,
            last_len: 0,
        }
    }

    /// Reads the next frame; `Ok(None)` on a clean end of stream between frames.
    ///
    /// Cancel-safe: bytes read before a cancellation stay buffered for the next call.
    pub async fn read_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        loop {
            if let Some(frame) = split_frame(&mut self.buf, self.max)? {
                self.last_len = frame.len();
                return Ok(Some(frame));
            }
            self.reserve_for_next_read();
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated {
                        buffered: self.buf.len(),
                    })
                };
            }
        }
    }

    /// Grows the buffer by at most one chunk, by as much as the last frame was, or by as much
    /// of this frame as has arrived: the frame's claimed size is never trusted, but a run of
    /// large frames (fetch responses) is read without growing, and so copying, each one's
    /// buffer many times over, and a first large frame's buffer at least doubles each time.
    fn reserve_for_next_read(&mut self) {
        let wanted = match self.buf.first_chunk::<4>() {
            Some(p) => {
                let claimed = u32::from_be_bytes(*p) as usize;
                (claimed + 4)
                    .saturating_sub(self.buf.len())
                    .clamp(1, READ_CHUNK.max(self.last_len).max(self.buf.len()))
            }
            None => READ_CHUNK,
        };
        if self.buf.capacity() - self.buf.len() < wanted {
            self.buf.reserve(wanted);
        }
    }

    /// The wrapped stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// Writes frames to a byte stream, refusing to continue after an interrupted write.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    /// Set while a frame is partly written; still set on the next call means the previous
    /// call was cancelled mid-frame.
    writing: bool,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        FrameWriter {
            inner,
            writing: false,
        }
    }

    /// Writes `body` as one frame and flushes it.
    ///
    /// Not cancel-safe by nature: a cancelled call poisons the writer, and every later call
    /// fails with [`FrameError::Poisoned`], so the connection must be closed.
    pub async fn write_frame(&mut self, body: &[u8]) -> Result<(), FrameError> {
        self.write_frames(std::iter::once(body)).await
    }

    /// Writes several frames with one flush; used to batch pipelined responses.
    pub async fn write_frames<'a, I>(&mut self, bodies: I) -> Result<(), FrameError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        if self.writing {
            return Err(FrameError::Poisoned);
        }
        self.writing = true;
        for body in bodies {
            let prefix = frame_len(body.len()).to_be_bytes();
            let mut chain = Buf::chain(&prefix[..], body);
            while chain.has_remaining() {
                self.inner.write_all_buf(&mut chain).await?;
            }
        }
        self.inner.flush().await?;
        self.writing = false;
        Ok(())
    }

    /// Writes one frame whose body is `parts` in order, with vectored writes: large bodies
    /// (record data) go to the socket from where they are, without being gathered first.
    pub async fn write_frame_parts(&mut self, parts: &[Bytes]) -> Result<(), FrameError> {
        if self.writing {
            return Err(FrameError::Poisoned);
        }
        self.writing = true;
        let prefix = frame_len(parts.iter().map(Bytes::len).sum()).to_be_bytes();
        let mut slices: Vec<IoSlice<'_>> = std::iter::once(&prefix[..])
            .chain(parts.iter().map(|p| &p[..]))
            .filter(|s| !s.is_empty())
            .map(IoSlice::new)
            .collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let batch = rest.get(..MAX_SLICES_PER_WRITE).unwrap_or(rest);
            let written = self.inner.write_vectored(batch).await?;
            if written == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            IoSlice::advance_slices(&mut rest, written);
        }
        self.inner.flush().await?;
        self.writing = false;
        Ok(())
    }

    /// Writes bytes that already hold complete frames (prefixes included).
    pub async fn write_encoded(&mut self, frames: &[u8]) -> Result<(), FrameError> {
        if self.writing {
            return Err(FrameError::Poisoned);
        }
        self.writing = true;
        self.inner.write_all(frames).await?;
        self.inner.flush().await?;
        self.writing = false;
        Ok(())
    }

    /// True once a write was interrupted.
    pub fn is_poisoned(&self) -> bool {
        self.writing
    }

    /// The wrapped stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_prefixes_before_allocating() {
        for (prefix, want) in [(-1i32, "negative"), (0, "zero"), (i32::MAX, "exceeds")] {
            let mut buf = BytesMut::from(&prefix.to_be_bytes()[..]);
            let err = split_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE).unwrap_err();
            assert!(err.to_string().contains(want), "{err}");
            assert!(buf.capacity() < 1024);
        }
    }

    #[test]
    fn splits_whole_frames_only() {
        let mut buf = BytesMut::new();
        encode_frame(b"hello", &mut buf);
        encode_frame(b"world!", &mut buf);
        let tail = buf.split_off(12);
        assert_eq!(split_frame(&mut buf, 100).unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(split_frame(&mut buf, 100).unwrap(), None);
        buf.unsplit(tail);
        assert_eq!(split_frame(&mut buf, 100).unwrap().unwrap(), &b"world!"[..]);
        assert!(buf.is_empty());
    }

    #[tokio::test]
    async fn reader_reports_truncation_and_clean_eof() {
        let mut bytes = BytesMut::new();
        encode_frame(b"abc", &mut bytes);
        let whole = bytes.clone().freeze();
        let mut r = FrameReader::new(&whole[..], 100);
        assert_eq!(r.read_frame().await.unwrap().unwrap(), &b"abc"[..]);
        assert!(r.read_frame().await.unwrap().is_none());

        let cut = whole.slice(..5);
        let mut r = FrameReader::new(&cut[..], 100);
        assert!(matches!(
            r.read_frame().await,
            Err(FrameError::Truncated { buffered: 5 })
        ));
    }

    #[tokio::test]
    async fn huge_claim_does_not_reserve_claimed_size() {
        let claim = (50 * 1024 * 1024i32).to_be_bytes();
        let mut r = FrameReader::new(&claim[..], DEFAULT_MAX_FRAME_SIZE);
        assert!(matches!(
            r.read_frame().await,
            Err(FrameError::Truncated { .. })
        ));
        assert!(r.buf.capacity() <= 2 * READ_CHUNK);
    }

    #[tokio::test]
    async fn a_frame_in_parts_reads_back_whole() {
        // More parts than one vectored write takes, some empty, through a small pipe so that
        // writes end part-way through slices.
        let parts: Vec<Bytes> = (0..600u32)
            .map(|i| Bytes::from(vec![i as u8; (i % 5) as usize]))
            .collect();
        let whole: Vec<u8> = parts.concat();
        let (a, b) = tokio::io::duplex(64);
        let mut w = FrameWriter::new(a);
        let mut r = FrameReader::new(b, DEFAULT_MAX_FRAME_SIZE);
        let (written, read) = tokio::join!(w.write_frame_parts(&parts), r.read_frame());
        written.unwrap();
        assert_eq!(read.unwrap().unwrap(), whole);
    }

    #[tokio::test]
    async fn cancelled_write_poisons_the_writer() {
        // A duplex pipe with a tiny buffer: the write blocks half-way until cancelled.
        let (a, _b) = tokio::io::duplex(8);
        let mut w = FrameWriter::new(a);
        let body = vec![7u8; 64];
        // Poll the write once (it fills the pipe and stays pending), then drop it.
        tokio::select! {
            biased;
            _ = w.write_frame(&body) => panic!("write cannot finish: nobody reads the pipe"),
            _ = std::future::ready(()) => {}
        }
        assert!(w.is_poisoned());
        assert!(matches!(
            w.write_frame(b"x").await,
            Err(FrameError::Poisoned)
        ));
    }
}
