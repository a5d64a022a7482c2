//! One partition's segment files: appends, rolls, reads of batches no longer held in memory,
//! deletions below the log start offset, compaction rewrites, and the batch-by-batch read at
//! start that cuts a torn tail.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use bytes::Bytes;
use ferrokafka_protocol::record::{RecordBatch, MIN_BATCH_LENGTH};

use super::{replace_file, with_path, FsyncPolicy, LENGTH_PREFIX, START_FILE};

/// One segment file.
#[derive(Debug)]
struct Segment {
    /// Offset it is named after (at or below its first batch's).
    base: i64,
    /// Offset of its last batch's last record (`base - 1` while empty).
    last: i64,
    len: u64,
    path: PathBuf,
}

/// Where a batch is in a partition's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePos {
    /// The base offset of its segment.
    pub segment: i64,
    /// Its position in the segment.
    pub position: u64,
}

/// A batch's bytes, for a compaction rewrite: in memory, or where the files have them.
#[derive(Debug, Clone, Copy)]
pub enum BatchSource<'a> {
    /// Held in memory.
    Memory(&'a [u8]),
    /// In the current files, `len` bytes at the position.
    File(FilePos, usize),
}

/// The files of one partition.
#[derive(Debug)]
pub struct PartitionFiles {
    dir: PathBuf,
    fsync: FsyncPolicy,
    /// Oldest first; the last one is the active segment.
    segments: VecDeque<Segment>,
    active: Option<File>,
    segment_bytes: u64,
}

impl PartitionFiles {
    /// The files under `dir`, not yet read or written.
    pub(super) fn new(dir: PathBuf, fsync: FsyncPolicy, segment_bytes: u64) -> Self {
        PartitionFiles {
            dir,
            fsync,
            segments: VecDeque::new(),
            active: None,
            segment_bytes,
        }
    }

    /// Appends one stored batch (offsets `base..=last`), starting a new segment first if the
    /// active one would pass `segment.bytes`; returns where it went. On failure nothing is
    /// left half-written.
    pub fn append(&mut self, bytes: &[u8], base: i64, last: i64) -> io::Result<FilePos> {
        let len = bytes.len() as u64;
        let roll = match self.segments.back() {
            None => true,
            Some(seg) => {
                self.active.is_none() || (seg.len > 0 && seg.len + len > self.segment_bytes)
            }
        };
        if roll {
            self.roll(base)?;
        }
        let (Some(file), Some(seg)) = (self.active.as_mut(), self.segments.back_mut()) else {
            return Err(io::Error::other("no active segment"));
        };
        let written = file
            .write_all(bytes)
            .map_err(|e| with_path(e, "cannot append to", &seg.path))
            .and_then(|()| match self.fsync {
                FsyncPolicy::Always => file
                    .sync_data()
                    .map_err(|e| with_path(e, "cannot fsync", &seg.path)),
                FsyncPolicy::PageCache => Ok(()),
            });
        if let Err(err) = written {
            // The batch is refused: leave none of it behind for the next append to follow
            // (the next batch goes where this one would have).
            let _ = file.set_len(seg.len);
            let _ = file.seek(SeekFrom::Start(seg.len));
            return Err(err);
        }
        let at = FilePos {
            segment: seg.base,
            position: seg.len,
        };
        seg.len += len;
        seg.last = last;
        Ok(at)
    }

