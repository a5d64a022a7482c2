//! Optional persistence (`--data-dir`): partition logs as segment files, topics and committed
//! offsets as small metadata files, all read back at start.
//!
//! Layout, as Kafka's log directory:
//! - `DIR/<topic>-<partition>/<base offset, 20 digits>.log`: the partition's batches exactly
//!   as stored and served (offsets assigned, CRC valid), appended in order; a new segment is
//!   started when the active one would pass the topic's `segment.bytes`. Retention and
//!   DeleteRecords delete whole segments from the start; the exact log start offset is kept in
//!   `log-start-offset` beside them. Compaction rewrites the partition as one segment (temp
//!   file, then rename).
//! - `DIR/topics.meta`: name, id, partition count and config overrides of every topic.
//! - `DIR/group-offsets.meta`: every committed group offset, a snapshot rewritten on each
//!   commit (bounded by the offsets held, which live in memory anyway).
//!
//! Metadata files are replaced atomically (write a temp file, then rename). Appends go to the
//! page cache, as Kafka's do by default; [`FsyncPolicy::Always`] syncs after each append and
//! each metadata write (Kafka's `log.flush.interval.messages=1`).
//!
//! Reading back never trusts a length: each batch's header is read first and its length
//! checked against the bytes left in the file and the broker's frame limit before the batch is
//! read, then parsed and its CRC checked. The first batch that fails is where the file is cut
//! (a torn write after a crash), with a warning naming the file, the position and the bytes
//! cut. Writes happen under the topics lock, on the thread that holds it (no separate I/O
//! thread yet).

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use ferrokafka_protocol::record::{RecordBatch, MIN_BATCH_LENGTH};

/// When appended data is forced to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Leave it to the operating system's page cache (Kafka's default): a process crash loses
    /// nothing, a machine crash may lose the last seconds.
    #[default]
    PageCache,
    /// `fsync` after every append and metadata write (`--fsync always`).
    Always,
}

/// The topics file.
const TOPICS_FILE: &str = "topics.meta";
/// The committed offsets file.
const OFFSETS_FILE: &str = "group-offsets.meta";
/// Each partition's log start offset.
const START_FILE: &str = "log-start-offset";
/// Largest metadata file read back: past it the file is refused, not read.
const MAX_META_BYTES: u64 = 512 * 1024 * 1024;
/// Largest batch read back: a length past it is taken for corruption. Not the frame limit,
/// which may have been lowered since the batch was written; every read is bounded by the
/// bytes left in the file too.
pub const MAX_STORED_BATCH: usize = 1 << 30;
/// Batch header bytes that hold the base offset and the length.
const LENGTH_PREFIX: usize = 12;

/// A topic as the metadata file keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTopic {
    /// Its name.
    pub name: String,
    /// Its id (KIP-516).
    pub id: uuid::Uuid,
    /// Its partition count.
    pub partitions: usize,
    /// One of Kafka's internal topics.
    pub internal: bool,
    /// Its config overrides, as given.
    pub overrides: BTreeMap<String, String>,
}

/// A committed offset as the offsets file keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedOffset {
    /// The group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset.
    pub offset: i64,
    /// The leader epoch the client saw, or -1.
    pub leader_epoch: i32,
    /// The client's metadata.
    pub metadata: String,
}

/// The data directory.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    fsync: FsyncPolicy,
    /// Serialises snapshot writes, so an older snapshot never replaces a newer one.
    meta_writes: Mutex<()>,
}

