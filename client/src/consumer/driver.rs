//! The consumer's engine: what `recv`/`poll` do between handing out records.
//!
//! Each round is synchronous work (apply group events and task answers, start the requests
//! that are due, take records) followed by one cancel-safe wait (the event channels, the
//! revocation commit, a retry timer). Nothing is ever half-applied across an await, which is
//! what makes the public futures cancel-safe.

use std::collections::{BTreeMap, BTreeSet};
use std::future::pending;
use std::sync::Arc;

use ferrokafka_protocol::ErrorCode;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::Instant;

use super::config::{AutoOffsetReset, IsolationLevel};
use super::fetcher::{self, FetchSettings, Outcome, Target};
use super::group::{Command, GroupEvent};
use super::listener::{CommitRequest, Rebalance};
use super::offsets::{self, CommitEntry, EpochQuery, Found, ListQuery};
use super::record::{ConsumerRecord, TopicPartition};
use super::state::{Chunk, Phase};
use super::{Consumer, Event, Mode, Revoking};
use crate::error::Error;
use crate::stall::Stall;

/// Fetches in flight to one broker at a time. Two measured no faster on the 2-core machine
/// (a broker answers one connection's requests in order anyway), and buffer more.
const FETCHES_PER_BROKER: usize = 1;
/// Chunks (one fetch's answer for a partition) buffered per partition before it is fetched
/// again: the next one is on its way while the application works through the current one.
const BUFFERED_CHUNKS: usize = 2;

/// Longest wait between metadata refreshes while a partition has no known leader.
const MAX_METADATA_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// What ended a wait.
enum Woke {
    Event(Option<Event>),
    Group(Option<GroupEvent>),
    Revoked(Result<Result<(), Error>, JoinError>),
    Timer,
}

async fn recv_or_pending<T>(rx: Option<&mut mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => pending().await,
    }
}

async fn join_or_pending<T>(handle: Option<&mut JoinHandle<T>>) -> Result<T, JoinError> {
    match handle {
        Some(handle) => handle.await,
        None => pending().await,
    }
}

async fn sleep_or_pending(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => pending().await,
    }
}

/// Errors that mean the partition's leader moved or is not known yet.
fn leader_moved(code: ErrorCode) -> bool {
    [
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::LEADER_NOT_AVAILABLE,
        ErrorCode::FENCED_LEADER_EPOCH,
        ErrorCode::UNKNOWN_LEADER_EPOCH,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::UNKNOWN_TOPIC_ID,
        ErrorCode::INCONSISTENT_TOPIC_ID,
        ErrorCode::KAFKA_STORAGE_ERROR,
        ErrorCode::REPLICA_NOT_AVAILABLE,
        ErrorCode::OFFSET_NOT_AVAILABLE,
    ]
    .contains(&code)
}

/// A copy of a request-wide `err` for one partition (errors are not `Clone`): Kafka codes
/// keep their code and gain the partition, everything else is retriable transport trouble or
/// a refusal, kept by its text.
fn clone_for(err: &Error, tp: &TopicPartition) -> Error {
    match err {
        Error::UnsupportedApi { broker, api } => Error::UnsupportedApi {
            broker: broker.clone(),
            api: api.clone(),
        },
        _ if err.is_retriable() => Error::Disconnected {
            broker: String::new(),
            reason: err.to_string(),
        },
        _ => Error::Kafka {
            code: err.code().unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR),
            message: Some(err.to_string()),
            topic: Some(tp.topic.clone()),
            partition: Some(tp.partition),
        },
    }
}

/// After a failed fetch from `node`: if that was the partition's read replica, the next
/// fetch goes to the leader.
fn forget_read_replica(
    state: &mut super::state::PartitionState,
    node: i32,
    tp: &TopicPartition,
    err: &Error,
) {
    if state.read_replica.is_some_and(|(r, _)| r == node) {
        tracing::debug!(%tp, node, %err, "read replica unreachable; fetching from the leader");
        state.read_replica = None;
    }
}

