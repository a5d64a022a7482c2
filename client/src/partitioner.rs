//! Which partition a record goes to: murmur2 of the key, sticky for keyless records.
//!
//! What: [`Partitioner`] (the strategies the producer offers), [`murmur2`] and
//! [`partition_for_key`] (the Java client's keyed partitioning, byte for byte), and the sticky
//! choice for records without a key (KIP-480).
//!
//! Why byte for byte: a keyed record must land in the same partition whichever client wrote it,
//! or a consumer that relies on per-key ordering sees a key's records split across
//! partitions. The Java client's default partitioner computes
//! `toPositive(murmur2(keyBytes)) % numPartitions`, and librdkafka's `murmur2_random` does the
//! same; so do we. The count is of *all* partitions, available or not, as in Java: a key's
//! partition must not move while a leader is being elected.
//!
//! Sticky partitioning (KIP-480): a keyless record goes to the topic's current sticky partition
//! until the batch there is full or has been sent (appending would start a new batch); then a
//! new sticky partition is picked at random among the available ones (those with a leader),
//! different from the last when there is a choice. Batches fill up instead of trickling one
//! record into every partition.
//!
//! What not: no custom partitioner trait (yet), no KIP-794 adaptive (load-aware) switching, no
//! librdkafka `consistent`/`fnv1a`/`random` partitioners.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// How the producer picks a partition for records that do not name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Partitioner {
    /// The Java client's built-in partitioner and librdkafka's `murmur2_random`: keyed records
    /// by `toPositive(murmur2(key)) % partitions`, keyless records sticky (KIP-480).
    /// Names: `partitioner=murmur2_random` (librdkafka), no `partitioner.class` (Java).
    #[default]
    Default,
    /// Every record without an explicit partition is sticky, key or not.
    /// Java: `partitioner.ignore.keys=true`, or
    /// `partitioner.class=org.apache.kafka.clients.producer.UniformStickyPartitioner`.
    IgnoreKeys,
    /// Records cycle through the available partitions one by one, keys ignored.
    /// Java: `partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner`.
    RoundRobin,
}

impl Partitioner {
    /// The strategy for a `partitioner` (librdkafka) or `partitioner.class` (Java) value.
    pub(crate) fn from_name(name: &str) -> Option<Partitioner> {
        match name {
            "murmur2_random"
            | "default"
            | "org.apache.kafka.clients.producer.internals.DefaultPartitioner"
            | "org.apache.kafka.clients.producer.internals.BuiltInPartitioner" => {
                Some(Partitioner::Default)
            }
            "org.apache.kafka.clients.producer.UniformStickyPartitioner" => {
                Some(Partitioner::IgnoreKeys)
            }
            "round_robin" | "org.apache.kafka.clients.producer.RoundRobinPartitioner" => {
                Some(Partitioner::RoundRobin)
            }
            _ => None,
        }
    }
}

/// The 32-bit murmur2 hash exactly as `org.apache.kafka.common.utils.Utils.murmur2` computes
/// it (seed `0x9747b28c`), as a signed Java `int`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java hashes `data.length` as an int; keys beyond 2 GiB cannot be sent anyway.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in chunks.by_ref() {
        let mut k = u32::from_le_bytes(<[u8; 4]>::try_from(chunk).unwrap_or_default());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        // The fall-through switch of the Java code: case 3, then 2, then 1.
        if let Some(b) = tail.get(2) {
            h ^= u32::from(*b) << 16;
        }
        if let Some(b) = tail.get(1) {
            h ^= u32::from(*b) << 8;
        }
        if let Some(b) = tail.first() {
            h ^= u32::from(*b);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// `toPositive(murmur2(key)) % partitions`, the Java client's partition for a keyed record.
/// `partitions` must be at least 1.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

/// A small random number, without a dependency: std's per-process random hash keys.
fn random_below(n: usize) -> usize {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    (hasher.finish() % (n.max(1) as u64)) as usize
}

/// One topic's sticky partition (KIP-480); shared by every sender of records to the topic.
#[derive(Debug)]
pub(crate) struct StickyPartition {
    /// The current partition, or -1 before the first pick.
    current: AtomicI32,
}

impl Default for StickyPartition {
    fn default() -> Self {
        StickyPartition {
            current: AtomicI32::new(-1),
        }
    }
}

impl StickyPartition {
    /// The current sticky partition, picking one among `available` (or among all
    /// `partitions` when none is available) on first use.
    pub(crate) fn current(&self, available: &[i32], partitions: i32) -> i32 {
        let current = self.current.load(Ordering::Relaxed);
        if (0..partitions).contains(&current) {
            return current;
        }
        self.switch_from(current, available, partitions)
    }

    /// Moves on from `previous` (the batch there is full or was sent) to a random other
    /// partition. When two callers race, the first switch wins and both use its choice.
    pub(crate) fn switch_from(&self, previous: i32, available: &[i32], partitions: i32) -> i32 {
        let next = pick_other(previous, available, partitions);
        match self
            .current
            .compare_exchange(previous, next, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => next,
            Err(already) if (0..partitions).contains(&already) => already,
            Err(_) => next,
        }
    }
}

/// A random partition other than `previous`, among `available` if any, else among all.
fn pick_other(previous: i32, available: &[i32], partitions: i32) -> i32 {
    let all: Vec<i32>;
    let choices = if available.is_empty() {
        all = (0..partitions.max(1)).collect();
        &all[..]
    } else {
        available
    };
    let first = choices.first().copied().unwrap_or(0);
    if choices.len() == 1 {
        return first;
    }
    let others = choices.iter().filter(|p| **p != previous).count();
    let nth = random_below(others);
    choices
        .iter()
        .copied()
        .filter(|p| *p != previous)
        .nth(nth)
        .unwrap_or(first)
}

/// One topic's round-robin position.
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    next: AtomicU32,
}

