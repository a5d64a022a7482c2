//! The consumer: read records from assigned partitions, or from partitions a consumer group
//! assigns, and commit how far the application got.
//!
//! What: [`Consumer`] with manual assignment ([`Consumer::assign`]) or group membership
//! ([`Consumer::subscribe`], the classic protocol with the `range`, `roundrobin` and
//! `cooperative-sticky` assignors and static membership); records one at a time
//! ([`Consumer::recv`]), in batches ([`Consumer::poll`]) or as a `futures::Stream` that can
//! commit inside the loop ([`Consumer::stream`], [`RecordStream`]); positions ([`Consumer::seek`], [`Consumer::position`]), flow control
//! ([`Consumer::pause`]), lag from the high watermark of the last fetch ([`Consumer::lag`]),
//! and commits, sync and async ([`Consumer::commit`], [`Consumer::commit_offsets`],
//! [`Consumer::commit_async`]) or automatic (`enable.auto.commit`). Which offsets to commit
//! when, and what that guarantees, is spelled out as types in [`crate::semantics`].
//!
//! How: the consumer is a state machine driven by the application's calls. Network work runs
//! on tasks it spawns: one fetch in flight per partition leader (sent again as soon as the
//! last one is answered, while the application is still busy with the records and while that
//! answer is decoded on its task), offset lookups, metadata refreshes, and the group member task that heartbeats.
//! Their answers arrive on a channel and are applied synchronously inside `recv`/`poll`, so
//! every public future can be dropped at any await point without losing or duplicating a
//! record: a record leaves the consumer (and the position moves past it) only in the same
//! synchronous step that returns it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use ferrokafka::{AtLeastOnce, Batches, Consumer, ConsumerConfig};
//!
//! let config = ConsumerConfig::builder()
//!     .bootstrap_servers(["localhost:9092"])
//!     .set("group.id", "billing")?
//!     .set("enable.auto.commit", "false")?
//!     .set("auto.offset.reset", "earliest")?
//!     .build()?;
//! let mut consumer = Consumer::connect(config).await?;
//! consumer.subscribe(["invoices"])?;
//! // A poll batch at a time; its offsets are committed once the handler finished it (in the
//! // background, while the next batch is fetched).
//! consumer
//!     .process_batches(Batches::new(AtLeastOnce), |records| async move {
//!         for record in records {
//!             println!("{}@{}: {:?}", record.partition, record.offset, record.value);
//!         }
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Topics that come and go (as Java's consumer): Metadata requests for the subscribed (and
//! assigned) topics ask the broker to create them unless `allow.auto.create.topics` is
//! false (the broker's `auto.create.topics.enable` decides too). A subscribed topic that
//! does not exist, or disappears (deleted, or a broker that restarted empty), is looked up
//! again with the metadata backoff (`retry.backoff.ms` doubling up to 1 s) while the
//! application polls, and said once at warn per episode after
//! [`crate::stall::STALL_WARN_AFTER`], naming the topic and the error; when its partition
//! count changes (it appeared, went, or grew), the group rebalances and the assignment
//! follows.
//!
//! What not: pattern subscriptions, the KIP-848 group protocol, fetch sessions, rack-aware
//! fetching, interceptors, deserializers (records are bytes), `offsetsForTimes`.

pub mod config;
mod decode;
mod driver;
mod fetcher;
pub(crate) mod group;
mod listener;
pub(crate) mod offsets;
mod record;
mod state;
mod stream;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{
    AssignmentStrategy, AutoOffsetReset, ConsumerConfig, ConsumerConfigBuilder, IsolationLevel,
};
pub use listener::{FnListener, Rebalance, RebalanceListener};
pub use record::{ConsumerRecord, Header, TimestampType, TopicPartition};
pub use stream::RecordStream;

use crate::client::Client;
use crate::error::Error;
use crate::stall::Stall;
use group::coordinator::CoordinatorLink;
use group::{Command, GroupEvent, GroupHandle};
use offsets::{CommitEntry, Committer, Identity};
use state::{Chunk, PartitionState, Phase};

/// Answers of the consumer's background tasks.
#[derive(Debug)]
pub(crate) enum Event {
    /// A fetch's answer is in; its records are being decoded.
    Ahead(fetcher::Ahead),
    Fetched(fetcher::Fetched),
    /// ListOffsets answers for partitions at the given epochs.
    Listed {
        queries: Vec<(TopicPartition, u64)>,
        result: offsets::Listed,
    },
    /// OffsetFetch answers for partitions at the given epochs.
    Committed {
        partitions: Vec<(TopicPartition, u64)>,
        result: Result<BTreeMap<TopicPartition, Option<offsets::Committed>>, Error>,
    },
    /// OffsetForLeaderEpoch answers for positions validated under the given leader epochs.
    Validated {
        queries: Vec<(offsets::EpochQuery, u64)>,
        result: offsets::EpochEnds,
    },
    /// A metadata refresh ended.
    Metadata(Result<(), Error>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    None,
    Assigned,
    Subscribed,
}

/// A revocation whose commit is running.
#[derive(Debug)]
struct Revoking {
    commit: Option<JoinHandle<Result<(), Error>>>,
}

/// The group a consumer belongs to (generation, member id), for committing offsets as part of
/// a transaction (`sendOffsetsToTransaction`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The current generation, -1 outside one.
    pub generation: i32,
    /// The member id, empty outside the group.
    pub member_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
}

/// A Kafka consumer. See the module docs.
///
/// Every `async fn` here is cancel-safe unless it says otherwise: dropping the future loses
/// no record and leaves the consumer usable.
pub struct Consumer {
    client: Client,
    config: ConsumerConfig,
    mode: Mode,
    partitions: BTreeMap<TopicPartition, PartitionState>,
    chunks: VecDeque<Chunk>,
    /// Fetches in flight per broker.
    nodes_in_flight: BTreeMap<i32, usize>,
    /// Signalled once the last fetch task started has handed its answer over.
    fetch_turn: Option<tokio::sync::oneshot::Receiver<()>>,
    next_epoch: u64,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    /// Errors to report from the next `recv`/`poll`.
    errors: VecDeque<Error>,
    metadata_wanted: bool,
    metadata_in_flight: bool,
    metadata_retry_at: Option<Instant>,
    metadata_backoff: Duration,
    committed_in_flight: bool,
    link: Option<Arc<CoordinatorLink>>,
    group: Option<GroupHandle>,
    group_closed: bool,
    group_backlog: VecDeque<GroupEvent>,
    generation: i32,
    subscription: Vec<String>,
    /// Subscribed topics the metadata did not show, each reported once per episode.
    missing_topics: BTreeMap<String, Stall>,
    /// In a mutex only to make the consumer `Sync` (so `&Consumer` futures are `Send`); it
    /// is reached through `&mut self` with `get_mut`, never locked.
    listener: Option<std::sync::Mutex<Box<dyn RebalanceListener>>>,
    revoking: Option<Revoking>,
    next_auto_commit: Instant,
    auto_commit_task: Option<JoinHandle<()>>,
    /// Why the consumer cannot go on (group membership failed for good).
    fatal: Option<String>,
    /// Something changed that may let a request start (see `next_records`).
    needs_maintenance: bool,
    /// `recv`'s buffer, kept between calls.
    scratch: Vec<ConsumerRecord>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.config.group_id)
            .field("mode", &self.mode)
            .field("assignment", &self.partitions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// Validates `config`, connects (bootstrap and metadata), and returns an idle consumer:
    /// call [`assign`](Self::assign) or [`subscribe`](Self::subscribe) next. Named as
    /// [`crate::Producer::connect`] and [`Client::connect`], since all three open connections.
    pub async fn connect(config: ConsumerConfig) -> Result<Consumer, Error> {
        config.validate()?;
        let client = Client::connect(config.client.clone()).await?;
        Ok(Self::with_client(client, config))
    }

    /// The same as [`connect`](Self::connect), under the name earlier versions used; kept so
    /// that existing code goes on compiling. New code should call `connect`.
    pub async fn new(config: ConsumerConfig) -> Result<Consumer, Error> {
        Self::connect(config).await
    }

    /// A consumer on an existing client (sharing its connections and metadata). `config`'s
    /// own client settings are ignored; the client's are used. `allow.auto.create.topics`
    /// applies to the client from then on (its Metadata requests are the consumer's).
    pub fn with_client(client: Client, config: ConsumerConfig) -> Consumer {
        client.allow_auto_create_topics(config.allow_auto_create_topics);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let link = config.group_id.clone().map(|group| {
            Arc::new(CoordinatorLink::new(
                client.clone(),
                group,
                config.max_poll_interval,
            ))
        });
        Consumer {
            metadata_backoff: config.retry_backoff,
            next_auto_commit: Instant::now() + config.auto_commit_interval,
            client,
            config,
            mode: Mode::None,
            partitions: BTreeMap::new(),
            chunks: VecDeque::new(),
            nodes_in_flight: BTreeMap::new(),
            fetch_turn: None,
            next_epoch: 0,
            events_tx,
            events_rx,
            errors: VecDeque::new(),
            metadata_wanted: false,
            metadata_in_flight: false,
            metadata_retry_at: None,
            committed_in_flight: false,
            link,
            group: None,
            group_closed: false,
            group_backlog: VecDeque::new(),
            generation: -1,
            subscription: Vec::new(),
            missing_topics: BTreeMap::new(),
            listener: None,
            revoking: None,
            auto_commit_task: None,
            fatal: None,
            needs_maintenance: true,
            scratch: Vec::with_capacity(1),
        }
    }

    /// The client underneath (metadata, admin requests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The config this consumer runs with.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Reads exactly `partitions`, without a group. Replaces any earlier assignment:
    /// partitions kept keep their position, new ones start at the committed offset (with a
    /// `group.id`) or per `auto.offset.reset`. Not allowed while subscribed.
    pub fn assign<I, T>(&mut self, partitions: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        self.check_usable()?;
        if self.mode == Mode::Subscribed {
            return Err(Error::InvalidState(
                "assign() while subscribed: unsubscribe() first (assignment and subscription \
                 are mutually exclusive)"
                    .into(),
            ));
        }
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().map(Into::into).collect();
        let gone: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !wanted.contains(*tp))
            .cloned()
            .collect();
        for tp in &gone {
            self.remove_partition(tp);
        }
        for tp in wanted {
            if !self.partitions.contains_key(&tp) {
                self.add_partition(tp);
            }
        }
        self.mode = if self.partitions.is_empty() {
            Mode::None
        } else {
            Mode::Assigned
        };
        Ok(())
    }

    /// Joins the group (`group.id`) and reads whatever partitions of `topics` it assigns.
    /// Calling it again with other topics rejoins with the new list.
    pub fn subscribe<I, S>(&mut self, topics: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.check_usable()?;
        if self.mode == Mode::Assigned {
            return Err(Error::InvalidState(
                "subscribe() after assign(): assign([]) first (assignment and subscription \
                 are mutually exclusive)"
                    .into(),
            ));
        }
        let Some(link) = self.link.clone() else {
            return Err(Error::invalid_config(
                "group.id",
                "",
                "subscribe() needs a consumer group; use assign() without one",
            ));
        };
        let mut topics: Vec<String> = topics.into_iter().map(Into::into).collect();
        topics.sort();
        topics.dedup();
        if topics.is_empty() || topics.iter().any(String::is_empty) {
            return Err(Error::InvalidState(
                "subscribe() needs at least one non-empty topic name; use unsubscribe() to stop"
                    .into(),
            ));
        }
        self.subscription = topics.clone();
        // Finds subscribed topics that do not exist yet (see `driver::watch_subscription`).
        self.metadata_wanted = true;
        match &self.group {
            Some(group) if !self.group_closed => {
                let _ = group.commands.send(Command::Subscribe(topics));
            }
            _ => {
                self.group = Some(GroupHandle::start(link, &self.config, topics));
                self.group_closed = false;
            }
        }
        self.mode = Mode::Subscribed;
        Ok(())
    }

    /// Like [`subscribe`](Self::subscribe), with a listener for rebalances.
    pub fn subscribe_with_listener<I, S, L>(&mut self, topics: I, listener: L) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        L: RebalanceListener + 'static,
    {
        self.listener = Some(std::sync::Mutex::new(Box::new(listener)));
        self.subscribe(topics)
    }

    /// Gives up every partition (the listener's `on_revoked` runs, and the auto-commit) and
    /// leaves the group. Not cancel-safe: dropped half-way, the member may stay in the group
    /// until its session times out.
    pub async fn unsubscribe(&mut self) -> Result<(), Error> {
        let result = self.revoke_all().await;
        if let Some(group) = self.group.take() {
            let limit = self.config.client.request_timeout;
            let _ = tokio::time::timeout(limit, group.leave()).await;
        }
        self.group_closed = false;
        self.group_backlog.clear();
        self.revoking = None;
        self.subscription.clear();
        self.missing_topics.clear();
        self.generation = -1;
        self.mode = Mode::None;
        result
    }

    /// The topics subscribed to.
    pub fn subscription(&self) -> &[String] {
        &self.subscription
    }

    /// The partitions this consumer reads now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.partitions.keys().cloned().collect()
    }

    /// The generation whose assignment the consumer reads under now (-1 without one). Every
    /// record handed out since the last rebalance callback belongs to it.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// The group identity, when there is a `group.id`.
    pub fn group_metadata(&self) -> Option<GroupMetadata> {
        let group_id = self.config.group_id.clone()?;
        let who = self
            .group
            .as_ref()
            .map_or_else(Committer::simple, |g| g.shared.committer());
        Some(GroupMetadata {
            group_id,
            generation: who.generation,
            member_id: who.member_id,
            instance_id: self.config.group_instance_id.clone(),
        })
    }

    /// The next record. Waits as long as it takes; wrap it in a timeout to bound it.
    ///
    /// Cancel-safe: dropped before it returns, no record is lost and the position has not
    /// moved. Errors are per partition (e.g. [`Error::OffsetOutOfRange`]) or fatal for the
    /// group (e.g. FENCED_INSTANCE_ID); after a per-partition error the other partitions go
    /// on, and the failed one waits for a [`seek`](Self::seek).
    pub async fn recv(&mut self) -> Result<ConsumerRecord, Error> {
        // A kept buffer: no allocation per record.
        let mut one = std::mem::take(&mut self.scratch);
        loop {
            let result = self.next_records(1, None, &mut one).await;
            let record = one.pop();
            if let Err(err) = result {
                self.scratch = one;
                return Err(err);
            }
            if let Some(record) = record {
                self.scratch = one;
                return Ok(record);
            }
        }
    }

    /// Up to `max.poll.records` records, waiting at most `timeout` for the first; an empty
    /// batch when none came. Cancel-safe, like [`recv`](Self::recv).
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>, Error> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        self.next_records(self.config.max_poll_records, Some(deadline), &mut out)
            .await?;
        Ok(out)
    }

    /// Waits up to `timeout` until a record can be handed out, without taking it: true if
    /// the next [`recv`](Self::recv) (or `process_one`) will return at once. Rebalances and
    /// errors are handled as in `recv` (an error makes this return true; `recv` reports it).
    /// Cancel-safe.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<bool, Error> {
        self.wait_ready_until(Instant::now() + timeout).await
    }

    /// The records as a `futures::Stream`; it ends never, and yields errors as items (the
    /// stream goes on after them). Dropping the stream is as safe as dropping a
    /// [`recv`](Self::recv). The stream borrows the consumer, and lends it back for commits
    /// inside the loop: see [`RecordStream`].
    pub fn stream(&mut self) -> RecordStream<'_> {
        RecordStream::new(self)
    }

    /// Sets the next offset to read from `tp`. Takes effect at once: records buffered from
    /// the old position are dropped. Clears an earlier per-partition error.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<(), Error> {
        if offset < 0 {
            return Err(Error::InvalidState(format!(
                "seek({tp}, {offset}): offsets are not negative; use seek_to_beginning/end"
            )));
        }
        let epoch = self.bump_epoch();
        let state = self.assigned_mut(tp)?;
        state.restart(Phase::Ready, epoch);
        state.ready_at(offset, -1);
        self.drop_chunks(tp);
        self.forget_errors(tp);
        Ok(())
    }

    /// Drops errors still queued about `tp`'s old position (NoOffset right after `assign`
    /// with `auto.offset.reset=none`, an out-of-range fetch): a seek answers them.
    fn forget_errors(&mut self, tp: &TopicPartition) {
        self.errors.retain(|e| !error_is_about(e, tp));
    }

    /// Moves `partitions` to the start of their logs (resolved on the next fetch).
    pub fn seek_to_beginning(&mut self, partitions: &[TopicPartition]) -> Result<(), Error> {
        self.seek_to(partitions, offsets::EARLIEST)
    }

    /// Moves `partitions` to the end of their logs (the last stable offset under
    /// `read_committed`).
    pub fn seek_to_end(&mut self, partitions: &[TopicPartition]) -> Result<(), Error> {
        self.seek_to(partitions, offsets::LATEST)
    }

    fn seek_to(&mut self, partitions: &[TopicPartition], timestamp: i64) -> Result<(), Error> {
        for tp in partitions {
            self.assigned_mut(tp)?;
        }
        for tp in partitions {
            let epoch = self.bump_epoch();
            if let Some(state) = self.partitions.get_mut(tp) {
                state.restart(Phase::NeedsReset(timestamp), epoch);
            }
            self.drop_chunks(tp);
            self.forget_errors(tp);
        }
        Ok(())
    }

    /// The offset of the next record `recv`/`poll` will hand out from `tp`, looking up the
    /// committed offset or the reset position if it is not known yet (bounded by
    /// `default.api.timeout.ms`). Cancel-safe.
    pub async fn position(&mut self, tp: &TopicPartition) -> Result<i64, Error> {
        self.check_usable()?;
        let deadline = Instant::now() + self.config.default_api_timeout;
        loop {
            let state = self.assigned_mut(tp)?;
            match &state.phase {
                Phase::Ready => return Ok(state.position),
                Phase::Failed(why) => {
                    return Err(Error::InvalidState(format!(
                        "{tp} stopped after an error ({why}); seek to resume"
                    )))
                }
                Phase::NeedsCommitted | Phase::NeedsReset(_) | Phase::NeedsValidation => {}
            }
            // An error of this partition's lookup is the answer.
            if let Some(i) = self.errors.iter().position(|e| error_is_about(e, tp)) {
                if let Some(err) = self.errors.remove(i) {
                    return Err(err);
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    operation: format!("looking up the position of {tp}"),
                    after: self.config.default_api_timeout,
                    last_error: None,
                });
            }
            self.maintain();
            self.wait_for_progress(Some(deadline), false).await;
        }
    }

    /// For each partition, the first offset whose record's timestamp is at or after the given
    /// one, with that record's timestamp (Java's `offsetsForTimes`); `None` where no record is
    /// that recent. Asked of each partition's leader at this consumer's isolation level; the
    /// first other error fails the call. Does not move the position.
    pub async fn offsets_for_times(
        &self,
        times: &[(TopicPartition, i64)],
    ) -> Result<BTreeMap<TopicPartition, Option<(i64, i64)>>, Error> {
        let specs: Vec<_> = times
            .iter()
            .map(|(tp, ts)| (tp.clone(), crate::admin::OffsetSpec::Timestamp(*ts)))
            .collect();
        let listed = crate::Admin::new(self.client().clone())
            .list_offsets_at(&specs, self.config.isolation_level.wire())
            .await?;
        let mut out = BTreeMap::new();
        for (tp, result) in listed {
            let found = match result {
                Ok(l) => Some((l.offset, l.timestamp)),
                Err(err) if err.code() == Some(crate::ErrorCode::OFFSET_NOT_AVAILABLE) => None,
                Err(err) => return Err(err),
            };
            out.insert(tp, found);
        }
        Ok(out)
    }

    /// The group's committed offsets for `partitions` (`None` where nothing is committed),
    /// bounded by `default.api.timeout.ms`. Cancel-safe.
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<i64>>, Error> {
        let link = self.require_group("committed()")?;
        let found = offsets::fetch_committed(
            link,
            partitions,
            self.config.isolation_level == IsolationLevel::ReadCommitted,
            Instant::now() + self.config.default_api_timeout,
            self.config.retry_backoff,
        )
        .await?;
        Ok(found
            .into_iter()
            .map(|(tp, c)| (tp, c.map(|c| c.offset)))
            .collect())
    }

    /// Stops handing out records of `partitions` (fetching stops too) until
    /// [`resume`](Self::resume). Positions do not move; a rebalance forgets the pause.
    pub fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), Error> {
        for tp in partitions {
            self.assigned_mut(tp)?;
        }
        for tp in partitions {
            if let Some(state) = self.partitions.get_mut(tp) {
                state.paused = true;
            }
        }
        Ok(())
    }

    /// Undoes [`pause`](Self::pause).
    pub fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), Error> {
        for tp in partitions {
            self.assigned_mut(tp)?;
        }
        for tp in partitions {
            if let Some(state) = self.partitions.get_mut(tp) {
                state.paused = false;
            }
        }
        self.needs_maintenance = true;
        Ok(())
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, s)| s.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// How many records `tp` is behind: the high watermark (the last stable offset under
    /// `read_committed`) of the last fetch response minus the position. `None` until both
    /// are known.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let state = self.partitions.get(tp)?;
        if state.phase != Phase::Ready {
            return None;
        }
        let end = match self.config.isolation_level {
            IsolationLevel::ReadUncommitted => state.high_watermark,
            IsolationLevel::ReadCommitted => state.last_stable_offset,
        };
        (end >= 0).then(|| (end - state.position).max(0))
    }

    /// The high watermark of `tp` from the last fetch response.
    pub fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions
            .get(tp)
            .map(|s| s.high_watermark)
            .filter(|hw| *hw >= 0)
    }

    /// The broker `tp` is fetched from when it is not its leader: the replica the leader
    /// pointed this consumer to (KIP-392, `client.rack`), until that choice expires
    /// (`metadata.max.age.ms`) or the replica fails. Java reports it as the
    /// `preferred-read-replica` metric. `None` while fetching from the leader.
    pub fn preferred_read_replica(&self, tp: &TopicPartition) -> Option<i32> {
        self.partitions
            .get(tp)
            .and_then(|s| s.read_replica)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(node, _)| node)
    }

    /// Commits the position of every assigned partition (everything handed out so far) and
    /// waits for the broker's answer, retrying retriable errors for up to
    /// `default.api.timeout.ms`. Cancel-safe, but a dropped commit may still happen.
    pub async fn commit(&self) -> Result<(), Error> {
        let offsets = self.consumed();
        self.commit_entries(offsets).await
    }

    /// Commits `offsets` (each the *next* offset to read, i.e. last processed + 1) and waits,
    /// like [`commit`](Self::commit).
    pub async fn commit_offsets<I>(&self, offsets: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        let entries = self.entries(offsets);
        self.commit_entries(entries).await
    }

    /// Starts committing every position and returns at once; await the handle for the
    /// result, or drop it to let the commit finish on its own (a failure is then only
    /// logged). Async commits reach the broker in the order they were made.
    pub fn commit_async(&self) -> PendingCommit {
        let offsets = self.consumed();
        self.spawn_commit(offsets)
    }

    /// Like [`commit_async`](Self::commit_async), for explicit offsets.
    pub fn commit_offsets_async<I>(&self, offsets: I) -> PendingCommit
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        let entries = self.entries(offsets);
        self.spawn_commit(entries)
    }

    /// Commits (when auto-commit is on), runs the listener's `on_revoked`, leaves the group,
    /// and closes every connection. Not cancel-safe: dropped half-way, the member may stay in
    /// the group until its session times out.
    pub async fn close(mut self) -> Result<(), Error> {
        let result = if self.mode == Mode::Subscribed {
            self.unsubscribe().await
        } else if self.config.auto_commit() {
            self.commit().await
        } else {
            Ok(())
        };
        if let Some(task) = self.auto_commit_task.take() {
            let _ = task.await;
        }
        self.client.close().await;
        result
    }

    // ---- helpers used by the public API ----

    fn check_usable(&self) -> Result<(), Error> {
        match &self.fatal {
            Some(why) => Err(Error::InvalidState(format!(
                "the consumer's group membership failed ({why}); create a new consumer"
            ))),
            None => Ok(()),
        }
    }

    fn require_group(&self, what: &str) -> Result<&Arc<CoordinatorLink>, Error> {
        self.link.as_ref().ok_or_else(|| {
            Error::invalid_config("group.id", "", &format!("{what} needs a group.id"))
        })
    }

    fn assigned_mut(&mut self, tp: &TopicPartition) -> Result<&mut PartitionState, Error> {
        self.partitions
            .get_mut(tp)
            .ok_or_else(|| Error::InvalidState(format!("{tp} is not assigned to this consumer")))
    }

    fn bump_epoch(&mut self) -> u64 {
        self.next_epoch = self.next_epoch.wrapping_add(1);
        self.next_epoch
    }

    fn drop_chunks(&mut self, tp: &TopicPartition) {
        self.needs_maintenance = true;
        self.chunks.retain(|c| c.tp != *tp);
    }

    fn add_partition(&mut self, tp: TopicPartition) {
        let epoch = self.bump_epoch();
        let phase = if self.link.is_some() {
            Phase::NeedsCommitted
        } else {
            self.reset_phase(&tp)
        };
        let topic: Arc<str> = Arc::from(tp.topic.as_str());
        self.partitions
            .insert(tp, PartitionState::new(topic, phase, epoch));
        self.needs_maintenance = true;
        self.metadata_wanted = true;
    }

    fn remove_partition(&mut self, tp: &TopicPartition) {
        self.partitions.remove(tp);
        self.drop_chunks(tp);
    }

    /// The phase `auto.offset.reset` calls for; with `none`, the error is queued.
    fn reset_phase(&mut self, tp: &TopicPartition) -> Phase {
        match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => Phase::NeedsReset(offsets::EARLIEST),
            AutoOffsetReset::Latest => Phase::NeedsReset(offsets::LATEST),
            AutoOffsetReset::None => {
                let err = Error::NoOffset {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                };
                let why = err.to_string();
                self.errors.push_back(err);
                Phase::Failed(why)
            }
        }
    }

    /// Positions of ready partitions, as commit entries.
    fn consumed(&self) -> BTreeMap<TopicPartition, CommitEntry> {
        self.partitions
            .iter()
            .filter(|(_, s)| s.phase == Phase::Ready)
            .map(|(tp, s)| {
                (
                    tp.clone(),
                    CommitEntry {
                        offset: s.position,
                        leader_epoch: s.last_epoch,
                    },
                )
            })
            .collect()
    }

    fn entries<I>(&self, offsets: I) -> BTreeMap<TopicPartition, CommitEntry>
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        offsets
            .into_iter()
            .map(|(tp, offset)| {
                // The epoch is known only when committing exactly the position.
                let leader_epoch = self
                    .partitions
                    .get(&tp)
                    .filter(|s| s.position == offset)
                    .map_or(-1, |s| s.last_epoch);
                (
                    tp,
                    CommitEntry {
                        offset,
                        leader_epoch,
                    },
                )
            })
            .collect()
    }

    fn identity(&self) -> Identity {
        match &self.group {
            Some(group) => Identity::Member {
                shared: Arc::clone(&group.shared),
                cooperative: self.config.cooperative(),
            },
            None => Identity::Simple,
        }
    }

    async fn commit_entries(
        &self,
        offsets: BTreeMap<TopicPartition, CommitEntry>,
    ) -> Result<(), Error> {
        let link = self.require_group("commit")?;
        offsets::commit(
            link,
            &self.identity(),
            &offsets,
            Instant::now() + self.config.default_api_timeout,
            self.config.retry_backoff,
        )
        .await
    }

    fn spawn_commit(&self, offsets: BTreeMap<TopicPartition, CommitEntry>) -> PendingCommit {
        let link = match self.require_group("commit_async") {
            Ok(link) => Arc::clone(link),
            Err(err) => return PendingCommit::failed(err),
        };
        let who = self.identity();
        let deadline = Instant::now() + self.config.default_api_timeout;
        let backoff = self.config.retry_backoff;
        PendingCommit::spawn(async move {
            let result = offsets::commit(&link, &who, &offsets, deadline, backoff).await;
            if let Err(err) = &result {
                tracing::warn!(group = link.group_id(), %err, "async commit failed");
            }
            result
        })
    }
}