impl Consumer {
    /// The heart of `recv` and `poll`: appends up to `max` records to `out`, waiting until
    /// `deadline` (or for ever) for the first. Records are appended only in the last,
    /// synchronous step, so a dropped call leaves `out` as it was.
    pub(super) async fn next_records(
        &mut self,
        max: usize,
        deadline: Option<Instant>,
        out: &mut Vec<ConsumerRecord>,
    ) -> Result<(), Error> {
        self.check_usable()?;
        let _polling = self.group.as_ref().map(|g| g.shared.polling());
        loop {
            self.group_step()?;
            self.auto_commit_step();
            // Starting requests walks every partition: done when something changed (an
            // answer arrived, a chunk was used up, the application moved a partition), and
            // before waiting, not for every record.
            if self.drain_events() || std::mem::take(&mut self.needs_maintenance) {
                self.start_requests();
            }
            if let Some(err) = self.errors.pop_front() {
                return Err(err);
            }
            let before = out.len();
            self.take(max, out);
            if out.len() > before {
                if std::mem::take(&mut self.needs_maintenance) {
                    // Send the next fetches now, while the application works on these.
                    self.start_requests();
                }
                return Ok(());
            }
            if let Some(err) = self.errors.pop_front() {
                return Err(err);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
            self.start_requests();
            self.wait_for_progress(deadline, true).await;
        }
    }

    /// Drives the consumer until a record (or an error) is ready to be handed out, without
    /// taking it; false at `deadline`.
    pub(super) async fn wait_ready_until(&mut self, deadline: Instant) -> Result<bool, Error> {
        self.check_usable()?;
        let _polling = self.group.as_ref().map(|g| g.shared.polling());
        loop {
            self.group_step()?;
            self.auto_commit_step();
            self.maintain();
            if !self.errors.is_empty() || self.has_ready_record() {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            self.wait_for_progress(Some(deadline), true).await;
        }
    }

    /// True when `take` would hand out a record (or report a chunk's error).
    fn has_ready_record(&self) -> bool {
        self.chunks.iter().any(|c| {
            self.partitions.get(&c.tp).is_some_and(|s| {
                s.epoch == c.epoch
                    && s.phase == Phase::Ready
                    && !s.paused
                    && (c.records.len() > 0 || c.error.is_some())
            })
        })
    }

    /// Waits for one thing to happen: a task's answer, a group event (`with_group`), the end
    /// of a revocation's commit, a retry becoming due, or `deadline`. Cancel-safe.
    pub(super) async fn wait_for_progress(&mut self, deadline: Option<Instant>, with_group: bool) {
        let wake = [deadline, self.next_retry()].into_iter().flatten().min();
        let woke = {
            let group_rx = if with_group && !self.group_closed {
                self.group.as_mut().map(|g| &mut g.events)
            } else {
                None
            };
            let revoke = if with_group {
                self.revoking.as_mut().and_then(|r| r.commit.as_mut())
            } else {
                None
            };
            tokio::select! {
                ev = self.events_rx.recv() => Woke::Event(ev),
                ev = recv_or_pending(group_rx) => Woke::Group(ev),
                res = join_or_pending(revoke) => Woke::Revoked(res),
                () = sleep_or_pending(wake) => Woke::Timer,
            }
        };
        match woke {
            Woke::Event(Some(ev)) => self.apply(ev),
            // We hold a sender, so the channel never closes.
            Woke::Event(None) | Woke::Timer => {}
            Woke::Group(Some(ev)) => self.group_backlog.push_back(ev),
            Woke::Group(None) => self.group_closed = true,
            Woke::Revoked(res) => {
                let result = res.unwrap_or_else(|join| {
                    Err(Error::InvalidState(format!(
                        "the revocation commit task failed: {join}"
                    )))
                });
                self.finish_revoke(result);
            }
        }
    }

    /// The earliest future instant at which a retry becomes due.
    fn next_retry(&self) -> Option<Instant> {
        let now = Instant::now();
        let partitions = self
            .partitions
            .values()
            .filter_map(|s| s.retry_at)
            .filter(|at| *at > now);
        let metadata = self
            .metadata_retry_at
            .filter(|at| self.metadata_wanted && !self.metadata_in_flight && *at > now);
        partitions.chain(metadata).min()
    }

    /// Applies whatever is already waiting, then starts every request that is due.
    pub(super) fn maintain(&mut self) {
        self.drain_events();
        self.start_requests();
    }

    /// Applies the answers already waiting; true if there were any.
    fn drain_events(&mut self) -> bool {
        let mut any = false;
        while let Ok(ev) = self.events_rx.try_recv() {
            self.apply(ev);
            any = true;
        }
        any
    }

    fn start_requests(&mut self) {
        self.needs_maintenance = false;
        self.start_metadata();
        self.start_committed_lookup();
        self.start_resets();
        // After the fetches: they find the partitions whose leader epoch moved on.
        self.start_fetches();
        self.start_validations();
    }

    // ---- applying answers ----

    fn apply(&mut self, ev: Event) {
        match ev {
            Event::Ahead(ahead) => self.apply_ahead(ahead),
            Event::Fetched(fetched) => self.apply_fetch(fetched),
            Event::Listed { queries, result } => self.apply_listed(queries, result),
            Event::Committed { partitions, result } => self.apply_committed(partitions, result),
            Event::Validated { queries, result } => self.apply_validated(queries, result),
            Event::Metadata(result) => {
                self.metadata_in_flight = false;
                let now = Instant::now();
                match result {
                    Ok(()) => self.watch_subscription(),
                    Err(err) => tracing::debug!(%err, "metadata refresh failed"),
                }
                self.metadata_retry_at = Some(now + self.metadata_backoff);
                self.metadata_backoff = (self.metadata_backoff * 2).min(MAX_METADATA_BACKOFF);
            }
        }
    }

    /// After a metadata refresh: a subscribed topic the broker does not know (not created
    /// yet, deleted, a broker that restarted empty) is looked up again with the metadata
    /// backoff and said at warn once per episode. The group member sees the partition count
    /// change when it appears and rejoins (`group/member.rs`).
    fn watch_subscription(&mut self) {
        let cluster = self.client.cluster();
        let subscription = &self.subscription;
        self.missing_topics.retain(|t, _| subscription.contains(t));
        let mut missing = false;
        for topic in subscription {
            let stall = self.missing_topics.entry(topic.clone()).or_default();
            let error = match cluster.topics.get(topic) {
                Some(info) if info.error.is_ok() && !info.partitions.is_empty() => {
                    stall.progressed(format_args!("for subscribed topic {topic}"));
                    continue;
                }
                Some(info) if !info.error.is_ok() => info.error,
                _ => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            };
            missing = true;
            stall.failed(
                format_args!(
                    "for subscribed topic {topic}: the broker does not have it (metadata is \
                     fetched again until it does)"
                ),
                error,
            );
        }
        if missing {
            self.metadata_wanted = true;
        }
    }

    fn current(
        &mut self,
        tp: &TopicPartition,
        epoch: u64,
    ) -> Option<&mut super::state::PartitionState> {
        self.partitions.get_mut(tp).filter(|s| s.epoch == epoch)
    }

    /// Frees the broker's fetch slot.
    fn release_node(&mut self, node: i32) {
        if let Some(n) = self.nodes_in_flight.get_mut(&node) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.nodes_in_flight.remove(&node);
            }
        }
    }

