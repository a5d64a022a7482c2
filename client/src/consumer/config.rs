//! [`ConsumerConfig`]: the consumer's settings, typed, with the Java names and defaults.
//!
//! What: one struct that embeds the [`ClientConfig`] and adds what only a consumer needs (group
//! membership, fetch sizes, offset policies). [`ConsumerConfig::set`] takes the Java key names
//! and falls back to [`ClientConfig::set`] for keys it does not know, so a whole Java
//! `consumer.properties` can be replayed into it. [`ConsumerConfig::validate`] is the one check
//! of the combination; it runs in [`ConsumerConfigBuilder::build`] and again when a
//! [`Consumer`](super::Consumer) is created.
//!
//! Why enums: `auto.offset.reset=none`, `isolation.level=read_committed` and the assignor list
//! are choices, not strings; a typo fails `set` with the key's name instead of silently picking
//! a default.
//!
//! What not: no `group.protocol`
//! (the KIP-848 "consumer" protocol is not implemented; this is the classic protocol), no
//! interceptors or deserializers (records are bytes).

use crate::config::{parse_bool, parse_ms, parse_number};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::ClientConfig;
use crate::error::Error;

/// What to do when a partition has no committed offset, or its position is out of range.
/// Java: `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// Start from the log start offset (`earliest`).
    Earliest,
    /// Start from the end of the log: only records written from now on (`latest`, Java's
    /// default).
    #[default]
    Latest,
    /// Fail: [`Error::OffsetOutOfRange`] (or [`Error::NoOffset`]) naming the partition
    /// (`none`).
    None,
}

impl AutoOffsetReset {
    /// The Java value.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoOffsetReset::Earliest => "earliest",
            AutoOffsetReset::Latest => "latest",
            AutoOffsetReset::None => "none",
        }
    }
}

impl FromStr for AutoOffsetReset {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "earliest" | "smallest" | "beginning" => Ok(AutoOffsetReset::Earliest),
            "latest" | "largest" | "end" => Ok(AutoOffsetReset::Latest),
            "none" | "error" => Ok(AutoOffsetReset::None),
            _ => Err(()),
        }
    }
}

/// Which records a fetch returns. Java: `isolation.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Everything up to the high watermark, aborted transactions included (Java's default).
    #[default]
    ReadUncommitted,
    /// Only up to the last stable offset, without records of aborted transactions.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value of Fetch and ListOffsets requests.
    pub fn wire(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }

    /// The Java value.
    pub fn as_str(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "read_uncommitted",
            IsolationLevel::ReadCommitted => "read_committed",
        }
    }
}

impl FromStr for IsolationLevel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            _ => Err(()),
        }
    }
}

/// A partition assignor, named as in the group protocol. Java:
/// `partition.assignment.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentStrategy {
    /// `range`: per topic, consecutive partitions to members in member-id order.
    Range,
    /// `roundrobin`: all partitions of all topics dealt to members in turn.
    RoundRobin,
    /// `cooperative-sticky`: balanced, keeps partitions where they are, and moves them in two
    /// rebalances (KIP-429) so that no member stops fetching what it keeps.
    CooperativeSticky,
}

impl AssignmentStrategy {
    /// The protocol name sent in JoinGroup, the same as Java's and librdkafka's.
    pub fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
            AssignmentStrategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The strategy for a protocol name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "range" => Some(AssignmentStrategy::Range),
            "roundrobin" => Some(AssignmentStrategy::RoundRobin),
            "cooperative-sticky" => Some(AssignmentStrategy::CooperativeSticky),
            _ => None,
        }
    }

    /// True for assignors that support the cooperative (incremental) protocol.
    pub fn is_cooperative(self) -> bool {
        self == AssignmentStrategy::CooperativeSticky
    }
}

