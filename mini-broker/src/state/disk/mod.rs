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
//! - `DIR/topics.meta`: name, id, partition count and config overrides of every topic, a
//!   journal: a created topic is appended, other changes rewrite it.
//! - `DIR/group-offsets.meta`: committed group offsets, a journal (`journal.rs`): each commit
//!   appends the offsets it changed, a deletion rewrites it.
//! - `DIR/transactions.meta`: transactional ids with their producer id, epoch and last
//!   outcome, a journal appended at InitProducerId and at each transaction's end; a commit
//!   is journalled as decided (`PrepareCommit`, with its offsets) before its markers are
//!   written, so a restart finishes it.
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

mod journal;
mod segments;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use segments::{BatchSource, FilePos, PartitionFiles};

use journal::Journal;

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
/// The committed offsets journal.
const OFFSETS_FILE: &str = "group-offsets.meta";
/// The transactional ids journal.
const TXNS_FILE: &str = "transactions.meta";
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

/// A transactional id as the transactions journal keeps it: what fences an old instance and
/// recognises a retry after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTxnId {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// The producer id before the last rotation, or -1.
    pub previous_producer_id: i64,
    /// The current epoch.
    pub epoch: i16,
    /// The epoch before the last bump, or -1.
    pub last_epoch: i16,
    /// The transaction timeout, ms.
    pub timeout_ms: i32,
    /// The state's name: `Empty`, `CompleteCommit`, `CompleteAbort`, or `PrepareCommit`
    /// when a commit was decided and its markers may not all be written yet.
    pub state: String,
    /// With `PrepareCommit`: the offsets the transaction commits.
    pub pending_offsets: Vec<SavedOffset>,
}

/// The data directory.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    fsync: FsyncPolicy,
    offsets: Journal,
    txns: Journal,
    topics: Journal,
    /// What the journals (offsets, transactional ids, topics) held at opening, until read
    /// back.
    opened: Mutex<(Vec<String>, Vec<String>, Vec<String>)>,
}