    /// A fetch's answer is in but not decoded yet: its partitions may be fetched again from
    /// where it ends, their chunk counted as buffered already.
    fn apply_ahead(&mut self, ahead: fetcher::Ahead) {
        self.release_node(ahead.node);
        for p in ahead.next {
            if let Some(state) = self.current(&p.target.tp, p.target.epoch) {
                if state.in_flight {
                    state.in_flight = false;
                    state.fetch_offset = p.next_offset;
                    state.buffered += 1;
                    state.note_log_end(p.high_watermark, p.last_stable_offset);
                }
            }
        }
    }

    fn apply_fetch(&mut self, fetched: fetcher::Fetched) {
        if !fetched.released {
            self.release_node(fetched.node);
        }
        let now = Instant::now();
        let backoff = self.config.retry_backoff;
        match fetched.result {
            Err((targets, err)) => {
                tracing::debug!(node = fetched.node, %err, "fetch failed");
                for t in &targets {
                    if let Some(state) = self.current(&t.tp, t.epoch) {
                        state.in_flight = false;
                        state.retry_at = Some(now + backoff);
                        forget_read_replica(state, fetched.node, &t.tp, &err);
                    }
                }
                if err.is_retriable() {
                    self.metadata_wanted = true;
                } else {
                    self.errors.push_back(err);
                }
            }
            Ok(answers) => {
                for (target, outcome) in answers {
                    self.apply_partition(fetched.node, target, outcome, now);
                }
            }
        }
    }