impl FromStr for AssignmentStrategy {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        // Java users write class names; librdkafka users write the protocol names.
        let short = s.rsplit('.').next().unwrap_or(s);
        match short {
            "range" | "RangeAssignor" => Ok(AssignmentStrategy::Range),
            "roundrobin" | "RoundRobinAssignor" => Ok(AssignmentStrategy::RoundRobin),
            "cooperative-sticky" | "CooperativeStickyAssignor" => {
                Ok(AssignmentStrategy::CooperativeSticky)
            }
            _ => Err(()),
        }
    }
}

impl fmt::Display for AssignmentStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of a [`Consumer`](super::Consumer). Defaults are the Java consumer's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// The shared client settings (`bootstrap.servers`, `request.timeout.ms`, ...).
    pub client: ClientConfig,
    /// The consumer group. Java: `group.id`, no default; needed for `subscribe` and commits.
    pub group_id: Option<String>,
    /// Static membership (KIP-345): a restart with the same id gets the same assignment
    /// without a rebalance. Java: `group.instance.id`, no default.
    pub group_instance_id: Option<String>,
    /// Java: `auto.offset.reset`, default `latest`.
    pub auto_offset_reset: AutoOffsetReset,
    /// The rack this consumer runs in (KIP-392): sent with every Fetch, so a broker with a
    /// `replica.selector.class` may point it to a replica in the same rack, and in the group
    /// subscription for rack-aware assignors. Java: `client.rack`, default none.
    pub client_rack: Option<String>,
    /// Commit the positions of records handed out so far, every `auto_commit_interval`, on
    /// revocation and on close. Java: `enable.auto.commit`, default true (false without a
    /// group id). See [`crate::semantics`] for what it guarantees (not much).
    pub enable_auto_commit: bool,
    /// Java: `auto.commit.interval.ms`, default 5 s.
    pub auto_commit_interval: Duration,
    /// The broker holds a fetch until this many bytes are there (or `fetch_max_wait`).
    /// Java: `fetch.min.bytes`, default 1.
    pub fetch_min_bytes: i32,
    /// Longest the broker holds a fetch. Java: `fetch.max.wait.ms`, default 500 ms.
    pub fetch_max_wait: Duration,
    /// Byte limit of one fetch response (not absolute: one batch may exceed it).
    /// Java: `fetch.max.bytes`, default 50 MiB.
    pub fetch_max_bytes: i32,
    /// Byte limit per partition in one fetch (not absolute either).
    /// Java: `max.partition.fetch.bytes`, default 1 MiB.
    pub max_partition_fetch_bytes: i32,
    /// Most records one `poll` returns. Java: `max.poll.records`, default 500.
    pub max_poll_records: usize,
    /// The group coordinator drops a member it has not heard from in this long.
    /// Java: `session.timeout.ms`, default 45 s.
    pub session_timeout: Duration,
    /// Java: `heartbeat.interval.ms`, default 3 s; must be below the session timeout.
    pub heartbeat_interval: Duration,
    /// Longest the application may go without polling before this member leaves the group;
    /// also the rebalance timeout sent in JoinGroup. Java: `max.poll.interval.ms`, default
    /// 5 min.
    pub max_poll_interval: Duration,
    /// Assignors offered to the group, in order of preference. Java:
    /// `partition.assignment.strategy`, default `[range, cooperative-sticky]`.
    pub assignment_strategies: Vec<AssignmentStrategy>,
    /// Java: `isolation.level`, default `read_uncommitted`.
    pub isolation_level: IsolationLevel,
    /// Check each batch's CRC-32C before reading it. Java: `check.crcs`, default true.
    pub check_crcs: bool,
    /// Ask the broker to create subscribed (or assigned) topics that do not exist when
    /// fetching their metadata; the broker's `auto.create.topics.enable` must allow it too.
    /// Java: `allow.auto.create.topics`, default true.
    pub allow_auto_create_topics: bool,
    /// Bound of blocking calls without their own timeout (`commit`, `committed`, `position`).
    /// Java: `default.api.timeout.ms`, default 60 s.
    pub default_api_timeout: Duration,
    /// Wait before retrying a failed request (fetch, commit, join). Java: `retry.backoff.ms`,
    /// default 100 ms.
    pub retry_backoff: Duration,
    /// Cap of the join and heartbeat retry waits, which double from `retry_backoff` with
    /// each failure in a row (with ±20 % jitter, as the producer's retries). Java:
    /// `retry.backoff.max.ms`, default 1 s.
    pub retry_backoff_max: Duration,
    /// Whether `enable.auto.commit` was set explicitly: Java refuses an explicit `true`
    /// without a group id, but quietly turns the default off.
    auto_commit_explicit: bool,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            group_id: None,
            group_instance_id: None,
            auto_offset_reset: AutoOffsetReset::Latest,
            client_rack: None,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5_000),
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            max_poll_records: 500,
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            assignment_strategies: vec![
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky,
            ],
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            allow_auto_create_topics: true,
            default_api_timeout: Duration::from_millis(60_000),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            auto_commit_explicit: false,
        }
    }
}

