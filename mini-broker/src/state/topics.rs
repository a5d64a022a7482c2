//! Topics, their partitions and their configuration.
//!
//! Topic configuration follows Kafka's topic-level keys; those the broker acts on are parsed
//! into typed fields, and every key a client set is kept so DescribeConfigs can show it.

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use super::disk::{DataDir, SavedTopic};
use super::log::{Cleaned, PartitionLog};
use super::memory::MemoryBudget;
use super::topic_configs;

/// Kafka's default `max.message.bytes`.
pub const DEFAULT_MAX_MESSAGE_BYTES: i32 = 1_048_588;
/// Kafka's default `retention.ms` (7 days, its `log.retention.hours` of 168).
pub const DEFAULT_RETENTION_MS: i64 = 604_800_000;
/// Kafka's default `delete.retention.ms` (1 day).
const DEFAULT_DELETE_RETENTION_MS: i64 = 86_400_000;

/// How record timestamps are set (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamps are kept.
    CreateTime,
    /// The broker stamps each batch with its append time.
    LogAppendTime,
}

/// Topic-level settings the broker acts on.
#[derive(Debug, Clone)]
pub struct TopicConfig {
    /// Largest batch accepted, in bytes (`max.message.bytes`).
    pub max_message_bytes: i32,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// In-memory bytes kept per partition; the smaller of `retention.bytes` and the broker's
    /// per-partition limit.
    pub retention_bytes: usize,
    /// `retention.ms`: batches whose newest record is older go (-1: kept forever).
    pub retention_ms: i64,
    /// `delete.retention.ms`: how long a compacted topic keeps tombstones and markers.
    pub delete_retention_ms: i64,
    /// Every key set explicitly at creation or later, as given.
    pub overrides: BTreeMap<String, String>,
}

/// Why a config could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The key is not a topic config we know.
    #[error("Unknown topic config name: {0}")]
    UnknownKey(String),
    /// The value does not parse for the key, or breaks its rule.
    #[error("Invalid value {value} for configuration {key}: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The value, as Kafka shows it (as given when it does not parse, else as parsed).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Values that contradict each other, or a feature this broker lacks (Kafka's message).
    #[error("{0}")]
    Conflict(String),
}