impl DataDir {
    /// Opens (creating it if needed) the data directory at `root`.
    pub fn open(root: &Path, fsync: FsyncPolicy) -> io::Result<Self> {
        fs::create_dir_all(root).map_err(|e| with_path(e, "cannot create data dir", root))?;
        Ok(DataDir {
            root: root.to_owned(),
            fsync,
            meta_writes: Mutex::new(()),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files of partition `partition` of `topic` (created on the first append).
    pub fn partition(&self, topic: &str, partition: usize, segment_bytes: u64) -> PartitionFiles {
        PartitionFiles {
            dir: self.root.join(format!("{topic}-{partition}")),
            fsync: self.fsync,
            segments: VecDeque::new(),
            active: None,
            segment_bytes,
        }
    }

    /// Removes the directories of a deleted topic's partitions.
    pub fn remove_topic(&self, topic: &str, partitions: usize) {
        for p in 0..partitions {
            let dir = self.root.join(format!("{topic}-{p}"));
            if let Err(err) = fs::remove_dir_all(&dir) {
                if err.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(dir = %dir.display(), %err, "cannot remove a deleted topic's files");
                }
            }
        }
    }

    /// Replaces the topics file with `topics`.
    pub fn save_topics(&self, topics: &[SavedTopic]) -> io::Result<()> {
        let mut text = String::new();
        for t in topics {
            text.push_str(&format!(
                "topic\t{}\t{}\t{}\t{}\n",
                t.name,
                t.id,
                t.partitions,
                u8::from(t.internal)
            ));
            for (k, v) in &t.overrides {
                text.push_str(&format!("config\t{}\t{}\n", hex(k), hex(v)));
            }
        }
        self.write_atomically(TOPICS_FILE, text.as_bytes())
    }

    /// The topics file, read back (none before the first save).
    pub fn load_topics(&self) -> io::Result<Vec<SavedTopic>> {
        let Some(text) = self.read_meta(TOPICS_FILE)? else {
            return Ok(Vec::new());
        };
        let mut topics: Vec<SavedTopic> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            let bad = || bad_meta(TOPICS_FILE, n, line);
            match fields.as_slice() {
                ["topic", name, id, partitions, internal] => topics.push(SavedTopic {
                    name: (*name).to_owned(),
                    id: id.parse().map_err(|_| bad())?,
                    partitions: partitions.parse().map_err(|_| bad())?,
                    internal: *internal == "1",
                    overrides: BTreeMap::new(),
                }),
                ["config", k, v] => {
                    let topic = topics.last_mut().ok_or_else(bad)?;
                    topic
                        .overrides
                        .insert(unhex(k).ok_or_else(bad)?, unhex(v).ok_or_else(bad)?);
                }
                _ => return Err(bad()),
            }
        }
        Ok(topics)
    }

    /// Replaces the offsets file with what `snapshot` returns, taken while no other snapshot
    /// is being written.
    pub fn save_offsets(&self, snapshot: impl FnOnce() -> Vec<SavedOffset>) -> io::Result<()> {
        let _one_at_a_time = self.meta_writes.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = String::new();
        for o in snapshot() {
            text.push_str(&format!(
                "offset\t{}\t{}\t{}\t{}\t{}\t{}\n",
                hex(&o.group),
                o.topic,
                o.partition,
                o.offset,
                o.leader_epoch,
                hex(&o.metadata)
            ));
        }
        self.write_atomically(OFFSETS_FILE, text.as_bytes())
    }

    /// The offsets file, read back.
    pub fn load_offsets(&self) -> io::Result<Vec<SavedOffset>> {
        let Some(text) = self.read_meta(OFFSETS_FILE)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let bad = || bad_meta(OFFSETS_FILE, n, line);
            let fields: Vec<&str> = line.split('\t').collect();
            let ["offset", group, topic, partition, offset, epoch, metadata] = fields.as_slice()
            else {
                return Err(bad());
            };
            out.push(SavedOffset {
                group: unhex(group).ok_or_else(bad)?,
                topic: (*topic).to_owned(),
                partition: partition.parse().map_err(|_| bad())?,
                offset: offset.parse().map_err(|_| bad())?,
                leader_epoch: epoch.parse().map_err(|_| bad())?,
                metadata: unhex(metadata).ok_or_else(bad)?,
            });
        }
        Ok(out)
    }

    fn write_atomically(&self, name: &str, contents: &[u8]) -> io::Result<()> {
        let path = self.root.join(name);
        let tmp = self.root.join(format!("{name}.tmp"));
        replace_file(&tmp, &path, contents, self.fsync)
            .map_err(|e| with_path(e, "cannot write", &path))
    }

    fn read_meta(&self, name: &str) -> io::Result<Option<String>> {
        let path = self.root.join(name);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(with_path(e, "cannot open", &path)),
        };
        let size = file
            .metadata()
            .map_err(|e| with_path(e, "cannot read", &path))?
            .len();
        if size > MAX_META_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is {size} bytes, more than {MAX_META_BYTES}: refusing to read it",
                    path.display()
                ),
            ));
        }
        let mut text = String::new();
        file.take(MAX_META_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| with_path(e, "cannot read", &path))?;
        if text.len() as u64 > MAX_META_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is larger than {MAX_META_BYTES} bytes: refusing to read it",
                    path.display()
                ),
            ));
        }
        Ok(Some(text))
    }
}

/// Writes `contents` to `tmp`, then renames it over `path`.
fn replace_file(tmp: &Path, path: &Path, contents: &[u8], fsync: FsyncPolicy) -> io::Result<()> {
    let mut file = File::create(tmp)?;
    file.write_all(contents)?;
    if fsync == FsyncPolicy::Always {
        file.sync_all()?;
    }
    drop(file);
    fs::rename(tmp, path)
}

fn with_path(err: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
}