/// The keys [`ConsumerConfig::set`] handles itself; others go to [`ClientConfig::set`].
pub const KEYS: &[&str] = &[
    "group.id",
    "group.instance.id",
    "auto.offset.reset",
    "client.rack",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "fetch.min.bytes",
    "fetch.max.wait.ms",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "max.poll.records",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "isolation.level",
    "check.crcs",
    "allow.auto.create.topics",
    "default.api.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
];

impl ConsumerConfig {
    /// Defaults with `bootstrap.servers` set (comma-separated `host:port` list).
    pub fn new(servers: &str) -> Result<Self, Error> {
        Ok(ConsumerConfig {
            client: ClientConfig::new(servers)?,
            ..ConsumerConfig::default()
        })
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ConsumerConfigBuilder {
        ConsumerConfigBuilder::default()
    }

    /// Sets one setting by its Java name; keys it does not know go to [`ClientConfig::set`],
    /// whose rules for unknown and Java-only keys apply here too (a typo is told the closest
    /// consumer or client key).
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, Error> {
        let v = value.trim();
        match key {
            "group.id" => self.group_id = Some(v.to_owned()),
            "group.instance.id" => self.group_instance_id = Some(v.to_owned()),
            // Java's default is the empty string: no rack.
            "client.rack" => self.client_rack = Some(v.to_owned()).filter(|r| !r.is_empty()),
            "auto.offset.reset" => {
                self.auto_offset_reset = v.parse().map_err(|()| {
                    Error::invalid_config(key, v, "expected earliest, latest or none")
                })?
            }
            "enable.auto.commit" => {
                self.enable_auto_commit = parse_bool(key, v)?;
                self.auto_commit_explicit = true;
            }
            "auto.commit.interval.ms" => self.auto_commit_interval = parse_ms(key, v, 0)?,
            "fetch.min.bytes" => {
                self.fetch_min_bytes = parse_number(key, v, 0, "a 32-bit integer")?
            }
            "fetch.max.wait.ms" => self.fetch_max_wait = parse_ms(key, v, 0)?,
            "fetch.max.bytes" => {
                self.fetch_max_bytes = parse_number(key, v, 0, "a 32-bit integer")?
            }
            "max.partition.fetch.bytes" => {
                self.max_partition_fetch_bytes = parse_number(key, v, 0, "a 32-bit integer")?
            }
            "max.poll.records" => {
                self.max_poll_records =
                    usize::try_from(parse_number(key, v, 1, "a 32-bit integer")?).unwrap_or(1)
            }
            "session.timeout.ms" => self.session_timeout = parse_ms(key, v, 1)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = parse_ms(key, v, 1)?,
            "max.poll.interval.ms" => self.max_poll_interval = parse_ms(key, v, 1)?,
            "partition.assignment.strategy" => {
                let mut list = Vec::new();
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let strategy = name.parse().map_err(|()| {
                        Error::invalid_config(
                            key,
                            name,
                            "expected range, roundrobin or cooperative-sticky",
                        )
                    })?;
                    if !list.contains(&strategy) {
                        list.push(strategy);
                    }
                }
                self.assignment_strategies = list;
            }
            "isolation.level" => {
                self.isolation_level = v.parse().map_err(|()| {
                    Error::invalid_config(key, v, "expected read_uncommitted or read_committed")
                })?
            }
            "check.crcs" => self.check_crcs = parse_bool(key, v)?,
            "allow.auto.create.topics" => self.allow_auto_create_topics = parse_bool(key, v)?,
            "default.api.timeout.ms" => self.default_api_timeout = parse_ms(key, v, 1)?,
            "retry.backoff.ms" => self.retry_backoff = parse_ms(key, v, 0)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = parse_ms(key, v, 0)?,
            _ => {
                if !self.client.set_known(key, value)? {
                    crate::config::not_taken(key, value, KEYS)?;
                }
            }
        }
        Ok(self)
    }