impl TopicConfig {
    /// Builds a topic's config from the keys a client gave, on top of the broker's limits.
    pub fn from_overrides<'a>(
        pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        partition_retention_bytes: usize,
        default_retention_ms: i64,
    ) -> Result<Self, ConfigError> {
        let mut config = TopicConfig {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            timestamp_type: TimestampType::CreateTime,
            retention_bytes: partition_retention_bytes,
            retention_ms: default_retention_ms,
            delete_retention_ms: DEFAULT_DELETE_RETENTION_MS,
            overrides: BTreeMap::new(),
        };
        for (key, value) in pairs {
            let Some(value) = value else { continue };
            config.set(key, value, partition_retention_bytes)?;
        }
        config.check_together()?;
        Ok(config)
    }

    /// Kafka's checks across keys: the compaction lags in order, and no tiered storage (this
    /// broker has none, as a Kafka broker without `remote.log.storage.system.enable`).
    fn check_together(&self) -> Result<(), ConfigError> {
        let long = |k: &str, default: i64| {
            self.overrides
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        let (min_lag, max_lag) = (
            long("min.compaction.lag.ms", 0),
            long("max.compaction.lag.ms", i64::MAX),
        );
        if min_lag > max_lag {
            return Err(ConfigError::Conflict(format!(
                "conflict topic config setting min.compaction.lag.ms ({min_lag}) > \
                 max.compaction.lag.ms ({max_lag})"
            )));
        }
        let remote = self
            .overrides
            .get("remote.storage.enable")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if remote {
            return Err(ConfigError::Conflict(
                "Tiered Storage functionality is disabled in the broker. Topic cannot be \
                 configured with remote log storage."
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether `cleanup.policy` includes `compact`: records need keys.
    pub fn compacted(&self) -> bool {
        self.cleanup_policies().any(|p| p == "compact")
    }

    /// Whether `cleanup.policy` includes `delete`: records may be deleted by offset.
    pub fn deletes(&self) -> bool {
        self.cleanup_policies().any(|p| p == "delete")
    }

    fn cleanup_policies(&self) -> impl Iterator<Item = &str> {
        self.overrides
            .get("cleanup.policy")
            .map_or("delete", String::as_str)
            .split(',')
            .map(str::trim)
    }

    fn set(&mut self, key: &str, value: &str, broker_limit: usize) -> Result<(), ConfigError> {
        // Every known key's value is checked as Kafka checks it, whether or not this broker
        // acts on it; the values below have passed.
        topic_configs::find(key)
            .ok_or_else(|| ConfigError::UnknownKey(key.to_owned()))?
            .check(value)?;
        let invalid = || ConfigError::InvalidValue {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: "not a value this broker accepts".to_owned(),
        };
        let value = value.trim();
        match key {
            "max.message.bytes" => {
                self.max_message_bytes = value
                    .parse()
                    .ok()
                    .filter(|v: &i32| *v >= 0)
                    .ok_or_else(invalid)?;
            }
            "message.timestamp.type" => {
                self.timestamp_type = match value {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid()),
                };
            }
            "retention.ms" => self.retention_ms = value.parse().map_err(|_| invalid())?,
            "delete.retention.ms" => {
                self.delete_retention_ms = value.parse().map_err(|_| invalid())?;
            }
            "retention.bytes" => {
                // Kafka takes any long; a negative one is "no limit" (here: the broker's).
                let v: i64 = value.parse().map_err(|_| invalid())?;
                self.retention_bytes =
                    usize::try_from(v).map_or(broker_limit, |v| v.min(broker_limit));
            }
            _ => {}
        }
        self.overrides.insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}

/// A topic: its id, partitions and config.
#[derive(Debug)]
pub struct Topic {
    /// The topic id (KIP-516), fixed at creation.
    pub id: Uuid,
    /// One log per partition, indexed by partition number.
    pub partitions: Vec<PartitionLog>,
    /// The topic's configuration.
    pub config: TopicConfig,
    /// One of Kafka's internal topics ([`INTERNAL_TOPICS`]): listed with `is_internal`, and
    /// clients may not write to it.
    pub internal: bool,
    /// What the partition logs count their data against; new partitions get it too.
    memory: Arc<MemoryBudget>,
    /// With a data dir: it, and this topic's name, for new partitions' files.
    disk: Option<(Arc<DataDir>, String)>,
}

/// Kafka's default `segment.bytes` (1 GiB).
const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;

/// Kafka's internal topics: the group coordinator's log and the transaction coordinator's.
/// Kafka creates each when a coordinator of its kind is first looked for (or a client asks
/// for it by name); so does this broker. Here they hold no records: the coordinators keep
/// their state in memory.
pub const INTERNAL_TOPICS: [&str; 2] = ["__consumer_offsets", "__transaction_state"];

impl Topic {
    /// A new topic with `partitions` empty partitions, whose data counts against `memory`.
    pub fn new(partitions: usize, config: TopicConfig, memory: Arc<MemoryBudget>) -> Self {
        let logs = (0..partitions)
            .map(|_| PartitionLog::new(config.retention_bytes, Arc::clone(&memory)))
            .collect();
        Topic {
            id: Uuid::new_v4(),
            partitions: logs,
            config,
            internal: false,
            memory,
            disk: None,
        }
    }

    /// This topic, its partitions written to `disk` under `name` from now on.
    pub fn on_disk(mut self, disk: Arc<DataDir>, name: &str) -> Self {
        let segment_bytes = self.segment_bytes();
        self.partitions = std::mem::take(&mut self.partitions)
            .into_iter()
            .enumerate()
            .map(|(i, log)| log.with_files(disk.partition(name, i, segment_bytes)))
            .collect();
        self.disk = Some((disk, name.to_owned()));
        self
    }

    /// `segment.bytes`: when a partition's active segment file is rolled.
    fn segment_bytes(&self) -> u64 {
        self.config
            .overrides
            .get("segment.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_SEGMENT_BYTES)
    }

    /// The topic as the data dir's metadata file keeps it.
    pub fn saved(&self, name: &str) -> SavedTopic {
        SavedTopic {
            name: name.to_owned(),
            id: self.id,
            partitions: self.partitions.len(),
            internal: self.internal,
            overrides: self.config.overrides.clone(),
        }
    }

    /// Removes this topic's files, if it has any (it was deleted).
    pub fn remove_files(&self) {
        if let Some((disk, name)) = &self.disk {
            disk.remove_topic(name, self.partitions.len());
        }
    }

    /// The budget this topic's data counts against.
    pub fn memory(&self) -> Arc<MemoryBudget> {
        Arc::clone(&self.memory)
    }

    /// Adds empty partitions up to `count` in total.
    pub fn grow_to(&mut self, count: usize) {
        let segment_bytes = self.segment_bytes();
        while self.partitions.len() < count {
            let mut log = PartitionLog::new(self.config.retention_bytes, Arc::clone(&self.memory));
            if let Some((disk, name)) = &self.disk {
                log = log.with_files(disk.partition(name, self.partitions.len(), segment_bytes));
            }
            self.partitions.push(log);
        }
    }

    /// The partition's log, if it exists.
    pub fn partition(&self, index: i32) -> Option<&PartitionLog> {
        self.partitions.get(usize::try_from(index).ok()?)
    }

    /// The partition's log for appending, if it exists.
    pub fn partition_mut(&mut self, index: i32) -> Option<&mut PartitionLog> {
        self.partitions.get_mut(usize::try_from(index).ok()?)
    }

    /// Time retention at `now_ms` on every partition, if the policy deletes and `retention.ms`
    /// is not -1. Returns the records expired.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        if !self.config.deletes() || self.config.retention_ms < 0 {
            return 0;
        }
        let oldest_kept = now_ms.saturating_sub(self.config.retention_ms);
        self.partitions
            .iter_mut()
            .map(|log| log.expire_before(oldest_kept))
            .sum()
    }

    /// A cleaning pass at `now_ms` on every partition, if the policy compacts.
    pub fn clean(&mut self, now_ms: i64) -> Cleaned {
        if !self.config.compacted() {
            return Cleaned::default();
        }
        let delete_retention_ms = self.config.delete_retention_ms;
        self.partitions
            .iter_mut()
            .map(|log| log.compact(now_ms, delete_retention_ms))
            .fold(Cleaned::default(), |a, b| Cleaned {
                records: a.records + b.records,
                bytes: a.bytes + b.bytes,
            })
    }
}

/// Whether `name` is a legal topic name: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(is_valid_topic_name("orders.v1_x-2"));
        for bad in ["", ".", "..", "a b", "ü", &"x".repeat(250)] {
            assert!(!is_valid_topic_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn config_parsing() {
        let c = TopicConfig::from_overrides(
            [
                ("message.timestamp.type", Some("LogAppendTime")),
                ("retention.bytes", Some("100")),
            ],
            1000,
            -1,
        )
        .unwrap();
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(c.retention_bytes, 100);
        assert!(TopicConfig::from_overrides([("nope", Some("1"))], 1, -1).is_err());
        assert!(TopicConfig::from_overrides([("max.message.bytes", Some("x"))], 1, -1).is_err());
    }
}