impl DataDir {
    /// Opens (creating it if needed) the data directory at `root`.
    pub fn open(root: &Path, fsync: FsyncPolicy) -> io::Result<Self> {
        fs::create_dir_all(root).map_err(|e| with_path(e, "cannot create data dir", root))?;
        let (offsets, offset_lines) = Journal::open(root.join(OFFSETS_FILE), fsync)?;
        let (txns, txn_lines) = Journal::open(root.join(TXNS_FILE), fsync)?;
        let (topics, topic_lines) = Journal::open(root.join(TOPICS_FILE), fsync)?;
        Ok(DataDir {
            root: root.to_owned(),
            fsync,
            offsets,
            txns,
            topics,
            opened: Mutex::new((offset_lines, txn_lines, topic_lines)),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files of partition `partition` of `topic` (created on the first append).
    pub fn partition(&self, topic: &str, partition: usize, segment_bytes: u64) -> PartitionFiles {
        PartitionFiles::new(
            self.root.join(format!("{topic}-{partition}")),
            self.fsync,
            segment_bytes,
        )
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

    /// Appends `topic` (just created), and rewrites the journal from `all` once appends
    /// outnumber what it holds.
    pub fn append_topic(
        &self,
        topic: &SavedTopic,
        all: impl FnOnce() -> Vec<SavedTopic>,
    ) -> io::Result<()> {
        let mut journal = self.topics.lock();
        journal.append(&topic_line(topic))?;
        if journal.rewrite_due() {
            journal.rewrite(&all().iter().map(topic_line).collect::<String>())?;
        }
        Ok(())
    }

    /// Replaces the topics journal with `topics` (after a deletion or a change).
    pub fn save_topics(&self, topics: &[SavedTopic]) -> io::Result<()> {
        let text: String = topics.iter().map(topic_line).collect();
        self.topics.lock().rewrite(&text)
    }

    /// The topics journal, read back: the last record of each topic. Also reads the
    /// earlier layout, where a topic's configs followed on `config` lines.
    pub fn load_topics(&self) -> io::Result<Vec<SavedTopic>> {
        let lines = std::mem::take(&mut self.opened_lines().2);
        let mut topics: BTreeMap<String, SavedTopic> = BTreeMap::new();
        let mut last: Option<String> = None;
        for (n, line) in lines.iter().enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            let bad = || bad_meta(TOPICS_FILE, n, line);
            match fields.as_slice() {
                ["topic", name, id, partitions, internal, rest @ ..] if rest.len() <= 1 => {
                    let mut overrides = BTreeMap::new();
                    for pair in rest
                        .iter()
                        .filter(|c| **c != "-")
                        .flat_map(|c| c.split(','))
                    {
                        let (k, v) = pair.split_once('=').ok_or_else(bad)?;
                        overrides.insert(unhex(k).ok_or_else(bad)?, unhex(v).ok_or_else(bad)?);
                    }
                    let topic = SavedTopic {
                        name: (*name).to_owned(),
                        id: id.parse().map_err(|_| bad())?,
                        partitions: partitions.parse().map_err(|_| bad())?,
                        internal: *internal == "1",
                        overrides,
                    };
                    last = Some(topic.name.clone());
                    topics.insert(topic.name.clone(), topic);
                }
                ["config", k, v] => {
                    let topic = last
                        .as_ref()
                        .and_then(|name| topics.get_mut(name))
                        .ok_or_else(bad)?;
                    topic
                        .overrides
                        .insert(unhex(k).ok_or_else(bad)?, unhex(v).ok_or_else(bad)?);
                }
                _ => return Err(bad()),
            }
        }
        Ok(topics.into_values().collect())
    }

    /// Appends the offsets `changed` returns (their values now, read under the journal
    /// lock, so the last line per key is always the latest value), and rewrites the journal
    /// from `all` once appends outnumber what it holds.
    pub fn save_offsets(
        &self,
        changed: impl FnOnce() -> Vec<SavedOffset>,
        all: impl FnOnce() -> Vec<SavedOffset>,
    ) -> io::Result<()> {
        let mut journal = self.offsets.lock();
        journal.append(&offset_lines(changed()))?;
        if journal.rewrite_due() {
            journal.rewrite(&offset_lines(all()))?;
        }
        Ok(())
    }

    /// Rewrites the offsets journal from `all` (after offsets were deleted).
    pub fn rewrite_offsets(&self, all: impl FnOnce() -> Vec<SavedOffset>) -> io::Result<()> {
        self.offsets.lock().rewrite(&offset_lines(all()))
    }

    /// The offsets journal, read back: the last value of each offset.
    pub fn load_offsets(&self) -> io::Result<Vec<SavedOffset>> {
        let lines = std::mem::take(&mut self.opened_lines().0);
        let mut latest = BTreeMap::new();
        for (n, line) in lines.iter().enumerate() {
            let bad = || bad_meta(OFFSETS_FILE, n, line);
            let fields: Vec<&str> = line.split('\t').collect();
            let ["offset", rest @ ..] = fields.as_slice() else {
                return Err(bad());
            };
            let o = parse_offset(rest).ok_or_else(bad)?;
            latest.insert((o.group.clone(), o.topic.clone(), o.partition), o);
        }
        Ok(latest.into_values().collect())
    }

    /// Appends the state of one transactional id. The caller holds the coordinator's lock,
    /// which orders the appends.
    pub fn save_txn_id(&self, id: &SavedTxnId) -> io::Result<()> {
        self.txns.lock().append(&txn_lines([id]))
    }

    /// Rewrites the transactions journal from `all` if appends outnumber what it holds.
    pub fn compact_txn_ids(&self, all: impl FnOnce() -> Vec<SavedTxnId>) -> io::Result<()> {
        let mut journal = self.txns.lock();
        if journal.rewrite_due() {
            journal.rewrite(&txn_lines(&all()))?;
        }
        Ok(())
    }

    /// The transactions journal, read back: the last state of each transactional id.
    pub fn load_txn_ids(&self) -> io::Result<Vec<SavedTxnId>> {
        let lines = std::mem::take(&mut self.opened_lines().1);
        let mut latest = BTreeMap::new();
        // Offsets of a commit being prepared, until the `txn` line of its id.
        let mut pending: BTreeMap<String, Vec<SavedOffset>> = BTreeMap::new();
        for (n, line) in lines.iter().enumerate() {
            let bad = || bad_meta(TXNS_FILE, n, line);
            let fields: Vec<&str> = line.split('\t').collect();
            if let ["txn-offset", id, rest @ ..] = fields.as_slice() {
                let offset = parse_offset(rest).ok_or_else(bad)?;
                pending
                    .entry(unhex(id).ok_or_else(bad)?)
                    .or_default()
                    .push(offset);
                continue;
            }
            let ["txn", id, producer_id, previous, epoch, last_epoch, timeout, state, rest @ ..] =
                fields.as_slice()
            else {
                return Err(bad());
            };
            let transactional_id = unhex(id).ok_or_else(bad)?;
            let mut offsets = pending.remove(&transactional_id).unwrap_or_default();
            // A decision names how many offset lines precede it in its own append: lines
            // left by an earlier append cut short are not its.
            let count: usize = match rest {
                [] => 0,
                [count] => count.parse().map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            let stale = offsets.len().saturating_sub(count);
            offsets.drain(..stale);
            let t = SavedTxnId {
                transactional_id,
                producer_id: producer_id.parse().map_err(|_| bad())?,
                previous_producer_id: previous.parse().map_err(|_| bad())?,
                epoch: epoch.parse().map_err(|_| bad())?,
                last_epoch: last_epoch.parse().map_err(|_| bad())?,
                timeout_ms: timeout.parse().map_err(|_| bad())?,
                state: (*state).to_owned(),
                pending_offsets: if *state == "PrepareCommit" {
                    offsets
                } else {
                    Vec::new()
                },
            };
            latest.insert(t.transactional_id.clone(), t);
        }
        Ok(latest.into_values().collect())
    }

    fn opened_lines(&self) -> std::sync::MutexGuard<'_, (Vec<String>, Vec<String>, Vec<String>)> {
        self.opened.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The text of a metadata file (`None` if it does not exist), refusing one past
/// [`MAX_META_BYTES`] without reading it.
fn read_meta_file(path: &Path) -> io::Result<Option<String>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(with_path(e, "cannot open", path)),
    };
    let size = file
        .metadata()
        .map_err(|e| with_path(e, "cannot read", path))?
        .len();
    let mut text = String::new();
    if size <= MAX_META_BYTES {
        file.take(MAX_META_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| with_path(e, "cannot read", path))?;
    }
    if size > MAX_META_BYTES || text.len() as u64 > MAX_META_BYTES {
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

/// A topic's record: one line, so that an append cut short cannot leave it half-written.
fn topic_line(t: &SavedTopic) -> String {
    let configs: Vec<String> = t
        .overrides
        .iter()
        .map(|(k, v)| format!("{}={}", hex(k), hex(v)))
        .collect();
    format!(
        "topic\t{}\t{}\t{}\t{}\t{}\n",
        t.name,
        t.id,
        t.partitions,
        u8::from(t.internal),
        if configs.is_empty() {
            "-".to_owned()
        } else {
            configs.join(",")
        }
    )
}

fn offset_lines(offsets: Vec<SavedOffset>) -> String {
    let mut text = String::new();
    for o in &offsets {
        text.push_str("offset\t");
        push_offset(&mut text, o);
    }
    text
}

/// An offset's fields, tab-separated, and a newline.
fn push_offset(text: &mut String, o: &SavedOffset) {
    text.push_str(&format!(
        "{}\t{}\t{}\t{}\t{}\t{}\n",
        hex(&o.group),
        o.topic,
        o.partition,
        o.offset,
        o.leader_epoch,
        hex(&o.metadata)
    ));
}

/// The fields [`push_offset`] wrote.
fn parse_offset(fields: &[&str]) -> Option<SavedOffset> {
    let [group, topic, partition, offset, epoch, metadata] = fields else {
        return None;
    };
    Some(SavedOffset {
        group: unhex(group)?,
        topic: (*topic).to_owned(),
        partition: partition.parse().ok()?,
        offset: offset.parse().ok()?,
        leader_epoch: epoch.parse().ok()?,
        metadata: unhex(metadata)?,
    })
}

/// Each id's pending offsets (`txn-offset` lines), then its `txn` line: in one append, a
/// `txn` line read back is preceded by all of its offsets.
fn txn_lines<'a>(ids: impl IntoIterator<Item = &'a SavedTxnId>) -> String {
    let mut text = String::new();
    for t in ids {
        for o in &t.pending_offsets {
            text.push_str(&format!("txn-offset\t{}\t", hex(&t.transactional_id)));
            push_offset(&mut text, o);
        }
        text.push_str(&format!(
            "txn\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            hex(&t.transactional_id),
            t.producer_id,
            t.previous_producer_id,
            t.epoch,
            t.last_epoch,
            t.timeout_ms,
            t.state
        ));
        if !t.pending_offsets.is_empty() {
            text.push_str(&format!("\t{}", t.pending_offsets.len()));
        }
        text.push('\n');
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_read_back_from_both_layouts_the_last_record_winning() {
        let root = std::env::temp_dir().join(format!("ferrokafka-topics-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&root).unwrap();
        let id = uuid::Uuid::new_v4();
        // The earlier layout: configs on lines of their own.
        fs::write(
            root.join(TOPICS_FILE),
            format!(
                "topic\told\t{id}\t2\t0\nconfig\t{}\t{}\n",
                hex("retention.ms"),
                hex("1000")
            ),
        )
        .unwrap();
        let dir = DataDir::open(&root, FsyncPolicy::PageCache).unwrap();
        let mut new = SavedTopic {
            name: "new".into(),
            id,
            partitions: 3,
            internal: false,
            overrides: BTreeMap::from([("cleanup.policy".into(), "compact".into())]),
        };
        dir.append_topic(&new, Vec::new).unwrap();
        new.partitions = 4;
        dir.append_topic(&new, Vec::new).unwrap();
        drop(dir);
        let dir = DataDir::open(&root, FsyncPolicy::PageCache).unwrap();
        let topics = dir.load_topics().unwrap();
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[0], new, "the last record of 'new'");
        assert_eq!(topics[1].name, "old");
        assert_eq!(topics[1].overrides["retention.ms"], "1000");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_commit_decision_takes_only_the_offsets_of_its_own_append() {
        let root = std::env::temp_dir().join(format!("ferrokafka-txns-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&root).unwrap();
        let offset = |group: &str, n: i64| {
            format!(
                "txn-offset\t{}\t{}\tt\t0\t{n}\t-1\t-\n",
                hex("app"),
                hex(group)
            )
        };
        let decision = |count: usize| {
            format!(
                "txn\t{}\t7\t-1\t0\t-1\t60000\tPrepareCommit\t{count}\n",
                hex("app")
            )
        };
        // An append cut short after its offset lines (its decision line lost), then a whole
        // decision with one offset.
        let text = [offset("g", 5), offset("g", 6), offset("h", 9), decision(1)].concat();
        fs::write(root.join(TXNS_FILE), text).unwrap();
        let dir = DataDir::open(&root, FsyncPolicy::PageCache).unwrap();
        let ids = dir.load_txn_ids().unwrap();
        assert_eq!(ids.len(), 1);
        let pending: Vec<(&str, i64)> = ids[0]
            .pending_offsets
            .iter()
            .map(|o| (o.group.as_str(), o.offset))
            .collect();
        assert_eq!(pending, [("h", 9)]);
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
