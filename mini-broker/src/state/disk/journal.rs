//! An append-only file of text lines for small state that changes often (committed offsets,
//! transactional ids): each change appends the lines that describe it, reading back replays
//! them with the last line per key winning, and once appends outnumber the live lines the file
//! is rewritten from a snapshot (temp file, then rename). So a change costs one `write`, not a
//! rewrite of everything, and the file stays within a few times the live state.
//!
//! A crash can leave the last line without its newline: reading back cuts it (that change
//! was never acknowledged as written) with a warning.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::{read_meta_file, replace_file, with_path, FsyncPolicy};

/// Lines appended after a rewrite before the next one is considered, at least.
const MIN_LINES_BEFORE_REWRITE: u64 = 10_000;

/// One journal file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    fsync: FsyncPolicy,
    inner: Mutex<Open>,
}

#[derive(Debug)]
struct Open {
    /// Opened at the first append.
    file: Option<File>,
    /// Lines in the file at the last rewrite (or at reading back).
    base_lines: u64,
    /// Lines appended since.
    appended: u64,
    /// The file's length: where a failed append is cut back to.
    len: u64,
}

/// The journal, locked: appends and rewrites in the order the holder makes them.
pub struct Locked<'a> {
    journal: &'a Journal,
    open: MutexGuard<'a, Open>,
}

impl Journal {
    /// The journal at `path` and the complete lines it holds (none if it does not exist).
    pub fn open(path: PathBuf, fsync: FsyncPolicy) -> io::Result<(Journal, Vec<String>)> {
        let (lines, len) = read_lines(&path)?;
        let journal = Journal {
            path,
            fsync,
            inner: Mutex::new(Open {
                file: None,
                base_lines: lines.len() as u64,
                appended: 0,
                len,
            }),
        };
        Ok((journal, lines))
    }

    /// The journal, for one change or a sequence of them (callers that must order their
    /// appends with a change in memory hold it across both).
    pub fn lock(&self) -> Locked<'_> {
        Locked {
            journal: self,
            open: self.inner.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

impl Locked<'_> {
    /// Appends `text` (whole lines, each ending in a newline).
    pub fn append(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let path = &self.journal.path;
        let open = &mut *self.open;
        if open.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| with_path(e, "cannot open", path))?;
            open.file = Some(file);
        }
        let Some(file) = open.file.as_mut() else {
            return Err(io::Error::other("journal not open"));
        };
        if let Err(err) = file.write_all(text.as_bytes()) {
            // Leave no partial line for the next append to continue.
            let _ = file.set_len(open.len);
            return Err(with_path(err, "cannot append to", path));
        }
        open.len += text.len() as u64;
        if self.journal.fsync == FsyncPolicy::Always {
            file.sync_data()
                .map_err(|e| with_path(e, "cannot fsync", path))?;
        }
        let lines = text.bytes().filter(|b| *b == b'\n').count() as u64;
        open.appended = open.appended.saturating_add(lines);
        Ok(())
    }

    /// Whether appends since the last rewrite outnumber the lines it wrote (and a minimum):
    /// time to [`rewrite`](Self::rewrite).
    pub fn rewrite_due(&self) -> bool {
        self.open.appended >= MIN_LINES_BEFORE_REWRITE.max(self.open.base_lines)
    }

    /// Replaces the file with `text`, the live state as whole lines.
    pub fn rewrite(&mut self, text: &str) -> io::Result<()> {
        let path = &self.journal.path;
        let tmp = path.with_extension("tmp");
        self.open.file = None;
        replace_file(&tmp, path, text.as_bytes(), self.journal.fsync)
            .map_err(|e| with_path(e, "cannot write", path))?;
        self.open.base_lines = text.bytes().filter(|b| *b == b'\n').count() as u64;
        self.open.appended = 0;
        self.open.len = text.len() as u64;
        Ok(())
    }
}

/// The complete lines of `path`, refusing a file past `MAX_META_BYTES`; a last line without
/// its newline (a torn append) is cut from the file with a warning. Also returns the length
/// kept.
fn read_lines(path: &Path) -> io::Result<(Vec<String>, u64)> {
    let Some(text) = read_meta_file(path)? else {
        return Ok((Vec::new(), 0));
    };
    let complete = match text.rfind('\n') {
        Some(end) => end + 1,
        None => 0,
    };
    if complete < text.len() {
        tracing::warn!(
            file = %path.display(),
            bytes = text.len() - complete,
            "cutting a torn last line (a write cut by a crash)"
        );
        // Cut it, so the next append starts on a fresh line.
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(complete as u64))
            .map_err(|e| with_path(e, "cannot cut the torn line of", path))?;
    }
    let lines = text[..complete]
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    Ok((lines, complete as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ferrokafka-journal-{tag}-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("j.log")
    }

    #[test]
    fn appends_read_back_in_order_and_a_torn_line_is_dropped() {
        let path = temp("torn");
        {
            let (journal, lines) = Journal::open(path.clone(), FsyncPolicy::PageCache).unwrap();
            assert!(lines.is_empty());
            journal.lock().append("a\t1\nb\t2\n").unwrap();
            journal.lock().append("a\t3\n").unwrap();
        }
        // A crash cut the next append short.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"b\t4")
            .unwrap();
        let (journal, lines) = Journal::open(path.clone(), FsyncPolicy::PageCache).unwrap();
        assert_eq!(lines, ["a\t1", "b\t2", "a\t3"]);
        journal.lock().append("c\t5\n").unwrap();
        let (_, lines) = Journal::open(path.clone(), FsyncPolicy::PageCache).unwrap();
        assert_eq!(lines, ["a\t1", "b\t2", "a\t3", "c\t5"]);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_rewrite_replaces_the_history_and_resets_the_count() {
        let path = temp("rewrite");
        let (journal, _) = Journal::open(path.clone(), FsyncPolicy::Always).unwrap();
        let mut locked = journal.lock();
        for i in 0..MIN_LINES_BEFORE_REWRITE {
            assert!(!locked.rewrite_due(), "due after {i} lines");
            locked.append(&format!("k\t{i}\n")).unwrap();
        }
        assert!(locked.rewrite_due());
        locked.rewrite("k\tlast\n").unwrap();
        assert!(!locked.rewrite_due());
        locked.append("j\t1\n").unwrap();
        drop(locked);
        let (_, lines) = Journal::open(path.clone(), FsyncPolicy::PageCache).unwrap();
        assert_eq!(lines, ["k\tlast", "j\t1"]);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
