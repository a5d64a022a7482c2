//! The broker's state: topics and their logs, groups, transactions, and what waiting fetches
//! listen to.
//!
//! State holds no protocol types: handlers translate requests into calls here and the results
//! back into responses. One mutex guards the topic map; every critical section is short and
//! never awaits, so a std mutex is the right tool.

pub mod disk;
pub mod group_configs;
pub mod groups;
pub mod log;
pub mod memory;
pub mod producers;
pub mod topic_configs;
pub mod topics;
pub mod transactions;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ferrokafka_protocol::ErrorCode;

use crate::log_throttle::SharedLogThrottle;
use crate::security::users::LiveUsers;
use crate::BrokerConfig;
use disk::DataDir;
use groups::{GroupConfig, GroupCoordinator};
use log::Cleaned;
use memory::MemoryBudget;
use topics::{is_valid_topic_name, ConfigError, Topic, TopicConfig};
use transactions::TransactionCoordinator;

/// The advertised address of one listener, as Metadata, FindCoordinator and DescribeCluster
/// report it to the clients of that listener.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host clients should connect to.
    pub host: String,
    /// Port clients should connect to.
    pub port: i32,
}

impl std::fmt::Display for Endpoint {
    /// `host:port`, as clients take it in `bootstrap.servers`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Counters a test can read to see connections come and go.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnectionStats {
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections closed because of bad input.
    pub rejected: u64,
    /// Connections closed because their TLS handshake failed or did not finish in time.
    pub tls_failed: u64,
    /// Completed SASL authentications, re-authentications included.
    pub authenticated: u64,
    /// Connections closed during SASL (re-)authentication: refused credentials or tokens, an
    /// unsupported mechanism, a request authentication does not allow, a frame too large.
    pub auth_failed: u64,
    /// Connections closed because SASL authentication did not finish before its deadline.
    pub auth_timed_out: u64,
    /// Connections closed because their SASL session expired without re-authentication.
    pub sessions_expired: u64,
    /// Connections closed as soon as they were accepted because the broker had its
    /// `max_connections` open (counted in `accepted` too).
    pub over_connection_limit: u64,
    /// Connections closed after `connections_max_idle` without a request.
    pub idle_closed: u64,
}

/// Everything one mini-broker knows.
#[derive(Debug)]
pub struct BrokerState {
    /// Settings fixed at start.
    pub config: BrokerConfig,
    /// The SASL users, as logins see them and the credential APIs change them (the start-up
    /// list is `config.sasl_users`).
    pub users: LiveUsers,
    /// Consumer groups and committed offsets.
    pub groups: GroupCoordinator,
    /// Transactional ids and their transactions (`transactions.rs`).
    pub transactions: TransactionCoordinator,
    topics: Mutex<BTreeMap<String, Topic>>,
    /// The record data every partition log holds, against `config.max_memory`.
    memory: Arc<MemoryBudget>,
    /// Group configs set through IncrementalAlterConfigs, per group id.
    group_configs: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    /// Partitions of all topics together; changed only under the topics lock, by the methods
    /// that add or remove partitions ([`Self::create_topic`], [`Self::grow_topic`],
    /// [`Self::delete_topic`], [`Self::ensure_internal_topic`]).
    partitions_held: AtomicUsize,
    /// Auto-creations refused for the partition limit, logged at most once per 10 s.
    auto_create_refused_log: SharedLogThrottle,
    fetches_waiting: AtomicU64,
    fetch_wakeups: AtomicU64,
    next_producer_id: AtomicI64,
    stats: Mutex<ConnectionStats>,
    /// The data dir (`--data-dir`), if the broker persists (`disk.rs`).
    disk: Option<Arc<DataDir>>,
}

/// What long-polling fetches are doing, for tests and operators.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchStats {
    /// Fetches waiting for data now.
    pub waiting: u64,
    /// Times since start a waiting fetch was woken by a change to one of its partitions (an
    /// append, a transaction marker, the partition's deletion) to look again; time-outs are
    /// not counted.
    pub woken: u64,
}

/// Counts a fetch as waiting while it lives.
#[derive(Debug)]
pub struct FetchWait<'a>(&'a BrokerState);