    /// True when commits will happen on their own: `enable.auto.commit` with a group id.
    pub fn auto_commit(&self) -> bool {
        self.enable_auto_commit && self.group_id.is_some()
    }

    /// Checks the settings as a whole; the error names the offending key.
    pub fn validate(&self) -> Result<(), Error> {
        self.client.validate()?;
        if let Some(group) = &self.group_id {
            if group.is_empty() {
                return Err(Error::invalid_config(
                    "group.id",
                    "",
                    "must not be empty (leave it unset to consume without a group)",
                ));
            }
        }
        if let Some(instance) = &self.group_instance_id {
            if instance.is_empty() {
                return Err(Error::invalid_config(
                    "group.instance.id",
                    "",
                    "must not be empty",
                ));
            }
            if self.group_id.is_none() {
                return Err(Error::invalid_config(
                    "group.instance.id",
                    instance,
                    "static membership needs a group.id",
                ));
            }
        }
        if self.group_id.is_none() && self.enable_auto_commit && self.auto_commit_explicit {
            return Err(Error::invalid_config(
                "enable.auto.commit",
                true,
                "auto-commit needs a group.id to commit to",
            ));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(Error::invalid_config(
                "heartbeat.interval.ms",
                self.heartbeat_interval.as_millis(),
                &format!(
                    "must be lower than session.timeout.ms ({})",
                    self.session_timeout.as_millis()
                ),
            ));
        }
        if self.assignment_strategies.is_empty() {
            return Err(Error::invalid_config(
                "partition.assignment.strategy",
                "",
                "at least one assignor is required",
            ));
        }
        if self.max_poll_records == 0 {
            return Err(Error::invalid_config(
                "max.poll.records",
                0,
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("fetch.min.bytes", self.fetch_min_bytes),
            ("fetch.max.bytes", self.fetch_max_bytes),
            ("max.partition.fetch.bytes", self.max_partition_fetch_bytes),
        ] {
            if value < 0 {
                return Err(Error::invalid_config(key, value, "must not be negative"));
            }
        }
        if self.fetch_max_wait >= self.client.request_timeout {
            return Err(Error::invalid_config(
                "fetch.max.wait.ms",
                self.fetch_max_wait.as_millis(),
                &format!(
                    "must be lower than request.timeout.ms ({}), or every long poll times out",
                    self.client.request_timeout.as_millis()
                ),
            ));
        }
        for (key, value) in [
            ("fetch.max.wait.ms", self.fetch_max_wait),
            ("session.timeout.ms", self.session_timeout),
            ("max.poll.interval.ms", self.max_poll_interval),
        ] {
            if i32::try_from(value.as_millis()).is_err() {
                return Err(Error::invalid_config(
                    key,
                    value.as_millis(),
                    "must fit in 32 bits of milliseconds",
                ));
            }
        }
        Ok(())
    }

    /// Whether the member speaks the cooperative protocol: only when every assignor it offers
    /// supports it, as Java decides (one eager assignor makes the whole member eager).
    pub fn cooperative(&self) -> bool {
        self.assignment_strategies
            .iter()
            .all(|s| s.is_cooperative())
    }
}

/// Builds a [`ConsumerConfig`] with typed setters; [`ConsumerConfigBuilder::build`] validates.
#[derive(Debug, Clone, Default)]
pub struct ConsumerConfigBuilder {
    config: ConsumerConfig,
}

impl ConsumerConfigBuilder {
    /// `bootstrap.servers`.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.client.bootstrap_servers = crate::config::servers_from(servers);
        self
    }

    /// The whole client config at once.
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.config.client = client;
        self
    }