impl RoundRobin {
    /// The next partition among `available`, or among all `partitions` when none is.
    pub(crate) fn next(&self, available: &[i32], partitions: i32) -> i32 {
        let n = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        if available.is_empty() {
            (n % partitions.max(1) as usize) as i32
        } else {
            available.get(n % available.len()).copied().unwrap_or(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with `org.apache.kafka.common.utils.Utils.murmur2` from kafka-clients 4.1.2;
    /// the last column is `Utils.toPositive(hash) % 6`.
    const JAVA: &[(&str, i32, i32)] = &[
        ("", 275646681, 3),
        ("a", -1563381124, 4),
        ("ab", 316155434, 2),
        ("abc", 479470107, 3),
        ("abcd", -1323649548, 2),
        ("hello", 2132663229, 3),
        ("kafka", -798503068, 4),
        ("key-0", 29210041, 1),
        ("key-1", 193331640, 0),
        ("key-42", -187086521, 3),
        ("ferrokafka-producer", 1497740873, 5),
        ("The quick brown fox jumps over the lazy dog", 495243318, 0),
    ];

    #[test]
    fn murmur2_matches_java() {
        for (key, hash, partition) in JAVA {
            assert_eq!(murmur2(key.as_bytes()), *hash, "murmur2({key:?})");
            assert_eq!(
                partition_for_key(key.as_bytes(), 6),
                *partition,
                "partition of {key:?}"
            );
        }
        // Bytes above 0x7f: Java masks each with 0xff before shifting.
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(murmur2(&all), -1948347274);
        assert_eq!(murmur2(&[0xff, 0x80, 0x7f]), 968261134);
    }

    #[test]
    fn sticky_stays_until_switched_and_then_moves() {
        let sticky = StickyPartition::default();
        let available = [0, 1, 2, 3];
        let first = sticky.current(&available, 4);
        assert!(available.contains(&first));
        assert_eq!(sticky.current(&available, 4), first);
        let second = sticky.switch_from(first, &available, 4);
        assert_ne!(second, first);
        assert_eq!(sticky.current(&available, 4), second);
        // A racing switch from the old partition keeps the winner's choice.
        assert_eq!(sticky.switch_from(first, &available, 4), second);
        // One partition: nowhere else to go.
        let single = StickyPartition::default();
        assert_eq!(single.current(&[], 1), 0);
        assert_eq!(single.switch_from(0, &[], 1), 0);
        // Only available partitions are picked.
        for _ in 0..50 {
            let s = StickyPartition::default();
            assert!([1, 3].contains(&s.switch_from(1, &[1, 3], 4)));
        }
    }

    #[test]
    fn round_robin_cycles() {
        let rr = RoundRobin::default();
        let got: Vec<i32> = (0..6).map(|_| rr.next(&[0, 2, 5], 6)).collect();
        assert_eq!(got, [0, 2, 5, 0, 2, 5]);
        assert_eq!(rr.next(&[], 2), 0);
    }

    #[test]
    fn names() {
        assert_eq!(
            Partitioner::from_name("murmur2_random"),
            Some(Partitioner::Default)
        );
        assert_eq!(
            Partitioner::from_name("org.apache.kafka.clients.producer.RoundRobinPartitioner"),
            Some(Partitioner::RoundRobin)
        );
        assert_eq!(Partitioner::from_name("fnv1a"), None);
    }
}