    /// Reads the `len` bytes of the batch at `at` (a batch [`append`](Self::append) or
    /// [`load`](Self::load) placed there). The read is bounded by what the segment holds.
    pub fn read(&self, at: FilePos, len: usize) -> io::Result<Bytes> {
        let found = self
            .segments
            .binary_search_by_key(&at.segment, |s| s.base)
            .ok()
            .and_then(|i| self.segments.get(i));
        let Some(seg) = found else {
            return Err(io::Error::other(format!(
                "no segment {} in {}",
                at.segment,
                self.dir.display()
            )));
        };
        if at.position.saturating_add(len as u64) > seg.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: {len} bytes at {} pass the segment's {} bytes",
                    seg.path.display(),
                    at.position,
                    seg.len
                ),
            ));
        }
        // A descriptor of its own (the appender's cursor is not to be moved), read into
        // capacity that is not zeroed first: a profile of fetches from the files had 6 % of
        // the broker's time in zeroing read buffers.
        let mut bytes = Vec::with_capacity(len);
        File::open(&seg.path)
            .and_then(|mut f| {
                f.seek(SeekFrom::Start(at.position))?;
                f.take(len as u64).read_to_end(&mut bytes)
            })
            .map_err(|e| with_path(e, "cannot read", &seg.path))?;
        if bytes.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: {} of {len} bytes at {}",
                    seg.path.display(),
                    bytes.len(),
                    at.position
                ),
            ));
        }
        Ok(Bytes::from(bytes))
    }

    fn roll(&mut self, base: i64) -> io::Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| with_path(e, "cannot create", &self.dir))?;
        let path = self.dir.join(segment_name(base));
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| with_path(e, "cannot create", &path))?;
        self.active = Some(file);
        self.segments.push_back(Segment {
            base,
            last: base - 1,
            len: 0,
            path,
        });
        Ok(())
    }

    /// The log start offset moved to `start`: deletes the segments wholly below it (the
    /// active one too when the log is empty) and saves `start` if `save` or a segment went
    /// (retention by size moves the start on appends; at load it is derived again).
    pub fn start_moved(&mut self, start: i64, save: bool) {
        let mut deleted = false;
        while self.segments.front().is_some_and(|s| s.last < start) {
            let Some(seg) = self.segments.pop_front() else {
                break;
            };
            if self.segments.is_empty() {
                self.active = None;
            }
            deleted = true;
            if let Err(err) = fs::remove_file(&seg.path) {
                tracing::warn!(file = %seg.path.display(), %err, "cannot delete a segment below the log start offset");
            }
        }
        if !save && !deleted {
            return;
        }
        if let Err(err) = fs::create_dir_all(&self.dir).and_then(|()| {
            replace_file(
                &self.dir.join(format!("{START_FILE}.tmp")),
                &self.dir.join(START_FILE),
                start.to_string().as_bytes(),
                self.fsync,
            )
        }) {
            tracing::warn!(dir = %self.dir.display(), %err, "cannot save the log start offset; after a restart it is the first batch's");
        }
    }

    /// Replaces every segment with one holding `batches` (after compaction), streamed into a
    /// temp file (from memory or from the current files) that is then renamed to the first
    /// batch's segment name; the old segments are deleted after. Returns where each batch is
    /// now.
    pub fn rewrite<'a>(
        &mut self,
        batches: impl Iterator<Item = (i64, i64, BatchSource<'a>)>,
    ) -> io::Result<Vec<FilePos>> {
        let tmp = self.dir.join("cleaned.tmp");
        let mut out = std::io::BufWriter::new(
            File::create(&tmp).map_err(|e| with_path(e, "cannot create", &tmp))?,
        );
        let mut range: Option<(i64, i64)> = None;
        let mut positions = Vec::new();
        let mut len = 0u64;
        for (base, last, source) in batches {
            let first = range.map_or(base, |r| r.0);
            range = Some((first, last));
            positions.push(FilePos {
                segment: first,
                position: len,
            });
            let written = match source {
                BatchSource::Memory(bytes) => out.write_all(bytes).map(|()| bytes.len()),
                BatchSource::File(at, n) => self
                    .read(at, n)
                    .and_then(|bytes| out.write_all(&bytes).map(|()| n)),
            };
            len += written.map_err(|e| with_path(e, "cannot write", &tmp))? as u64;
        }
        let file = out
            .into_inner()
            .map_err(|e| with_path(e.into_error(), "cannot write", &tmp))?;
        if self.fsync == FsyncPolicy::Always {
            file.sync_all()
                .map_err(|e| with_path(e, "cannot fsync", &tmp))?;
        }
        drop(file);
        // Until the new segment is in place the old ones stay as they are, tracked; the new
        // one is opened before the rename, so that nothing can fail after it.
        let mut new = None;
        if let Some((base, last)) = range {
            let path = self.dir.join(segment_name(base));
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&tmp)
                .map_err(|e| with_path(e, "cannot open", &tmp))?;
            fs::rename(&tmp, &path).map_err(|e| with_path(e, "cannot rename to", &path))?;
            new = Some((
                file,
                Segment {
                    base,
                    last,
                    len,
                    path,
                },
            ));
        } else {
            let _ = fs::remove_file(&tmp);
        }
        let old: Vec<Segment> = self.segments.drain(..).collect();
        self.active = None;
        if let Some((file, segment)) = new {
            self.active = Some(file);
            self.segments.push_back(segment);
        }
        for seg in old {
            if self.segments.front().is_some_and(|s| s.path == seg.path) {
                continue;
            }
            if let Err(err) = fs::remove_file(&seg.path) {
                tracing::warn!(file = %seg.path.display(), %err, "cannot delete a compacted segment");
            }
        }
        Ok(positions)
    }

    /// Reads back what this partition's directory holds: every segment in offset order, batch
    /// by batch, each length bounded by the bytes left and by `max_batch`, each CRC checked.
    /// Batches an earlier segment already held are skipped (an interrupted compaction rewrite
    /// leaves them). The first bad or out-of-order batch is where the log ends: its file is
    /// cut there and later segments are deleted, each said at warn. Each good batch goes to
    /// `each` with where it is, one at a time; returns the saved log start offset, if any.
    /// Afterwards appends continue the last segment.
    pub fn load(
        &mut self,
        max_batch: usize,
        mut each: impl FnMut(RecordBatch, FilePos),
    ) -> io::Result<Option<i64>> {
        let mut log_start_offset = None;
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(with_path(e, "cannot list", &self.dir)),
        };
        let mut found: Vec<(i64, PathBuf)> = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Some(base) = name
                .strip_suffix(".log")
                .and_then(|b| b.parse::<i64>().ok())
            {
                found.push((base, path));
            } else if name == START_FILE {
                let text = fs::read_to_string(&path).unwrap_or_default();
                log_start_offset = text.trim().parse().ok();
            } else if name.ends_with(".tmp") {
                let _ = fs::remove_file(&path);
            }
        }
        found.sort();
        let mut next: Option<i64> = None;
        let mut cut = false;
        for (base, path) in found {
            if cut {
                tracing::warn!(file = %path.display(), "deleting a segment that follows a cut");
                fs::remove_file(&path).map_err(|e| with_path(e, "cannot delete", &path))?;
                continue;
            }
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| with_path(e, "cannot open", &path))?;
            let size = file.metadata()?.len();
            let mut pos = 0u64;
            let mut last = base - 1;
            let mut skipped = 0usize;
            loop {
                if pos == size {
                    break;
                }
                match read_batch(&mut file, size - pos, max_batch) {
                    // Already read from an earlier segment: a compaction rewrite was
                    // interrupted before it deleted the segments it replaced.
                    Ok(batch) if next.is_some_and(|n| batch.last_offset() < n) => {
                        pos += batch.size() as u64;
                        skipped += 1;
                    }
                    Ok(batch)
                        if next.is_none_or(|n| batch.base_offset() >= n)
                            && batch.base_offset() >= base =>
                    {
                        let at = FilePos {
                            segment: base,
                            position: pos,
                        };
                        pos += batch.size() as u64;
                        last = batch.last_offset();
                        next = Some(batch.next_offset());
                        each(batch, at);
                    }
                    outcome => {
                        let why = match outcome {
                            Ok(batch) => format!(
                                "batch at offset {} is out of order (expected at least {})",
                                batch.base_offset(),
                                next.unwrap_or(base).max(base)
                            ),
                            Err(err) => err.to_string(),
                        };
                        tracing::warn!(
                            file = %path.display(),
                            position = pos,
                            bytes_cut = size - pos,
                            reason = %why,
                            "cutting a torn or corrupt log tail"
                        );
                        file.set_len(pos)
                            .map_err(|e| with_path(e, "cannot cut", &path))?;
                        cut = true;
                        break;
                    }
                }
            }
            if skipped > 0 {
                tracing::warn!(
                    file = %path.display(),
                    batches = skipped,
                    "skipped batches an earlier segment already holds (an interrupted compaction)"
                );
            }
            file.seek(SeekFrom::Start(pos))?;
            self.segments.push_back(Segment {
                base,
                last,
                len: pos,
                path,
            });
            self.active = Some(file);
        }
        Ok(log_start_offset)
    }
}