    /// `group.id`.
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.config.group_id = Some(id.into());
        self
    }

    /// `group.instance.id` (static membership).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.config.group_instance_id = Some(id.into());
        self
    }

    /// `client.rack` (KIP-392).
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.config.client_rack = Some(rack.into()).filter(|r| !r.is_empty());
        self
    }

    /// `auto.offset.reset`.
    pub fn auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.config.auto_offset_reset = reset;
        self
    }

    /// `enable.auto.commit`.
    pub fn enable_auto_commit(mut self, on: bool) -> Self {
        self.config.enable_auto_commit = on;
        self.config.auto_commit_explicit = true;
        self
    }

    /// `auto.commit.interval.ms`.
    pub fn auto_commit_interval(mut self, interval: Duration) -> Self {
        self.config.auto_commit_interval = interval;
        self
    }

    /// `fetch.min.bytes`.
    pub fn fetch_min_bytes(mut self, bytes: i32) -> Self {
        self.config.fetch_min_bytes = bytes;
        self
    }

    /// `fetch.max.wait.ms`.
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.config.fetch_max_wait = wait;
        self
    }

    /// `fetch.max.bytes`.
    pub fn fetch_max_bytes(mut self, bytes: i32) -> Self {
        self.config.fetch_max_bytes = bytes;
        self
    }

    /// `max.partition.fetch.bytes`.
    pub fn max_partition_fetch_bytes(mut self, bytes: i32) -> Self {
        self.config.max_partition_fetch_bytes = bytes;
        self
    }

    /// `max.poll.records`.
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.config.max_poll_records = n;
        self
    }

    /// `session.timeout.ms`.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.config.session_timeout = timeout;
        self
    }

    /// `heartbeat.interval.ms`.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.config.heartbeat_interval = interval;
        self
    }

    /// `max.poll.interval.ms`.
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.config.max_poll_interval = interval;
        self
    }

    /// `partition.assignment.strategy`, in order of preference.
    pub fn assignment_strategies<I>(mut self, strategies: I) -> Self
    where
        I: IntoIterator<Item = AssignmentStrategy>,
    {
        self.config.assignment_strategies = Vec::new();
        for s in strategies {
            if !self.config.assignment_strategies.contains(&s) {
                self.config.assignment_strategies.push(s);
            }
        }
        self
    }

    /// `isolation.level`.
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.config.isolation_level = level;
        self
    }

    /// `check.crcs`.
    pub fn check_crcs(mut self, on: bool) -> Self {
        self.config.check_crcs = on;
        self
    }

    /// `allow.auto.create.topics`.
    pub fn allow_auto_create_topics(mut self, on: bool) -> Self {
        self.config.allow_auto_create_topics = on;
        self
    }

    /// `default.api.timeout.ms`.
    pub fn default_api_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_api_timeout = timeout;
        self
    }

    /// `retry.backoff.ms`.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.config.retry_backoff = backoff;
        self
    }

    /// `retry.backoff.max.ms`: the cap of the join and heartbeat retry waits.
    pub fn retry_backoff_max(mut self, max: Duration) -> Self {
        self.config.retry_backoff_max = max;
        self
    }

    /// Any setting by its Java name; see [`ConsumerConfig::set`].
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, Error> {
        self.config.set(key, value)?;
        Ok(self)
    }

    /// The validated config.
    pub fn build(self) -> Result<ConsumerConfig, Error> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(err: &Error) -> &str {
        match err {
            Error::InvalidConfig { key, .. } => key,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn defaults_are_javas() {
        let c = ConsumerConfig::default();
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Latest);
        assert!(c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval, Duration::from_secs(5));
        assert_eq!(c.fetch_min_bytes, 1);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
        assert_eq!(c.fetch_max_bytes, 52_428_800);
        assert_eq!(c.max_partition_fetch_bytes, 1_048_576);
        assert_eq!(c.max_poll_records, 500);
        assert_eq!(c.session_timeout, Duration::from_secs(45));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.max_poll_interval, Duration::from_secs(300));
        assert_eq!(
            c.assignment_strategies,
            [
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky
            ]
        );
        assert!(!c.cooperative(), "range makes the default member eager");
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
        assert!(c.check_crcs);
        assert!(c.allow_auto_create_topics);
    }

    #[test]
    fn java_names_map_onto_typed_fields_and_fall_back_to_the_client() {
        let mut c = ConsumerConfig::new("h:1").unwrap();
        c.set("group.id", "g")
            .unwrap()
            .set("auto.offset.reset", "earliest")
            .unwrap()
            .set(
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            )
            .unwrap()
            .set("isolation.level", "read_committed")
            .unwrap()
            .set("client.id", "me")
            .unwrap()
            .set("max.poll.records", "7")
            .unwrap()
            .set("allow.auto.create.topics", "false")
            .unwrap();
        assert!(!c.allow_auto_create_topics);
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
        assert!(c.cooperative());
        assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
        assert_eq!(c.client.client_id, "me");
        assert_eq!(c.max_poll_records, 7);
        c.validate().unwrap();
        for key in KEYS {
            assert!(
                !crate::config::KEYS.contains(key),
                "{key} is both a client and a consumer key"
            );
        }
        assert!(matches!(
            c.set("no.such.key", "1"),
            Err(Error::UnknownConfig { .. })
        ));
        for (key, bad) in [
            ("auto.offset.reset", "sometimes"),
            ("isolation.level", "read_dirty"),
            ("partition.assignment.strategy", "sticky"),
            ("check.crcs", "yes"),
            ("allow.auto.create.topics", "sometimes"),
            ("max.poll.records", "0"),
            ("fetch.min.bytes", "-1"),
        ] {
            let err = c.clone().set(key, bad).map(drop).unwrap_err();
            assert_eq!(key_of(&err), key, "{err}");
        }
    }

    #[test]
    fn bad_combinations_fail_build_naming_the_setting() {
        let base = || ConsumerConfig::builder().bootstrap_servers(["h:1"]);
        let cases: Vec<(ConsumerConfigBuilder, &str)> = vec![
            (
                base()
                    .group_id("g")
                    .session_timeout(Duration::from_secs(3))
                    .heartbeat_interval(Duration::from_secs(3)),
                "heartbeat.interval.ms",
            ),
            (base().group_instance_id("i"), "group.instance.id"),
            (base().enable_auto_commit(true), "enable.auto.commit"),
            (base().group_id(""), "group.id"),
            (
                base().assignment_strategies([]),
                "partition.assignment.strategy",
            ),
            (
                base().fetch_max_wait(Duration::from_secs(30)),
                "fetch.max.wait.ms",
            ),
        ];
        for (builder, key) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(key_of(&err), key, "{err}");
            assert!(err.to_string().contains(key));
        }
        // Java quietly turns the default auto-commit off without a group.
        let c = base().build().unwrap();
        assert!(!c.auto_commit());
    }
}