    fn apply_partition(&mut self, node: i32, target: Target, outcome: Outcome, now: Instant) {
        let backoff = self.config.retry_backoff;
        let policy = self.config.auto_offset_reset;
        let replica_lease = self.client.config().metadata_max_age;
        let Some(state) = self.current(&target.tp, target.epoch) else {
            return;
        };
        let released = matches!(outcome, Outcome::Data { released: true, .. });
        if !released {
            state.in_flight = false;
        }
        // An error from a replica the leader chose: back to the leader, which decides again
        // (an offset out of range there is the replica lagging, not a reason to reset).
        if let Outcome::Failed(code) = outcome {
            if state.read_replica.is_some_and(|(r, _)| r == node) {
                tracing::debug!(tp = %target.tp, node, ?code, "read replica failed; fetching from the leader");
                state.read_replica = None;
                state.retry_at = Some(now + backoff);
                return;
            }
        }
        match outcome {
            Outcome::Unanswered => {}
            Outcome::Data {
                decoded,
                released,
                high_watermark,
                last_stable_offset,
                log_start_offset,
                preferred_read_replica,
            } => {
                if preferred_read_replica >= 0 && preferred_read_replica != node {
                    tracing::debug!(tp = %target.tp, leader = node, replica = preferred_read_replica, "the leader points fetches to a replica");
                    state.read_replica = Some((preferred_read_replica, now + replica_lease));
                }
                state.note_log_end(high_watermark, last_stable_offset);
                if log_start_offset >= 0 {
                    state.log_start_offset = log_start_offset;
                }
                let progressed = decoded.next_offset != target.offset;
                if released {
                    // Fetch offset and buffer count moved with the Ahead; the next fetch
                    // may be out already. A corrupt batch (the only way the decoded end
                    // differs) stops the partition once reached, so what that fetch
                    // brings is never handed out.
                } else if decoded.records.is_empty() && decoded.error.is_none() && !progressed {
                    return;
                } else {
                    state.fetch_offset = decoded.next_offset;
                    state.buffered += 1;
                }
                if decoded.error.is_some() {
                    state.stop_fetching = true;
                }
                self.chunks.push_back(Chunk {
                    tp: target.tp,
                    epoch: target.epoch,
                    records: decoded.records.into_iter(),
                    next_offset: decoded.next_offset,
                    error: decoded.error,
                });
            }
            Outcome::Failed(code) if code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                tracing::info!(tp = %target.tp, offset = target.offset, ?policy, "fetch offset out of range");
                match policy {
                    AutoOffsetReset::Earliest | AutoOffsetReset::Latest => {
                        let ts = if policy == AutoOffsetReset::Earliest {
                            offsets::EARLIEST
                        } else {
                            offsets::LATEST
                        };
                        let epoch = self.bump_epoch();
                        if let Some(state) = self.partitions.get_mut(&target.tp) {
                            state.restart(Phase::NeedsReset(ts), epoch);
                        }
                        self.drop_chunks(&target.tp);
                    }
                    AutoOffsetReset::None => {
                        let err = Error::OffsetOutOfRange {
                            topic: target.tp.topic.clone(),
                            partition: target.tp.partition,
                            offset: target.offset,
                        };
                        state.phase = Phase::Failed(err.to_string());
                        self.errors.push_back(err);
                    }
                }
            }
            Outcome::Failed(code) if leader_moved(code) => {
                tracing::debug!(tp = %target.tp, ?code, "fetch: leader moved; refreshing metadata");
                state.retry_at = Some(now + backoff);
                self.metadata_wanted = true;
            }
            Outcome::Failed(code) if code.is_retriable() => {
                state.retry_at = Some(now + backoff);
            }
            Outcome::Failed(code) => {
                let err = Error::Kafka {
                    code,
                    message: None,
                    topic: Some(target.tp.topic.clone()),
                    partition: Some(target.tp.partition),
                };
                state.phase = Phase::Failed(err.to_string());
                self.errors.push_back(err);
            }
        }
    }

    fn lookup_failed(&mut self, tp: &TopicPartition, epoch: u64, err: Error) {
        let backoff = self.config.retry_backoff;
        let Some(state) = self.current(tp, epoch) else {
            return;
        };
        state.lookup_in_flight = false;
        if err.is_retriable() {
            state.retry_at = Some(Instant::now() + backoff);
            if err.code().is_some_and(leader_moved) || err.code().is_none() {
                self.metadata_wanted = true;
            }
        } else {
            state.phase = Phase::Failed(err.to_string());
            self.errors.push_back(err);
        }
    }

    fn apply_listed(&mut self, queries: Vec<(TopicPartition, u64)>, result: offsets::Listed) {
        match result {
            Err(err) => {
                if err.is_retriable() {
                    let retry_at = Instant::now() + self.config.retry_backoff;
                    for (tp, epoch) in &queries {
                        if let Some(state) = self.current(tp, *epoch) {
                            state.lookup_in_flight = false;
                            state.retry_at = Some(retry_at);
                        }
                    }
                    self.metadata_wanted = true;
                } else {
                    for (tp, epoch) in &queries {
                        let about = Error::Kafka {
                            code: err.code().unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR),
                            message: Some(err.to_string()),
                            topic: Some(tp.topic.clone()),
                            partition: Some(tp.partition),
                        };
                        self.lookup_failed(tp, *epoch, about);
                    }
                }
            }
            Ok(answers) => {
                for (tp, answer) in answers {
                    let Some(epoch) = queries.iter().find(|(q, _)| *q == tp).map(|(_, e)| *e)
                    else {
                        continue;
                    };
                    match answer {
                        Ok(Found {
                            offset,
                            leader_epoch,
                            ..
                        }) => {
                            // The leader just named this offset: nothing to validate until
                            // the leader changes again.
                            let current = self.client.cluster().leader_epoch(&tp);
                            if let Some(state) = self.current(&tp, epoch) {
                                state.lookup_in_flight = false;
                                tracing::debug!(%tp, offset, "position reset");
                                state.ready_at(offset, leader_epoch);
                                state.validated_epoch = current;
                            }
                        }
                        Err(err) => self.lookup_failed(&tp, epoch, err),
                    }
                }
            }
        }
    }

    fn apply_committed(
        &mut self,
        partitions: Vec<(TopicPartition, u64)>,
        result: Result<BTreeMap<TopicPartition, Option<offsets::Committed>>, Error>,
    ) {
        self.committed_in_flight = false;
        match result {
            Err(err) => {
                tracing::debug!(%err, "fetching committed offsets failed");
                let retriable = err.is_retriable();
                let retry_at = Instant::now() + self.config.retry_backoff;
                let mut reported = false;
                for (tp, epoch) in &partitions {
                    let Some(state) = self.current(tp, *epoch) else {
                        continue;
                    };
                    state.lookup_in_flight = false;
                    if retriable {
                        state.retry_at = Some(retry_at);
                    } else {
                        state.phase = Phase::Failed(err.to_string());
                        reported = true;
                    }
                }
                if reported {
                    self.errors.push_back(err);
                }
            }
            Ok(found) => {
                for (tp, epoch) in partitions {
                    let committed = found.get(&tp).copied().flatten();
                    let reset = if committed.is_none() && self.current(&tp, epoch).is_some() {
                        Some(self.reset_phase(&tp))
                    } else {
                        None
                    };
                    let Some(state) = self.current(&tp, epoch) else {
                        continue;
                    };
                    state.lookup_in_flight = false;
                    match (committed, reset) {
                        (Some(c), _) => {
                            tracing::debug!(%tp, offset = c.offset, "starting at the committed offset");
                            state.ready_at(c.offset, c.leader_epoch);
                        }
                        (None, Some(phase)) => state.phase = phase,
                        (None, None) => {}
                    }
                }
            }
        }
    }

    // ---- starting requests ----

    fn start_metadata(&mut self) {
        if !self.metadata_wanted || self.metadata_in_flight {
            return;
        }
        let now = Instant::now();
        if self.metadata_retry_at.is_some_and(|at| at > now) {
            return;
        }
        self.metadata_wanted = false;
        self.metadata_in_flight = true;
        let topics: BTreeSet<String> = self
            .partitions
            .keys()
            .map(|tp| tp.topic.clone())
            .chain(self.subscription.iter().cloned())
            .collect();
        if topics.is_empty() {
            self.metadata_in_flight = false;
            return;
        }
        // Everything has a leader again: the next refresh need not wait long.
        let cluster = self.client.cluster();
        if self
            .partitions
            .keys()
            .all(|tp| cluster.leader(&tp.topic, tp.partition).is_ok())
            && !self.missing_topics.values().any(Stall::stalled)
        {
            self.metadata_backoff = self.config.retry_backoff;
        }
        let client = self.client.clone();
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            let result = client.metadata(&names).await.map(drop);
            let _ = events.send(Event::Metadata(result));
        });
    }

    fn start_committed_lookup(&mut self) {
        if self.committed_in_flight {
            return;
        }
        let Some(link) = self.link.clone() else {
            return;
        };
        let now = Instant::now();
        let mut wanted = Vec::new();
        for (tp, state) in &mut self.partitions {
            if state.phase == Phase::NeedsCommitted && !state.lookup_in_flight && state.due(now) {
                state.lookup_in_flight = true;
                wanted.push((tp.clone(), state.epoch));
            }
        }
        if wanted.is_empty() {
            return;
        }
        self.committed_in_flight = true;
        let events = self.events_tx.clone();
        let require_stable = self.config.isolation_level == IsolationLevel::ReadCommitted;
        let deadline = now + self.config.default_api_timeout;
        let backoff = self.config.retry_backoff;
        tokio::spawn(async move {
            let tps: Vec<TopicPartition> = wanted.iter().map(|(tp, _)| tp.clone()).collect();
            let result =
                offsets::fetch_committed(&link, &tps, require_stable, deadline, backoff).await;
            let _ = events.send(Event::Committed {
                partitions: wanted,
                result,
            });
        });
    }

    fn start_resets(&mut self) {
        let now = Instant::now();
        let cluster = self.client.cluster();
        let mut per_node: BTreeMap<i32, Vec<ListQuery>> = BTreeMap::new();
        let mut epochs: BTreeMap<i32, Vec<(TopicPartition, u64)>> = BTreeMap::new();
        let mut unknown_leader = false;
        for (tp, state) in &mut self.partitions {
            let Phase::NeedsReset(timestamp) = state.phase else {
                continue;
            };
            if state.lookup_in_flight || !state.due(now) {
                continue;
            }
            let Ok(leader) = cluster.leader(&tp.topic, tp.partition) else {
                unknown_leader = true;
                continue;
            };
            let leader_epoch = cluster
                .topics
                .get(&tp.topic)
                .and_then(|t| t.partitions.get(&tp.partition))
                .map_or(-1, |p| p.leader_epoch);
            state.lookup_in_flight = true;
            per_node.entry(leader).or_default().push(ListQuery {
                tp: tp.clone(),
                timestamp,
                leader_epoch,
            });
            epochs
                .entry(leader)
                .or_default()
                .push((tp.clone(), state.epoch));
        }
        if unknown_leader {
            self.metadata_wanted = true;
        }
        let isolation = self.config.isolation_level.wire();
        for (node, queries) in per_node {
            let client = self.client.clone();
            let events = self.events_tx.clone();
            let queries_epochs = epochs.remove(&node).unwrap_or_default();
            tokio::spawn(async move {
                let result = offsets::list_offsets(&client, node, &queries, isolation).await;
                let _ = events.send(Event::Listed {
                    queries: queries_epochs,
                    result,
                });
            });
        }
    }

    fn start_validations(&mut self) {
        let now = Instant::now();
        let cluster = self.client.cluster();
        let mut per_node: BTreeMap<i32, Vec<(EpochQuery, u64)>> = BTreeMap::new();
        let mut unknown_leader = false;
        for (tp, state) in &mut self.partitions {
            if state.phase != Phase::NeedsValidation || state.lookup_in_flight || !state.due(now) {
                continue;
            }
            let Ok(leader) = cluster.leader(&tp.topic, tp.partition) else {
                unknown_leader = true;
                continue;
            };
            state.lookup_in_flight = true;
            let query = EpochQuery {
                tp: tp.clone(),
                current_leader_epoch: cluster.leader_epoch(tp),
                leader_epoch: state.last_epoch,
            };
            per_node
                .entry(leader)
                .or_default()
                .push((query, state.epoch));
        }
        if unknown_leader {
            self.metadata_wanted = true;
        }
        for (node, queries) in per_node {
            let client = self.client.clone();
            let events = self.events_tx.clone();
            tokio::spawn(async move {
                let asked: Vec<EpochQuery> = queries.iter().map(|(q, _)| q.clone()).collect();
                let result = offsets::epoch_ends(&client, node, &asked).await;
                let _ = events.send(Event::Validated { queries, result });
            });
        }
    }

    fn apply_validated(&mut self, queries: Vec<(EpochQuery, u64)>, result: offsets::EpochEnds) {
        let answers = match result {
            Ok(answers) => answers,
            Err(err) => queries
                .iter()
                .map(|(q, _)| (q.tp.clone(), Err(clone_for(&err, &q.tp))))
                .collect(),
        };
        let policy = self.config.auto_offset_reset;
        let backoff = self.config.retry_backoff;
        for (query, epoch) in queries {
            let Some((_, answer)) = answers.iter().find(|(tp, _)| *tp == query.tp) else {
                continue;
            };
            let Some(state) = self.current(&query.tp, epoch) else {
                continue;
            };
            state.lookup_in_flight = false;
            let tp = &query.tp;
            match answer {
                Ok((end_epoch, end_offset)) if *end_offset >= 0 && *end_epoch >= 0 => {
                    if *end_offset >= state.position {
                        tracing::debug!(%tp, position = state.position, "position validated");
                        state.phase = Phase::Ready;
                        state.validated_epoch = query.current_leader_epoch;
                        continue;
                    }
                    tracing::warn!(%tp, position = state.position, divergent_offset = end_offset, epoch = query.leader_epoch, ?policy, "log truncation detected: the new leader's log ends epoch {} at {end_offset}, before the position", query.leader_epoch);
                    if policy == AutoOffsetReset::None {
                        let err = Error::LogTruncation {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset: state.position,
                            divergent_offset: Some(*end_offset),
                        };
                        state.phase = Phase::Failed(err.to_string());
                        self.errors.push_back(err);
                    } else {
                        // Java's answer with a reset policy: go on from the first offset
                        // known to diverge.
                        state.ready_at(*end_offset, *end_epoch);
                        state.validated_epoch = query.current_leader_epoch;
                    }
                }
                Ok(_) => {
                    // The leader knows no such epoch: the position cannot be placed in its
                    // log, as if it were out of range.
                    tracing::warn!(%tp, position = state.position, epoch = query.leader_epoch, ?policy, "the new leader has no record of the position's epoch");
                    let reset = match policy {
                        AutoOffsetReset::Earliest => Some(offsets::EARLIEST),
                        AutoOffsetReset::Latest => Some(offsets::LATEST),
                        AutoOffsetReset::None => None,
                    };
                    if let Some(ts) = reset {
                        state.phase = Phase::NeedsReset(ts);
                    } else {
                        let err = Error::LogTruncation {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset: state.position,
                            divergent_offset: None,
                        };
                        state.phase = Phase::Failed(err.to_string());
                        self.errors.push_back(err);
                    }
                }
                Err(Error::UnsupportedApi { .. }) => {
                    tracing::debug!(%tp, "the leader cannot validate positions; fetching without");
                    state.phase = Phase::Ready;
                    state.validated_epoch = query.current_leader_epoch;
                }
                Err(err) if err.is_retriable() => {
                    tracing::debug!(%tp, %err, "position validation failed; retrying");
                    state.retry_at = Some(Instant::now() + backoff);
                    self.metadata_wanted = true;
                }
                Err(err) => {
                    state.phase = Phase::Failed(err.to_string());
                    self.errors.push_back(clone_for(err, tp));
                }
            }
        }
    }

    fn start_fetches(&mut self) {
        let now = Instant::now();
        let cluster = self.client.cluster();
        let settings = FetchSettings {
            rack: self.config.client_rack.as_deref().map(Arc::from),
            max_wait_ms: i32::try_from(self.config.fetch_max_wait.as_millis()).unwrap_or(i32::MAX),
            min_bytes: self.config.fetch_min_bytes,
            max_bytes: self.config.fetch_max_bytes,
            partition_max_bytes: self.config.max_partition_fetch_bytes,
            isolation_level: self.config.isolation_level.wire(),
            check_crcs: self.config.check_crcs,
        };
        let read_committed = self.config.isolation_level == IsolationLevel::ReadCommitted;
        let mut per_node: BTreeMap<i32, Vec<Target>> = BTreeMap::new();
        // Brokers with a partition that waits only for room in its buffer, and brokers with
        // a partition to fetch that is behind its log end.
        let mut waiting_for_room = BTreeSet::new();
        let mut behind = BTreeSet::new();
        let mut stale_view = false;
        let mut to_validate = Vec::new();
        for (tp, state) in &mut self.partitions {
            if state.phase != Phase::Ready
                || state.paused
                || state.in_flight
                || state.stop_fetching
                || !state.due(now)
            {
                continue;
            }
            let Ok(leader) = cluster.leader(&tp.topic, tp.partition) else {
                stale_view = true;
                continue;
            };
            // A new leader epoch since the position was last known good: if the position
            // carries the epoch of its last record, the new leader confirms it is still in
            // its log before anything more is fetched (KIP-320).
            let current_epoch = cluster.leader_epoch(tp);
            if current_epoch > state.validated_epoch {
                if state.last_epoch >= 0 {
                    tracing::debug!(%tp, leader, current_epoch, last_epoch = state.last_epoch, position = state.position, "new leader epoch: validating the position");
                    state.restart(Phase::NeedsValidation, self.next_epoch.wrapping_add(1));
                    self.next_epoch = self.next_epoch.wrapping_add(1);
                    state.fetch_offset = state.position;
                    to_validate.push(tp.clone());
                    continue;
                }
                state.validated_epoch = current_epoch;
            }
            // The replica the leader chose for us, while its choice holds and the replica is
            // known and not failing; else the leader (Java's `selectReadReplica`).
            let leader = match state.read_replica {
                Some((replica, until))
                    if until > now
                        && cluster.broker(replica).is_some()
                        && self.client.node_usable(replica) =>
                {
                    replica
                }
                Some((replica, _)) => {
                    tracing::debug!(%tp, replica, leader, "fetching from the leader again");
                    state.read_replica = None;
                    // A replica our view lacks (a broker that was fenced while down, say):
                    // the leader will name it again, so learn where it is (as Java does).
                    if cluster.broker(replica).is_none() {
                        stale_view = true;
                    }
                    leader
                }
                None => leader,
            };
            if state.buffered >= BUFFERED_CHUNKS {
                waiting_for_room.insert(leader);
                continue;
            }
            if self.nodes_in_flight.get(&leader).copied().unwrap_or(0) >= FETCHES_PER_BROKER {
                continue;
            }
            if !state.caught_up(read_committed) {
                behind.insert(leader);
            }
            let info = cluster.topics.get(&tp.topic);
            let topic_id = info.map_or_else(uuid::Uuid::nil, |t| t.id);
            let leader_epoch = info
                .and_then(|t| t.partitions.get(&tp.partition))
                .map_or(-1, |p| p.leader_epoch);
            per_node.entry(leader).or_default().push(Target {
                tp: tp.clone(),
                topic: Arc::clone(&state.topic),
                topic_id,
                offset: state.fetch_offset,
                leader_epoch,
                epoch: state.epoch,
            });
        }
        if stale_view {
            self.metadata_wanted = true;
        }
        for tp in &to_validate {
            self.drop_chunks(tp);
        }
        // A fetch of caught-up partitions only waits at the broker for `fetch.max.wait.ms`,
        // and holds the broker's one fetch slot all that time: not while a partition behind
        // its log end is about to want the slot as soon as the application frees its buffer.
        per_node.retain(|node, _| behind.contains(node) || !waiting_for_room.contains(node));
        for targets in per_node.values() {
            for t in targets {
                if let Some(state) = self.partitions.get_mut(&t.tp) {
                    state.in_flight = true;
                }
            }
        }
        for (node, targets) in per_node {
            *self.nodes_in_flight.entry(node).or_default() += 1;
            let (done, next_turn) = tokio::sync::oneshot::channel();
            let turn = fetcher::Turn {
                before: self.fetch_turn.replace(next_turn),
                done,
            };
            fetcher::spawn(
                self.client.clone(),
                settings.clone(),
                node,
                targets,
                self.events_tx.clone(),
                turn,
            );
        }
    }

    // ---- handing out records ----

    /// Takes up to `max` records from the buffered chunks, in arrival order, skipping paused
    /// partitions and dropping stale chunks. A chunk's error is queued once its records are
    /// out, and stops its partition.
    fn take(&mut self, max: usize, out: &mut Vec<ConsumerRecord>) {
        let max = out.len().saturating_add(max);
        let mut i = 0;
        while out.len() < max && i < self.chunks.len() {
            let Some(chunk) = self.chunks.get_mut(i) else {
                break;
            };
            let state = match self.partitions.get_mut(&chunk.tp) {
                Some(s) if s.epoch == chunk.epoch && s.phase == Phase::Ready => s,
                _ => {
                    self.chunks.remove(i);
                    self.needs_maintenance = true;
                    continue;
                }
            };
            if state.paused {
                i += 1;
                continue;
            }
            while out.len() < max {
                let Some(record) = chunk.records.next() else {
                    break;
                };
                if record.offset < state.position {
                    continue;
                }
                state.position = record.offset.saturating_add(1);
                state.last_epoch = record.leader_epoch;
                out.push(record);
            }
            if chunk.records.len() > 0 {
                break;
            }
            state.buffered = state.buffered.saturating_sub(1);
            match chunk.error.take() {
                Some(err) => {
                    state.phase = Phase::Failed(err.to_string());
                    self.errors.push_back(err);
                }
                None => state.position = state.position.max(chunk.next_offset),
            }
            self.chunks.remove(i);
            // Room for the partition's next fetch.
            self.needs_maintenance = true;
        }
    }

    // ---- auto-commit ----

    fn auto_commit_step(&mut self) {
        if !self.config.auto_commit() || self.link.is_none() {
            return;
        }
        let now = Instant::now();
        if now < self.next_auto_commit {
            return;
        }
        if self
            .auto_commit_task
            .as_ref()
            .is_some_and(|t| !t.is_finished())
        {
            return;
        }
        self.next_auto_commit = now + self.config.auto_commit_interval;
        let offsets = self.consumed();
        if offsets.is_empty() {
            return;
        }
        let pending = self.spawn_commit(offsets);
        self.auto_commit_task = Some(tokio::spawn(async move {
            // The commit logs its own failure; the next interval commits again.
            let _ = pending.await;
        }));
    }

    // ---- group events ----

    /// Acts on group events in order; a revocation holds back the events after it until its
    /// commit is done.
    fn group_step(&mut self) -> Result<(), Error> {
        if let Some(group) = self.group.as_mut() {
            while let Ok(ev) = group.events.try_recv() {
                self.group_backlog.push_back(ev);
            }
        }
        while self.revoking.is_none() {
            let Some(ev) = self.group_backlog.pop_front() else {
                break;
            };
            match ev {
                GroupEvent::Revoke { partitions, lost } => self.start_revoke(partitions, lost),
                GroupEvent::Assign {
                    partitions,
                    generation,
                } => self.apply_assignment(partitions, generation),
                GroupEvent::Failed(err) => {
                    self.fatal = Some(err.to_string());
                    self.group = None;
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// The listener's callback, then the commit it (or auto-commit) asks for, then the
    /// partitions go. The coordinator hears [`Command::RevokeDone`] once the commit ended.
    fn start_revoke(&mut self, partitions: Vec<TopicPartition>, lost: bool) {
        let partitions: Vec<TopicPartition> = partitions
            .into_iter()
            .filter(|tp| self.partitions.contains_key(tp))
            .collect();
        let offsets = self.revocation_commit(&partitions, lost);
        for tp in &partitions {
            self.remove_partition(tp);
        }
        if lost {
            self.generation = -1;
        }
        let commit = match (&self.link, offsets.is_empty()) {
            (Some(link), false) => {
                let link = Arc::clone(link);
                let who = self.identity();
                let deadline = Instant::now() + self.config.default_api_timeout;
                let backoff = self.config.retry_backoff;
                Some(tokio::spawn(async move {
                    offsets::commit(&link, &who, &offsets, deadline, backoff).await
                }))
            }
            _ => None,
        };
        if commit.is_some() {
            self.revoking = Some(Revoking { commit });
        } else {
            self.finish_revoke(Ok(()));
        }
    }

    /// Runs the listener for a revocation and returns what to commit before it completes.
    fn revocation_commit(
        &mut self,
        partitions: &[TopicPartition],
        lost: bool,
    ) -> BTreeMap<TopicPartition, CommitEntry> {
        let positions: BTreeMap<TopicPartition, i64> = partitions
            .iter()
            .filter_map(|tp| {
                let s = self.partitions.get(tp)?;
                (s.phase == Phase::Ready).then(|| (tp.clone(), s.position))
            })
            .collect();
        let mut rebalance = Rebalance::new(&positions, self.generation);
        if let Some(listener) = self.listener.as_mut() {
            let listener = listener.get_mut().unwrap_or_else(|p| p.into_inner());
            if lost {
                listener.on_lost(&mut rebalance, partitions);
            } else {
                listener.on_revoked(&mut rebalance, partitions);
            }
        }
        let request = rebalance.commit.take();
        let mut offsets = BTreeMap::new();
        if lost {
            return offsets;
        }
        if self.config.auto_commit() || request == Some(CommitRequest::Positions) {
            let consumed = self.consumed();
            for tp in partitions {
                if let Some(entry) = consumed.get(tp) {
                    offsets.insert(tp.clone(), *entry);
                }
            }
        }
        if let Some(CommitRequest::Offsets(explicit)) = request {
            offsets.extend(self.entries(explicit));
        }
        offsets
    }

    fn finish_revoke(&mut self, result: Result<(), Error>) {
        if let Err(err) = result {
            tracing::warn!(%err, "the commit before giving partitions up failed; their next owner may read some records again");
        }
        self.revoking = None;
        if let Some(group) = &self.group {
            let _ = group.commands.send(Command::RevokeDone);
        }
    }

    fn apply_assignment(&mut self, partitions: Vec<TopicPartition>, generation: i32) {
        self.generation = generation;
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let stale: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !wanted.contains(*tp))
            .cloned()
            .collect();
        for tp in &stale {
            self.remove_partition(tp);
        }
        let added: Vec<TopicPartition> = wanted
            .into_iter()
            .filter(|tp| !self.partitions.contains_key(tp))
            .collect();
        for tp in &added {
            self.add_partition(tp.clone());
        }
        let positions = BTreeMap::new();
        let mut rebalance = Rebalance::new(&positions, generation);
        if let Some(listener) = self.listener.as_mut() {
            let listener = listener.get_mut().unwrap_or_else(|p| p.into_inner());
            listener.on_assigned(&mut rebalance, &added);
        }
        let seeks = std::mem::take(&mut rebalance.seeks);
        for (tp, offset) in seeks {
            if let Err(err) = self.seek(&tp, offset) {
                tracing::warn!(%err, "seek from on_assigned ignored");
            }
        }
    }

    /// Revokes everything this member holds (listener and auto-commit included) and waits
    /// for the commit. Used by `unsubscribe` and `close`.
    pub(super) async fn revoke_all(&mut self) -> Result<(), Error> {
        if self.mode != Mode::Subscribed {
            return Ok(());
        }
        let partitions: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
        let offsets = self.revocation_commit(&partitions, false);
        for tp in &partitions {
            self.remove_partition(tp);
        }
        if offsets.is_empty() {
            return Ok(());
        }
        self.commit_entries(offsets).await
    }
}