/// Reads one batch from `file`, which has `left` bytes from its position: the length prefix
/// first, checked, then exactly that many bytes, parsed and CRC-checked.
fn read_batch(file: &mut File, left: u64, max_batch: usize) -> Result<RecordBatch, String> {
    let mut prefix = [0u8; LENGTH_PREFIX];
    if left < LENGTH_PREFIX as u64 {
        return Err(format!("{left} bytes left, less than a batch header"));
    }
    file.read_exact(&mut prefix).map_err(|e| e.to_string())?;
    let declared = i32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
    if declared < MIN_BATCH_LENGTH {
        return Err(format!("impossible batch length {declared}"));
    }
    let total = LENGTH_PREFIX as u64 + u64::from(declared.unsigned_abs());
    if total > left {
        return Err(format!(
            "batch of {total} bytes but only {left} left (torn write)"
        ));
    }
    if total > max_batch as u64 {
        return Err(format!(
            "batch of {total} bytes is over the {max_batch}-byte limit"
        ));
    }
    // Bounded above by `max_batch` and by the file's own length.
    let total = usize::try_from(total).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(&prefix);
    bytes.resize(total, 0);
    let rest = bytes.get_mut(LENGTH_PREFIX..).unwrap_or_default();
    file.read_exact(rest).map_err(|e| e.to_string())?;
    let batch = RecordBatch::new(Bytes::from(bytes)).map_err(|e| e.to_string())?;
    batch.verify_crc().map_err(|e| e.to_string())?;
    Ok(batch)
}