impl Drop for FetchWait<'_> {
    fn drop(&mut self) {
        self.0.fetches_waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a topic could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateTopicError {
    /// The name breaks Kafka's naming rules.
    #[error("topic name '{0}' is not legal: use 1 to 249 of a-z A-Z 0-9 . _ -")]
    InvalidName(String),
    /// A topic of that name exists.
    #[error("topic '{0}' already exists")]
    Exists(String),
    /// The partition count is below one or too large.
    #[error("number of partitions must be between 1 and {max}, not {got}")]
    InvalidPartitions {
        /// What was asked.
        got: i32,
        /// The largest count we allow.
        max: i32,
    },
    /// One request asks for more partitions than [`MAX_PARTITIONS_PER_REQUEST`] (Kafka's
    /// message, word for word).
    #[error("Excessively large number of partitions per request.")]
    TooManyInRequest,
    /// The partitions would take the broker past its `max_partitions`.
    #[error(
        "{adding} more partitions would take this broker to {total}, past its limit of {max} \
         partitions (--max-partitions)",
        total = held.saturating_add(*adding)
    )]
    OverBrokerLimit {
        /// Partitions the broker holds.
        held: usize,
        /// Partitions asked for.
        adding: usize,
        /// The broker's limit.
        max: usize,
    },
    /// A config key or value is not acceptable.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl CreateTopicError {
    /// The Kafka error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            CreateTopicError::InvalidName(_) => ErrorCode::INVALID_TOPIC_EXCEPTION,
            CreateTopicError::Exists(_) => ErrorCode::TOPIC_ALREADY_EXISTS,
            CreateTopicError::InvalidPartitions { .. } => ErrorCode::INVALID_PARTITIONS,
            // Kafka has no broker-wide limit; a limit like it, a create-topic policy, refuses
            // with POLICY_VIOLATION, as Kafka's own per-request limit does.
            CreateTopicError::TooManyInRequest | CreateTopicError::OverBrokerLimit { .. } => {
                ErrorCode::POLICY_VIOLATION
            }
            CreateTopicError::Config(_) => ErrorCode::INVALID_CONFIG,
        }
    }
}

/// Why a topic's configs could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum AlterConfigError {
    /// No such topic.
    #[error("The topic '{0}' does not exist.")]
    UnknownTopic(String),
    /// A key or value is not acceptable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An operation a key does not support (APPEND or SUBTRACT on a non-list config), or an
    /// unknown operation.
    #[error("{0}")]
    Operation(String),
}

impl AlterConfigError {
    /// The Kafka error code for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            AlterConfigError::UnknownTopic(_) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            AlterConfigError::Config(_) | AlterConfigError::Operation(_) => {
                ErrorCode::INVALID_CONFIG
            }
        }
    }
}

/// The most partitions one CreateTopics (or CreatePartitions) request may create, as Kafka's
/// controller limits CreateTopics (KAFKA-17870): a request over it gets POLICY_VIOLATION for
/// every topic, and nothing is created. It also bounds a single topic.
pub const MAX_PARTITIONS_PER_REQUEST: usize = 10_000;

impl BrokerState {
    /// Fresh state for a broker with these settings.
    pub fn new(config: BrokerConfig) -> Self {
        let users = LiveUsers::new(config.sasl_users.clone());
        BrokerState::with_users(config, users)
    }

    /// Like [`BrokerState::new`], with the users the listeners check logins against.
    pub fn with_users(config: BrokerConfig, users: LiveUsers) -> Self {
        let groups = GroupCoordinator::new(GroupConfig {
            min_session_timeout: config.group_min_session_timeout,
            max_session_timeout: config.group_max_session_timeout,
        });
        let transactions = TransactionCoordinator::new(config.transaction_max_timeout);
        let memory = Arc::new(MemoryBudget::new(config.max_memory));
        BrokerState {
            config,
            users,
            groups,
            transactions,
            topics: Mutex::new(BTreeMap::new()),
            memory,
            group_configs: Mutex::new(BTreeMap::new()),
            partitions_held: AtomicUsize::new(0),
            auto_create_refused_log: SharedLogThrottle::new(),
            fetches_waiting: AtomicU64::new(0),
            fetch_wakeups: AtomicU64::new(0),
            next_producer_id: AtomicI64::new(1000),
            stats: Mutex::new(ConnectionStats::default()),
            disk: None,
        }
    }

