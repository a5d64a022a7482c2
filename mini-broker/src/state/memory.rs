//! The memory budget for record data (`--max-memory`).
//!
//! Every partition's batches live in memory. Unbounded, a client writes until an allocation
//! fails, the process aborts and every record is gone. So the broker counts the bytes of
//! batch data it holds, over all partitions, against one budget. A write that would take it
//! past the budget is refused with KAFKA_STORAGE_ERROR, what Kafka answers when a log
//! directory is full, and a message naming the budget; producers retry it as they would a
//! full disk, and succeed once retention, DeleteRecords or a deleted topic makes room.
//! Transaction markers are always written: they are what lets a transaction end.
//!
//! Logged at warn: crossing 80 % of the budget, and the first refusal of an episode; an
//! episode ends (info) when the data falls below 80 % again.
//!
//! Default ([`default_limit`]): half of the machine's memory, or half of a lower cgroup
//! memory limit, or a quarter of an address-space limit (`ulimit -v`; the allocator and the
//! threads reserve address space of their own).
//!
//! What not: the bookkeeping around the data (partitions, groups, connections, request
//! buffers) is not counted; `--max-partitions`, `--max-connections` and
//! `socket.request.max.bytes` bound it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The share of the budget past which a warning is logged.
const HIGH_PERCENT: usize = 80;

/// How much record data the broker may hold, and how much it holds.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    held: AtomicUsize,
    episode: Mutex<Episode>,
}

/// What has been logged since the data last was below [`HIGH_PERCENT`].
#[derive(Debug, Default)]
struct Episode {
    high: bool,
    refused: bool,
}

impl MemoryBudget {
    /// A budget of `limit` bytes of record data.
    pub fn new(limit: usize) -> Self {
        MemoryBudget {
            limit,
            held: AtomicUsize::new(0),
            episode: Mutex::new(Episode::default()),
        }
    }

    /// A budget that never refuses (unit tests of single logs).
    pub fn unlimited() -> Self {
        Self::new(usize::MAX)
    }

    /// The budget in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes of record data held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether `bytes` more fit; when not, the message to answer with (and a warning, once
    /// per episode). Appends happen under the topics lock, so a check and its append are not
    /// raced by another append.
    pub fn admit(&self, bytes: usize, topic: &str, partition: i32) -> Result<(), String> {
        let held = self.held();
        if held.saturating_add(bytes) <= self.limit {
            return Ok(());
        }
        let message = format!(
            "the broker's memory budget for record data is full: {} of {} held, {} more \
             refused (--max-memory); delete records or topics, or lower retention.bytes",
            mib(held),
            mib(self.limit),
            mib(bytes)
        );
        let mut episode = self.lock();
        if !episode.refused {
            episode.refused = true;
            tracing::warn!(
                topic,
                partition,
                "refusing writes until there is room: {message}"
            );
        }
        Err(message)
    }

    /// Counts `bytes` of record data taken.
    pub(crate) fn hold(&self, bytes: usize) {
        let held = self
            .held
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        if self.is_high(held) {
            let mut episode = self.lock();
            if !episode.high {
                episode.high = true;
                tracing::warn!(
                    "record data uses {} of the {} memory budget (--max-memory); writes are \
                     refused past it",
                    mib(held),
                    mib(self.limit)
                );
            }
        }
    }

    /// Counts `bytes` of record data freed.
    pub(crate) fn release(&self, bytes: usize) {
        let held = self
            .held
            .fetch_sub(bytes, Ordering::Relaxed)
            .saturating_sub(bytes);
        if !self.is_high(held) {
            let mut episode = self.lock();
            if episode.high || episode.refused {
                *episode = Episode::default();
                tracing::info!(
                    "record data is back below {HIGH_PERCENT} % of the memory budget ({} of {})",
                    mib(held),
                    mib(self.limit)
                );
            }
        }
    }

    fn is_high(&self, held: usize) -> bool {
        self.limit != usize::MAX && held as u128 * 100 >= self.limit as u128 * HIGH_PERCENT as u128
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Episode> {
        self.episode.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The default budget: half of the machine's memory, or half of a lower cgroup limit, or a
/// quarter of an address-space limit; 1 GiB when none can be read.
pub fn default_limit() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| mem_total(&s));
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
    let address_space = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| address_space_limit(&s));
    [
        total.map(|b| b / 2),
        cgroup.map(|b| b / 2),
        address_space.map(|b| b / 4),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(1 << 30)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<usize> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft `Max address space` of `/proc/self/limits`, in bytes; `None` when unlimited.
fn address_space_limit(limits: &str) -> Option<usize> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line.trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_and_refuses_past_it_naming_the_budget() {
        let budget = MemoryBudget::new(1000);
        assert!(budget.admit(1000, "t", 0).is_ok());
        budget.hold(900);
        assert!(budget.admit(100, "t", 0).is_ok());
        let refused = budget.admit(101, "t", 0).expect_err("past the budget");
        assert!(refused.contains("--max-memory"), "{refused}");
        budget.release(500);
        assert_eq!(budget.held(), 400);
        assert!(budget.admit(600, "t", 0).is_ok());
    }

    #[test]
    fn an_episode_starts_at_80_percent_and_ends_below_it() {
        let budget = MemoryBudget::new(1000);
        budget.hold(799);
        assert!(!budget.lock().high);
        budget.hold(1);
        assert!(budget.lock().high);
        let _ = budget.admit(500, "t", 0);
        assert!(budget.lock().refused);
        budget.release(1);
        assert!(!budget.lock().high && !budget.lock().refused);
    }

    #[test]
    fn reads_the_machine_limits() {
        let meminfo = "MemTotal:       24568448 kB\nMemFree:         1234 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_568_448 * 1024));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(address_space_limit(limits), None);
        let limits = "Max address space         2147483648           unlimited            bytes\n";
        assert_eq!(address_space_limit(limits), Some(2_147_483_648));
        assert!(default_limit() > 0);
    }
}