fn segment_name(base: i64) -> String {
    format!("{base:020}.log")
}

#[cfg(test)]
mod tests {
    use super::super::DataDir;
    use super::*;

    fn one_record(offset: i64) -> Bytes {
        let mut b = ferrokafka_protocol::record::BatchBuilder::new().base_offset(offset);
        b.push(ferrokafka_protocol::record::RecordInput {
            value: Some(Bytes::from(format!("v{offset}"))),
            ..Default::default()
        })
        .unwrap();
        b.build().unwrap()
    }

    #[test]
    fn an_interrupted_compaction_reads_back_whole_and_a_bad_length_is_refused() {
        let root = std::env::temp_dir().join(format!("ferrokafka-disk-{}", uuid::Uuid::new_v4()));
        let dir = DataDir::open(&root, FsyncPolicy::PageCache).unwrap();
        let part = root.join("t-0");
        fs::create_dir_all(&part).unwrap();
        let cat = |offsets: &[i64]| {
            offsets
                .iter()
                .flat_map(|o| one_record(*o))
                .collect::<Vec<u8>>()
        };
        // The rewritten segment (offsets 1, 3, 4) beside the old ones it replaces.
        fs::write(part.join(segment_name(0)), cat(&[0, 1, 2])).unwrap();
        fs::write(part.join(segment_name(1)), cat(&[1, 3, 4])).unwrap();
        fs::write(part.join(segment_name(3)), cat(&[3, 4, 5])).unwrap();
        let mut files = dir.partition("t", 0, u64::MAX);
        let mut loaded = Vec::new();
        files
            .load(1 << 20, |b, at| {
                loaded.push((b.base_offset(), at, b.into_bytes()))
            })
            .unwrap();
        let offsets: Vec<i64> = loaded.iter().map(|l| l.0).collect();
        assert_eq!(offsets, [0, 1, 2, 3, 4, 5]);
        for (_, at, bytes) in &loaded {
            assert_eq!(
                &files.read(*at, bytes.len()).unwrap(),
                bytes,
                "read back at {at:?}"
            );
        }

        // A length that claims 2 GiB: refused before anything is allocated, the file cut.
        let mut garbage = one_record(6).to_vec();
        garbage[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        let mut file = OpenOptions::new()
            .append(true)
            .open(part.join(segment_name(3)))
            .unwrap();
        file.write_all(&garbage).unwrap();
        drop(file);
        let mut files = dir.partition("t", 0, u64::MAX);
        let mut count = 0;
        files.load(1 << 20, |_, _| count += 1).unwrap();
        assert_eq!(count, 6);
        let len = fs::metadata(part.join(segment_name(3))).unwrap().len();
        assert_eq!(
            len,
            cat(&[3, 4, 5]).len() as u64,
            "cut back to the good batches"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