    /// Opens `config.data_dir`, if set, and reads back what it holds: topics with their ids
    /// and configs, every partition log (torn tails cut), idempotent producer state, committed
    /// offsets, transactional ids. Transactions left open in a log are aborted with ABORT
    /// markers (their producers fenced, see `transactions.rs`), so the last stable offset
    /// moves on. Producer ids handed out from now on are above every id found.
    pub fn open_data_dir(&mut self) -> std::io::Result<()> {
        let Some(root) = self.config.data_dir.clone() else {
            return Ok(());
        };
        let disk = Arc::new(DataDir::open(&root, self.config.fsync)?);
        self.disk = Some(Arc::clone(&disk));
        let saved = disk.load_topics()?;
        let mut topics = BTreeMap::new();
        let mut max_producer = None;
        let mut open = Vec::new();
        for t in saved {
            let pairs = t
                .overrides
                .iter()
                .map(|(k, v)| (k.as_str(), Some(v.as_str())));
            let config = self.topic_config(pairs).map_err(|err| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("topic '{}' in {}: {err}", t.name, root.display()),
                )
            })?;
            if t.partitions > self.config.max_partitions {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "topic '{}' in {} has {} partitions, more than the broker's limit of {}",
                        t.name,
                        root.display(),
                        t.partitions,
                        self.config.max_partitions
                    ),
                ));
            }
            let mut topic = Topic::new(t.partitions, config, Arc::clone(&self.memory))
                .on_disk(Arc::clone(&disk), &t.name);
            topic.id = t.id;
            topic.internal = t.internal;
            for (partition, log) in topic.partitions.iter_mut().enumerate() {
                log.load(disk::MAX_STORED_BATCH)?;
                max_producer = max_producer.max(log.max_producer_id());
                for (producer_id, epoch) in log.open_transactions() {
                    let partition = i32::try_from(partition).unwrap_or(i32::MAX);
                    open.push((t.name.clone(), partition, producer_id, epoch));
                }
            }
            self.partitions_held
                .fetch_add(topic.partitions.len(), Ordering::Relaxed);
            topics.insert(t.name, topic);
        }
        if let Some(max) = max_producer {
            self.next_producer_id.fetch_max(max + 1, Ordering::Relaxed);
        }
        let offsets = disk.load_offsets()?;
        let committed = offsets.len();
        self.groups.restore_offsets(offsets);
        let (held, topic_count) = (self.memory.held(), topics.len());
        *self.topics() = topics;
        let txn_ids = disk.load_txn_ids()?;
        let known_txn_ids = txn_ids.len();
        let aborted = self.recover_transactions(txn_ids, open);
        tracing::info!(
            dir = %root.display(),
            topics = topic_count,
            bytes = held,
            committed_offsets = committed,
            transactional_ids = known_txn_ids,
            open_transactions_aborted = aborted,
            "read back the data dir"
        );
        Ok(())
    }

    /// With a data dir, saves every topic's name, id, partition count and configs (the
    /// caller holds the topics lock, so saves happen in order). A failure is logged: the
    /// change stands in memory, and after a restart the last saved state comes back.
    pub fn save_topics(&self, topics: &BTreeMap<String, Topic>) {
        let Some(disk) = &self.disk else { return };
        let saved: Vec<_> = topics.iter().map(|(name, t)| t.saved(name)).collect();
        if let Err(err) = disk.save_topics(&saved) {
            tracing::warn!(%err, "cannot save the topics; a restart would bring back the last saved ones");
        }
    }

    /// With a data dir, journals the committed offsets of `group` for `partitions`, as
    /// they are now.
    pub fn save_group_offsets(&self, group: &str, partitions: &[(String, i32)]) {
        let Some(disk) = &self.disk else { return };
        let saved = disk.save_offsets(
            || self.groups.offsets_now(group, partitions),
            || self.groups.all_offsets(),
        );
        if let Err(err) = saved {
            tracing::warn!(%err, group, "cannot save committed offsets; a restart would bring back the last saved ones");
        }
    }

    /// With a data dir, rewrites the committed offsets after some were deleted.
    pub fn save_offset_deletions(&self) {
        let Some(disk) = &self.disk else { return };
        if let Err(err) = disk.rewrite_offsets(|| self.groups.all_offsets()) {
            tracing::warn!(%err, "cannot save the deletion of committed offsets; a restart would bring them back");
        }
    }

    /// The memory budget for record data (`--max-memory`).
    pub fn memory(&self) -> &MemoryBudget {
        &self.memory
    }

    /// The topic map. A panic while holding the lock is a bug elsewhere; the map itself is
    /// still consistent (every mutation is a single insert, remove or push), so keep serving.
    pub fn topics(&self) -> MutexGuard<'_, BTreeMap<String, Topic>> {
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Updates the connection counters.
    pub(crate) fn stats(&self, update: impl FnOnce(&mut ConnectionStats)) {
        update(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// A copy of the connection counters.
    pub fn connection_stats(&self) -> ConnectionStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The partition count of each named topic that exists, taken under the topics lock alone
    /// (offset commits check partitions before they take the groups lock).
    pub fn partition_counts<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, i32> {
        let topics = self.topics();
        names
            .into_iter()
            .filter_map(|name| {
                let count = i32::try_from(topics.get(name)?.partitions.len()).unwrap_or(i32::MAX);
                Some((name.to_owned(), count))
            })
            .collect()
    }

    /// Wakes every waiting fetch, to look again. Appends wake the fetches of their own
    /// partition by themselves ([`log::PartitionLog::append`]); this is for changes made
    /// around the logs.
    pub fn notify_appended(&self) {
        for topic in self.topics().values() {
            for log in &topic.partitions {
                log.wake_fetches();
            }
        }
    }

    /// Counts a fetch as waiting until the returned guard is dropped.
    pub fn fetch_waiting(&self) -> FetchWait<'_> {
        self.fetches_waiting.fetch_add(1, Ordering::Relaxed);
        FetchWait(self)
    }

    /// Counts a waiting fetch woken by one of its partitions.
    pub fn count_fetch_wakeup(&self) {
        self.fetch_wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// What waiting fetches are doing.
    pub fn fetch_stats(&self) -> FetchStats {
        FetchStats {
            waiting: self.fetches_waiting.load(Ordering::Relaxed),
            woken: self.fetch_wakeups.load(Ordering::Relaxed),
        }
    }

    /// Partitions of all topics together.
    pub fn partitions_held(&self) -> usize {
        self.partitions_held.load(Ordering::Relaxed)
    }

    /// Whether `adding` partitions fit under the broker's `max_partitions` (the caller holds
    /// the topics lock, so nothing changes in between).
    pub fn check_room(&self, adding: usize) -> Result<(), CreateTopicError> {
        let held = self.partitions_held();
        let max = self.config.max_partitions;
        if held.saturating_add(adding) > max {
            return Err(CreateTopicError::OverBrokerLimit { held, adding, max });
        }
        Ok(())
    }

    /// Whether one request may create `total` partitions ([`MAX_PARTITIONS_PER_REQUEST`]).
    pub fn check_request_partitions(total: usize) -> Result<(), CreateTopicError> {
        if total > MAX_PARTITIONS_PER_REQUEST {
            return Err(CreateTopicError::TooManyInRequest);
        }
        Ok(())
    }

    /// Grows `topic` (from `topics`, locked by the caller) to `count` partitions, within the
    /// broker's limit.
    pub fn grow_topic(&self, topic: &mut Topic, count: usize) -> Result<(), CreateTopicError> {
        let adding = count.saturating_sub(topic.partitions.len());
        self.check_room(adding)?;
        topic.grow_to(count);
        self.partitions_held.fetch_add(adding, Ordering::Relaxed);
        Ok(())
    }

    /// Removes topic `name` from `topics` (locked by the caller); its waiting fetches wake.
    pub fn delete_topic(&self, topics: &mut BTreeMap<String, Topic>, name: &str) -> Option<Topic> {
        let topic = topics.remove(name)?;
        self.partitions_held
            .fetch_sub(topic.partitions.len(), Ordering::Relaxed);
        self.save_topics(topics);
        topic.remove_files();
        Some(topic)
    }

    /// A producer id no one else has.
    pub fn allocate_producer_id(&self) -> i64 {
        self.next_producer_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Creates a topic in `topics` (the caller holds the lock).
    pub fn create_topic(
        &self,
        topics: &mut BTreeMap<String, Topic>,
        name: &str,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<(), CreateTopicError> {
        if !is_valid_topic_name(name) {
            return Err(CreateTopicError::InvalidName(name.to_owned()));
        }
        if topics.contains_key(name) {
            return Err(CreateTopicError::Exists(name.to_owned()));
        }
        let count = self.check_partitions(partitions)?;
        self.check_room(count)?;
        let topic = self.new_topic(name, count, config);
        let saved = topic.saved(name);
        topics.insert(name.to_owned(), topic);
        self.partitions_held.fetch_add(count, Ordering::Relaxed);
        if let Some(disk) = &self.disk {
            let all = || topics.iter().map(|(name, t)| t.saved(name)).collect();
            if let Err(err) = disk.append_topic(&saved, all) {
                tracing::warn!(%err, topic = name, "cannot save a new topic; a restart would not bring it back");
            }
        }
        Ok(())
    }

    /// A new topic, on disk with a data dir.
    fn new_topic(&self, name: &str, count: usize, config: TopicConfig) -> Topic {
        let topic = Topic::new(count, config, Arc::clone(&self.memory));
        match &self.disk {
            Some(disk) => topic.on_disk(Arc::clone(disk), name),
            None => topic,
        }
    }

    /// Validates a partition count; `-1` means the broker default.
    pub fn check_partitions(&self, partitions: i32) -> Result<usize, CreateTopicError> {
        let partitions = if partitions == -1 {
            self.config.default_partitions
        } else {
            partitions
        };
        match usize::try_from(partitions) {
            Ok(n) if (1..=MAX_PARTITIONS_PER_REQUEST).contains(&n) => Ok(n),
            _ => Err(CreateTopicError::InvalidPartitions {
                got: partitions,
                max: i32::try_from(MAX_PARTITIONS_PER_REQUEST).unwrap_or(i32::MAX),
            }),
        }
    }

    /// A config built from client-given keys, within this broker's memory limit.
    pub fn topic_config<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<TopicConfig, ConfigError> {
        TopicConfig::from_overrides(
            pairs,
            self.config.partition_retention_bytes,
            self.config.log_retention_ms,
        )
    }

    /// Replaces the explicitly set configs of topic `name` with `overrides` (validated as on
    /// creation), unless `validate_only`; the broker acts on the new values at once
    /// (`retention.bytes` and `retention.ms` trim the partitions now, a compacting
    /// `cleanup.policy` cleans them now, `max.message.bytes` and `message.timestamp.type` apply
    /// to the next produce).
    pub fn alter_topic_config(
        &self,
        name: &str,
        overrides: &BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AlterConfigError> {
        let mut topics = self.topics();
        let topic = topics
            .get_mut(name)
            .ok_or_else(|| AlterConfigError::UnknownTopic(name.to_owned()))?;
        let config = self.topic_config(
            overrides
                .iter()
                .map(|(k, v)| (k.as_str(), Some(v.as_str()))),
        )?;
        if !validate_only {
            for log in &mut topic.partitions {
                log.set_retention_bytes(config.retention_bytes);
            }
            topic.config = config;
            let now = now_ms();
            topic.expire(now);
            topic.clean(now);
            self.save_topics(&topics);
        }
        Ok(())
    }

    /// Time retention (`retention.ms`) at `now_ms` on every topic whose policy deletes
    /// (Kafka's `log.retention.check.interval.ms` task).
    pub fn expire_logs(&self, now_ms: i64) {
        for (name, topic) in self.topics().iter_mut() {
            let records = topic.expire(now_ms);
            if records > 0 {
                tracing::info!(topic = %name, records, "retention.ms: deleted expired records");
            }
        }
    }

    /// A cleaning pass at `now_ms` on every compacted topic (Kafka's log cleaner, every
    /// `log.cleaner.backoff.ms`).
    pub fn clean_logs(&self, now_ms: i64) {
        for (name, topic) in self.topics().iter_mut() {
            let Cleaned { records, bytes } = topic.clean(now_ms);
            if records > 0 {
                tracing::info!(topic = %name, records, bytes, "log cleaner: compacted");
            }
        }
    }

    /// The configs set on group `group` (none for a group never configured).
    pub fn group_configs(&self, group: &str) -> BTreeMap<String, String> {
        self.group_configs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces the configs set on group `group` with `configs` (checked as Kafka checks
    /// them), unless `validate_only`.
    pub fn alter_group_configs(
        &self,
        group: &str,
        configs: &BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AlterConfigError> {
        group_configs::validate(configs)?;
        if !validate_only {
            let mut all = self
                .group_configs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if configs.is_empty() {
                all.remove(group);
            } else {
                all.insert(group.to_owned(), configs.clone());
            }
        }
        Ok(())
    }

    /// Creates internal topic `name` (one of [`topics::INTERNAL_TOPICS`]) if it does not
    /// exist: one partition (Kafka's `offsets.topic.num.partitions` and
    /// `transaction.state.log.num.partitions` are 1 here), compacted, 100 MiB segments, as
    /// Kafka configures them.
    pub fn ensure_internal_topic(&self, topics: &mut BTreeMap<String, Topic>, name: &str) {
        if topics.contains_key(name) || !topics::INTERNAL_TOPICS.contains(&name) {
            return;
        }
        let config = self.topic_config([
            ("cleanup.policy", Some("compact")),
            ("segment.bytes", Some("104857600")),
        ]);
        match config {
            Ok(config) => {
                // Not held to the partition limit: groups and transactions need them.
                let mut topic = self.new_topic(name, 1, config);
                topic.internal = true;
                topics.insert(name.to_owned(), topic);
                self.partitions_held.fetch_add(1, Ordering::Relaxed);
                self.save_topics(topics);
                tracing::info!(topic = name, "created internal topic");
            }
            Err(err) => tracing::error!(topic = name, %err, "cannot configure internal topic"),
        }
    }

    /// Creates `name` with default settings if auto-creation is on and it does not exist
    /// (an internal topic whatever the setting, as Kafka creates those). Returns whether the
    /// topic exists afterwards.
    pub fn auto_create(&self, topics: &mut BTreeMap<String, Topic>, name: &str) -> bool {
        if topics.contains_key(name) {
            return true;
        }
        if topics::INTERNAL_TOPICS.contains(&name) {
            self.ensure_internal_topic(topics, name);
            return topics.contains_key(name);
        }
        if !self.config.auto_create_topics {
            return false;
        }
        let config = self.topic_config([]);
        match config.map_err(CreateTopicError::from).and_then(|config| {
            self.create_topic(topics, name, self.config.default_partitions, config)
        }) {
            Ok(()) => {
                tracing::info!(topic = name, "auto-created topic");
                true
            }
            Err(err @ CreateTopicError::OverBrokerLimit { .. }) => {
                if let Some(left_out) = self.auto_create_refused_log.check() {
                    tracing::warn!(
                        topic = name,
                        refused_since_last_line = left_out,
                        "not auto-creating topic: {err}"
                    );
                }
                false
            }
            Err(err) => {
                tracing::debug!(topic = name, %err, "not auto-creating topic");
                false
            }
        }
    }
}

/// Wall-clock milliseconds since the epoch, as Kafka stamps records, transactions and tokens.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs `tick` every `interval`, the first time one interval after the start, until
/// `shutdown` turns true: the broker's periodic tasks (aborting timed-out transactions, time
/// retention, the log cleaner).
pub(crate) async fn every(
    interval: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    mut tick: impl FnMut(),
) {
    let interval = interval.max(std::time::Duration::from_millis(1));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => tick(),
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