fn bad_meta(file: &str, line: usize, text: &str) -> io::Error {
    let shown: String = text.chars().take(80).collect();
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{file}, line {}: cannot parse {shown:?}", line + 1),
    )
}

/// Strings of any content go into the tab-separated files hex-encoded.
fn hex(s: &str) -> String {
    if s.is_empty() {
        return "-".to_owned();
    }
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if s == "-" {
        return Some(String::new());
    }
    if s.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// One segment file.
#[derive(Debug)]
struct Segment {
    /// Offset of its last batch's last record (`base - 1` while empty).
    last: i64,
    len: u64,
    path: PathBuf,
}

/// What a partition's files held.
#[derive(Debug, Default)]
pub struct LoadedPartition {
    /// Every good batch, in offset order.
    pub batches: Vec<RecordBatch>,
    /// The log start offset saved, if any.
    pub log_start_offset: Option<i64>,
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
    /// Appends one stored batch (offsets `base..=last`), starting a new segment first if the
    /// active one would pass `segment.bytes`. On failure nothing is left half-written.
    pub fn append(&mut self, bytes: &[u8], base: i64, last: i64) -> io::Result<()> {
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
        if let Err(err) = file.write_all(bytes) {
            // Leave no partial batch behind for the next append to follow.
            let _ = file.set_len(seg.len);
            let _ = file.seek(SeekFrom::Start(seg.len));
            return Err(with_path(err, "cannot append to", &seg.path));
        }
        if self.fsync == FsyncPolicy::Always {
            file.sync_data()
                .map_err(|e| with_path(e, "cannot fsync", &seg.path))?;
        }
        seg.len += len;
        seg.last = last;
        Ok(())
    }

    fn roll(&mut self, base: i64) -> io::Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| with_path(e, "cannot create", &self.dir))?;
        let path = self.dir.join(segment_name(base));
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| with_path(e, "cannot create", &path))?;
        self.active = Some(file);
        self.segments.push_back(Segment {
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

    /// Replaces every segment with one holding `batches` (after compaction): written to a
    /// temp file, renamed to the first batch's segment name, then the others are deleted.
    pub fn rewrite<'a>(
        &mut self,
        batches: impl Iterator<Item = (i64, i64, &'a [u8])>,
    ) -> io::Result<()> {
        let mut contents = Vec::new();
        let mut range: Option<(i64, i64)> = None;
        for (base, last, bytes) in batches {
            contents.extend_from_slice(bytes);
            range = Some((range.map_or(base, |r| r.0), last));
        }
        // Until the new segment is in place the old ones stay as they are, tracked.
        let mut new = None;
        if let Some((base, last)) = range {
            let path = self.dir.join(segment_name(base));
            replace_file(&self.dir.join("cleaned.tmp"), &path, &contents, self.fsync)
                .map_err(|e| with_path(e, "cannot rewrite", &path))?;
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| with_path(e, "cannot open", &path))?;
            new = Some((
                file,
                Segment {
                    last,
                    len: contents.len() as u64,
                    path,
                },
            ));
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
        Ok(())
    }

    /// Reads back what this partition's directory holds: every segment in offset order, batch
    /// by batch, each length bounded by the bytes left and by `max_batch`, each CRC checked.
    /// Batches an earlier segment already held are skipped (an interrupted compaction rewrite
    /// leaves them). The first bad or out-of-order batch is where the log ends: its file is
    /// cut there and later segments are deleted, each said at warn. Afterwards appends continue the last
    /// segment.
    pub fn load(&mut self, max_batch: usize) -> io::Result<LoadedPartition> {
        let mut loaded = LoadedPartition::default();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(loaded),
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
                loaded.log_start_offset = text.trim().parse().ok();
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
                        pos += batch.size() as u64;
                        last = batch.last_offset();
                        next = Some(batch.next_offset());
                        loaded.batches.push(batch);
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
                last,
                len: pos,
                path,
            });
            self.active = Some(file);
        }
        Ok(loaded)
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
        let loaded = files.load(1 << 20).unwrap();
        let offsets: Vec<i64> = loaded
            .batches
            .iter()
            .map(RecordBatch::base_offset)
            .collect();
        assert_eq!(offsets, [0, 1, 2, 3, 4, 5]);

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
        assert_eq!(files.load(1 << 20).unwrap().batches.len(), 6);
        let len = fs::metadata(part.join(segment_name(3))).unwrap().len();
        assert_eq!(
            len,
            cat(&[3, 4, 5]).len() as u64,
            "cut back to the good batches"
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn hex_round_trips_any_text() {
        for s in ["", "a\tb\nc", "ü-é", "-"] {
            assert_eq!(unhex(&hex(s)).as_deref(), Some(s));
        }
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }
}