/// True when `err` names `tp`.
fn error_is_about(err: &Error, tp: &TopicPartition) -> bool {
    match err {
        Error::Kafka {
            topic: Some(t),
            partition: Some(p),
            ..
        }
        | Error::OffsetOutOfRange {
            topic: t,
            partition: p,
            ..
        }
        | Error::LogTruncation {
            topic: t,
            partition: p,
            ..
        }
        | Error::NoOffset {
            topic: t,
            partition: p,
        }
        | Error::CorruptRecord {
            topic: t,
            partition: p,
            ..
        } => *t == tp.topic && *p == tp.partition,
        _ => false,
    }
}

/// An asynchronous commit in progress. Awaiting it gives the result; dropping it lets the
/// commit finish in the background.
#[derive(Debug)]
pub struct PendingCommit {
    inner: PendingInner,
}

#[derive(Debug)]
enum PendingInner {
    Running(JoinHandle<Result<(), Error>>),
    Failed(Option<Error>),
}

impl PendingCommit {
    fn spawn<F>(commit: F) -> Self
    where
        F: Future<Output = Result<(), Error>> + Send + 'static,
    {
        PendingCommit {
            inner: PendingInner::Running(tokio::spawn(commit)),
        }
    }

    fn failed(err: Error) -> Self {
        PendingCommit {
            inner: PendingInner::Failed(Some(err)),
        }
    }

    /// Whether awaiting it would return at once.
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            PendingInner::Running(handle) => handle.is_finished(),
            PendingInner::Failed(_) => true,
        }
    }
}

impl Future for PendingCommit {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            PendingInner::Running(handle) => match Pin::new(handle).poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                Poll::Ready(Err(join)) => Poll::Ready(Err(Error::InvalidState(format!(
                    "the commit task ended without an answer: {join}"
                )))),
                Poll::Pending => Poll::Pending,
            },
            PendingInner::Failed(err) => Poll::Ready(Err(err
                .take()
                .unwrap_or_else(|| Error::InvalidState("commit polled after completion".into())))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send<T: Send>(_: &T) {}

    #[tokio::test]
    async fn connect_validates_before_connecting() {
        // No bootstrap server: refused before any socket is opened.
        let err = Consumer::connect(ConsumerConfig::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { key, .. } if key == "bootstrap.servers"),
            "{err}"
        );
    }

    /// Compiles only if the consumer and its futures can move between threads.
    #[allow(dead_code, clippy::let_underscore_future)]
    async fn futures_are_send(c: &mut Consumer, tp: &TopicPartition) {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Consumer>();
        send(&c.recv());
        send(&c.poll(Duration::ZERO));
        send(&c.position(tp));
        send(&c.commit());
        send(&c.committed(&[]));
        send(&c.unsubscribe());
        let pending = c.commit_async();
        send(&pending);
    }
}
