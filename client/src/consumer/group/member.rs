//! The member task: join, sync, heartbeat, rejoin, leave.
//!
//! States, as Kafka's classic protocol has them: *unjoined* (`rejoin` set) → JoinGroup
//! (again with the member id the coordinator hands out on MEMBER_ID_REQUIRED, KIP-394) →
//! the leader runs the assignor → SyncGroup → *stable*, heartbeating every
//! `heartbeat.interval.ms` until a heartbeat says REBALANCE_IN_PROGRESS (rejoin),
//! ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID (partitions lost, rejoin), or FENCED_INSTANCE_ID
//! (fatal: another process took this `group.instance.id`).
//!
//! Eager protocol: every owned partition is revoked (and the consumer's commit done) before
//! JoinGroup. Cooperative (KIP-429): partitions are kept through JoinGroup; after SyncGroup the
//! ones missing from the new assignment are revoked and the member rejoins at once, so the
//! leader can hand them to their new owner in the second round.
//!
//! `max.poll.interval.ms`: when the application has not polled for that long, the member
//! leaves the group (LeaveGroup, unless static) as Java does, its partitions count as lost,
//! and it rejoins once the application polls again.
//!
//! Every wait here also listens for commands, so `close` never waits behind a JoinGroup the
//! coordinator is holding.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use super::assignor::{self, Member as AssignorMember};
use super::coordinator::{Coordinator, CoordinatorLink};
use super::protocol::{Assignment, Subscription, VERSION};
use super::{Command, GroupEvent, MemberShared};
use crate::connection::backoff::Backoff;
use crate::consumer::config::{AssignmentStrategy, ConsumerConfig};
use crate::consumer::offsets::Committer;
use crate::consumer::record::TopicPartition;
use crate::error::Error;

/// The protocol type of consumer groups.
const PROTOCOL_TYPE: &str = "consumer";
/// MEMBER_ID_REQUIRED answers in a row before giving up on a join attempt.
const MAX_MEMBER_ID_ROUNDS: usize = 3;

type Commands = mpsc::UnboundedReceiver<Command>;

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// What a heartbeat's answer calls for.
#[derive(Debug, PartialEq, Eq)]
enum Beat {
    Go,
    Stop,
    /// The member's partitions are gone (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID).
    Lost,
}

/// Why a join attempt did not produce an assignment.
#[derive(Debug)]
enum JoinFailure {
    /// Try again after this long.
    Retry(Duration, String),
    /// Give up.
    Fatal(Error),
}

pub(super) async fn run(
    link: Arc<CoordinatorLink>,
    config: ConsumerConfig,
    topics: Vec<String>,
    shared: Arc<MemberShared>,
    events: mpsc::UnboundedSender<GroupEvent>,
    mut commands: Commands,
) {
    let cooperative = config.cooperative();
    let backoff = Backoff::new(
        config.retry_backoff,
        config.retry_backoff_max.max(config.retry_backoff),
    );
    let mut member = Member {
        link,
        config,
        shared,
        events,
        topics: topics.into_iter().collect(),
        member_id: String::new(),
        generation: -1,
        owned: BTreeSet::new(),
        rejoin: Some("joining".into()),
        snapshot: BTreeMap::new(),
        next_heartbeat: Instant::now(),
        failures: 0,
        backoff,
        cooperative,
        stopping: None,
    };
    member.run(&mut commands).await;
}

struct Member {
    link: Arc<CoordinatorLink>,
    config: ConsumerConfig,
    shared: Arc<MemberShared>,
    events: mpsc::UnboundedSender<GroupEvent>,
    topics: BTreeSet<String>,
    member_id: String,
    generation: i32,
    owned: BTreeSet<TopicPartition>,
    /// Why the member must (re)join; `None` while stable.
    rejoin: Option<String>,
    /// Partition counts the current assignment was computed from (all group topics on the
    /// leader, our own elsewhere): a change means a new assignment is needed.
    snapshot: BTreeMap<String, i32>,
    next_heartbeat: Instant,
    /// Join or heartbeat failures in a row, for the retry backoff.
    failures: u32,
    backoff: Backoff,
    cooperative: bool,
    /// Who to tell once the task has left.
    stopping: Option<oneshot::Sender<()>>,
}

impl Member {
    /// The wait before the next retry: `retry.backoff.ms` doubling per failure in a row up
    /// to `retry.backoff.max.ms` (one policy with the producer's, `connection/backoff.rs`).
    fn retry_delay(&mut self) -> Duration {
        let delay = self.backoff.delay(self.failures);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    async fn run(&mut self, commands: &mut Commands) {
        self.add_metadata_interest().await;
        loop {
            let flow = if self.rejoin.is_some() {
                self.rebalance(commands).await
            } else {
                self.stable(commands).await
            };
            if flow == Flow::Stop {
                break;
            }
        }
        self.leave("the consumer is closing").await;
        if let Some(reply) = self.stopping.take() {
            let _ = reply.send(());
        }
    }

    fn static_member(&self) -> bool {
        self.config.group_instance_id.is_some()
    }

    async fn add_metadata_interest(&self) {
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        if !topics.is_empty() {
            // Only registers the topics with the periodic refresh; failures are retried there.
            let _ = self.link.client().metadata(&topics).await;
        }
    }

    fn on_command(&mut self, cmd: Option<Command>) -> Flow {
        match cmd {
            None => Flow::Stop,
            Some(Command::Leave(reply)) => {
                self.stopping = Some(reply);
                Flow::Stop
            }
            Some(Command::Subscribe(topics)) => {
                let topics: BTreeSet<String> = topics.into_iter().collect();
                if topics != self.topics {
                    self.topics = topics;
                    self.rejoin = Some("the subscription changed".into());
                }
                Flow::Go
            }
            Some(Command::RevokeDone) => Flow::Go,
        }
    }

    fn publish_committer(&self) {
        self.shared.set_committer(Committer {
            generation: self.generation,
            member_id: self.member_id.clone(),
            instance_id: self.config.group_instance_id.clone(),
        });
    }

    fn fail(&mut self, err: Error) -> Flow {
        tracing::error!(group = self.link.group_id(), %err, "group membership failed");
        let _ = self.events.send(GroupEvent::Failed(err));
        // A fenced static member must not send LeaveGroup for the instance that replaced it.
        self.member_id.clear();
        self.generation = -1;
        Flow::Stop
    }

    fn poll_expired(&self) -> bool {
        self.shared.poll_expired(self.config.max_poll_interval)
    }

    // ---- stable ----

    async fn stable(&mut self, commands: &mut Commands) -> Flow {
        let tick = tokio::select! {
            cmd = commands.recv() => Some(cmd),
            () = sleep_until(self.next_heartbeat) => None,
        };
        if let Some(cmd) = tick {
            return self.on_command(cmd);
        }
        if self.poll_expired() {
            return self.poll_timeout(commands).await;
        }
        if self.metadata_changed() {
            self.rejoin = Some("the partition count of a subscribed topic changed".into());
            return Flow::Go;
        }
        match self.heartbeat_tick().await {
            Beat::Go => Flow::Go,
            Beat::Stop => Flow::Stop,
            Beat::Lost => {
                let lost = std::mem::take(&mut self.owned).into_iter().collect();
                self.revoke(lost, true, commands).await
            }
        }
    }

    /// Sends one heartbeat and acts on the answer; the caller revokes on [`Beat::Lost`].
    async fn heartbeat_tick(&mut self) -> Beat {
        let result = self.heartbeat().await;
        let now = Instant::now();
        self.next_heartbeat = now + self.config.heartbeat_interval;
        let Err(err) = result else {
            self.failures = 0;
            self.link.progressed();
            return Beat::Go;
        };
        match err.code() {
            Some(ErrorCode::REBALANCE_IN_PROGRESS) => {
                if self.rejoin.is_none() {
                    tracing::debug!(group = self.link.group_id(), "the group is rebalancing");
                    self.rejoin = Some("the coordinator started a rebalance".into());
                }
                Beat::Go
            }
            Some(code @ (ErrorCode::ILLEGAL_GENERATION | ErrorCode::UNKNOWN_MEMBER_ID)) => {
                tracing::info!(group = self.link.group_id(), %err, "membership lost");
                if code == ErrorCode::UNKNOWN_MEMBER_ID && !self.static_member() {
                    self.member_id.clear();
                }
                self.generation = -1;
                self.publish_committer();
                self.rejoin = Some(format!("heartbeat failed with {err}"));
                Beat::Lost
            }
            Some(ErrorCode::FENCED_INSTANCE_ID) => {
                self.fail(err);
                Beat::Stop
            }
            _ if err.is_retriable() => {
                tracing::debug!(group = self.link.group_id(), %err, "heartbeat failed; retrying");
                self.link.failed("heartbeat", &err);
                self.next_heartbeat = now + self.retry_delay();
                Beat::Go
            }
            _ => {
                tracing::warn!(group = self.link.group_id(), %err, "heartbeat failed");
                Beat::Go
            }
        }
    }

    async fn heartbeat(&self) -> Result<(), Error> {
        let coordinator = self.link.get().await?;
        let group = GroupId(StrBytes::from_string(self.link.group_id().to_owned()));
        let result = coordinator
            .short()
            .send_with(|version| {
                let mut req = HeartbeatRequest::default()
                    .with_group_id(group)
                    .with_generation_id(self.generation)
                    .with_member_id(StrBytes::from_string(self.member_id.clone()));
                if version >= 3 {
                    req.group_instance_id = self.instance_id();
                }
                req
            })
            .await
            .and_then(|r| Error::check(r.error_code, None));
        if let Err(err) = &result {
            self.link.invalidate_on(&coordinator, err);
        }
        result
    }

    fn instance_id(&self) -> Option<StrBytes> {
        self.config
            .group_instance_id
            .clone()
            .map(StrBytes::from_string)
    }

    /// The application stopped polling: leave so the group can go on without us, count the
    /// partitions as lost, and wait for the next poll before rejoining.
    async fn poll_timeout(&mut self, commands: &mut Commands) -> Flow {
        tracing::warn!(
            group = self.link.group_id(),
            max_poll_interval = ?self.config.max_poll_interval,
            "the application has not polled within max.poll.interval.ms; leaving the group"
        );
        self.leave("max.poll.interval.ms expired").await;
        self.generation = -1;
        self.publish_committer();
        self.rejoin = Some("rejoining after max.poll.interval.ms expired".into());
        let lost = std::mem::take(&mut self.owned).into_iter().collect();
        // Answered only once the application polls again.
        self.revoke(lost, true, commands).await
    }

    fn partition_counts(&self, topics: impl IntoIterator<Item = String>) -> BTreeMap<String, i32> {
        let cluster = self.link.client().cluster();
        topics
            .into_iter()
            .map(|t| {
                let n = cluster
                    .topics
                    .get(&t)
                    .filter(|info| info.error.is_ok())
                    .map_or(0, |info| {
                        i32::try_from(info.partitions.len()).unwrap_or(i32::MAX)
                    });
                (t, n)
            })
            .collect()
    }

    fn metadata_changed(&self) -> bool {
        let now = self.partition_counts(self.snapshot.keys().cloned());
        let cluster = self.link.client().cluster();
        now.iter().any(|(topic, n)| {
            // A topic missing from the view is not a change, only not (yet) known.
            cluster.topics.contains_key(topic) && self.snapshot.get(topic) != Some(n)
        })
    }

    // ---- revocation ----

    /// Tells the consumer to give `partitions` up and waits until it has, heartbeating
    /// meanwhile while the member is still in a generation.
    async fn revoke(
        &mut self,
        partitions: Vec<TopicPartition>,
        lost: bool,
        commands: &mut Commands,
    ) -> Flow {
        if self
            .events
            .send(GroupEvent::Revoke { partitions, lost })
            .is_err()
        {
            return Flow::Stop;
        }
        loop {
            let beating = self.generation >= 0;
            let woke = tokio::select! {
                cmd = commands.recv() => Some(cmd),
                () = sleep_until(self.next_heartbeat), if beating => None,
            };
            match woke {
                Some(Some(Command::RevokeDone)) => return Flow::Go,
                Some(cmd) => {
                    if self.on_command(cmd) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                None => {
                    if self.poll_expired() {
                        tracing::warn!(
                            group = self.link.group_id(),
                            "no poll within max.poll.interval.ms during a revocation; leaving"
                        );
                        self.leave("max.poll.interval.ms expired").await;
                        self.generation = -1;
                        self.publish_committer();
                        self.rejoin = Some("rejoining after max.poll.interval.ms expired".into());
                        continue;
                    }
                    // A loss now changes nothing: the partitions are being given up already.
                    if self.heartbeat_tick().await == Beat::Stop {
                        return Flow::Stop;
                    }
                }
            }
        }
    }

    // ---- rebalance ----

    async fn rebalance(&mut self, commands: &mut Commands) -> Flow {
        if !self.cooperative && !self.owned.is_empty() {
            let revoked = std::mem::take(&mut self.owned).into_iter().collect();
            if self.revoke(revoked, false, commands).await == Flow::Stop {
                return Flow::Stop;
            }
        }
        let reason = self.rejoin.clone().unwrap_or_default();
        tracing::debug!(group = self.link.group_id(), %reason, "joining the group");
        let attempt = tokio::select! {
            result = self.join_and_sync(&reason) => Ok(result),
            cmd = commands.recv() => Err(cmd),
        };
        let assigned = match attempt {
            Err(cmd) => return self.on_command(cmd),
            Ok(Ok(assigned)) => assigned,
            Ok(Err(JoinFailure::Fatal(err))) => return self.fail(err),
            Ok(Err(JoinFailure::Retry(delay, why))) => {
                // Errors that mean "go again now" (a new member id) do not wait.
                let delay = if delay.is_zero() {
                    delay
                } else {
                    self.retry_delay()
                };
                tracing::debug!(group = self.link.group_id(), %why, ?delay, "join failed; retrying");
                return self.wait(delay, commands).await;
            }
        };
        self.failures = 0;
        self.link.progressed();
        self.publish_committer();
        let mut mine = BTreeSet::new();
        let mut foreign = false;
        for tp in assigned {
            if self.topics.contains(&tp.topic) {
                mine.insert(tp);
            } else {
                foreign = true;
            }
        }
        self.rejoin = None;
        if foreign {
            tracing::warn!(
                group = self.link.group_id(),
                "the leader assigned partitions of topics this member is not subscribed to"
            );
            self.rejoin = Some("the assignment did not match the subscription".into());
        }
        if self.cooperative {
            let revoked: Vec<TopicPartition> = self.owned.difference(&mine).cloned().collect();
            if !revoked.is_empty() {
                self.owned.retain(|tp| mine.contains(tp));
                if self.revoke(revoked, false, commands).await == Flow::Stop {
                    return Flow::Stop;
                }
                self.rejoin = Some("handing over revoked partitions".into());
            }
        }
        self.owned = mine.clone();
        tracing::info!(
            group = self.link.group_id(),
            generation = self.generation,
            member = %self.member_id,
            partitions = mine.len(),
            "joined the group"
        );
        if self
            .events
            .send(GroupEvent::Assign {
                partitions: mine.into_iter().collect(),
                generation: self.generation,
            })
            .is_err()
        {
            return Flow::Stop;
        }
        self.next_heartbeat = Instant::now() + self.config.heartbeat_interval;
        Flow::Go
    }

    /// Sleeps `delay`, still answering commands.
    async fn wait(&mut self, delay: Duration, commands: &mut Commands) -> Flow {
        tokio::select! {
            cmd = commands.recv() => self.on_command(cmd),
            () = tokio::time::sleep(delay) => Flow::Go,
        }
    }

    fn failure(&self, err: Error, coordinator: Option<&Arc<Coordinator>>) -> JoinFailure {
        if let Some(c) = coordinator {
            self.link.invalidate_on(c, &err);
        }
        if err.is_retriable() {
            self.link.failed("joining the group", &err);
            JoinFailure::Retry(self.config.retry_backoff, err.to_string())
        } else {
            JoinFailure::Fatal(err)
        }
    }

    fn protocols(&self) -> Vec<JoinGroupRequestProtocol> {
        let subscription = Subscription {
            version: VERSION,
            topics: self.topics.iter().cloned().collect(),
            user_data: None,
            // Eager members have revoked everything by now; cooperative ones say what they
            // keep, so the leader can leave it with them.
            owned: self.owned.iter().cloned().collect(),
            generation: self.generation,
            rack: self.config.client_rack.clone(),
        }
        .encode();
        self.config
            .assignment_strategies
            .iter()
            .map(|s| {
                JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str(s.name()))
                    .with_metadata(subscription.clone())
            })
            .collect()
    }

    async fn join_and_sync(&mut self, reason: &str) -> Result<Vec<TopicPartition>, JoinFailure> {
        let coordinator = self.link.get().await.map_err(|e| self.failure(e, None))?;
        let conn = coordinator
            .membership()
            .await
            .map_err(|e| self.failure(e, Some(&coordinator)))?;
        if self.static_member() && conn.api_version(ApiKey::JoinGroup).is_some_and(|v| v < 5) {
            return Err(JoinFailure::Fatal(Error::invalid_config(
                "group.instance.id",
                self.config.group_instance_id.as_deref().unwrap_or_default(),
                "the coordinator's JoinGroup predates static membership (v5)",
            )));
        }
        let protocols = self.protocols();
        let group = GroupId(StrBytes::from_string(self.link.group_id().to_owned()));
        let session_ms = millis(self.config.session_timeout);
        let rebalance_ms = millis(self.config.max_poll_interval);
        let mut rounds = 0;
        let joined = loop {
            let response = conn
                .send_with(|version| {
                    let mut req = JoinGroupRequest::default()
                        .with_group_id(group.clone())
                        .with_session_timeout_ms(session_ms)
                        .with_member_id(StrBytes::from_string(self.member_id.clone()))
                        .with_protocol_type(StrBytes::from_static_str(PROTOCOL_TYPE))
                        .with_protocols(protocols.clone());
                    if version >= 1 {
                        req.rebalance_timeout_ms = rebalance_ms;
                    }
                    if version >= 5 {
                        req.group_instance_id = self.instance_id();
                    }
                    if version >= 8 {
                        req.reason = Some(StrBytes::from_string(reason.to_owned()));
                    }
                    req
                })
                .await
                .map_err(|e| self.failure(e, Some(&coordinator)))?;
            match ErrorCode(response.error_code) {
                ErrorCode::NONE => break response,
                ErrorCode::MEMBER_ID_REQUIRED if rounds < MAX_MEMBER_ID_ROUNDS => {
                    rounds += 1;
                    self.member_id = response.member_id.to_string();
                }
                ErrorCode::UNKNOWN_MEMBER_ID => {
                    self.member_id.clear();
                    return Err(JoinFailure::Retry(
                        Duration::ZERO,
                        "unknown member id".into(),
                    ));
                }
                code @ (ErrorCode::REBALANCE_IN_PROGRESS
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::MEMBER_ID_REQUIRED) => {
                    return Err(JoinFailure::Retry(
                        self.config.retry_backoff,
                        format!("{code:?}"),
                    ));
                }
                _ => {
                    let err = Error::check(response.error_code, None)
                        .err()
                        .unwrap_or(Error::Closed);
                    return Err(self.failure(err, Some(&coordinator)));
                }
            }
        };
        self.member_id = joined.member_id.to_string();
        self.generation = joined.generation_id;
        let chosen = joined
            .protocol_name
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let strategy = AssignmentStrategy::from_name(&chosen)
            .filter(|s| self.config.assignment_strategies.contains(s))
            .ok_or_else(|| {
                JoinFailure::Fatal(Error::Kafka {
                    code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                    message: Some(format!(
                        "the group chose the assignor {chosen:?}, which this member did not offer"
                    )),
                    topic: None,
                    partition: None,
                })
            })?;
        let leader = joined.leader == joined.member_id;
        let assignments = if leader && !joined.skip_assignment {
            self.lead(strategy, &joined.members)
                .await
                .map_err(|e| self.failure(e, None))?
        } else {
            Vec::new()
        };
        let generation = self.generation;
        let synced = conn
            .send_with(|version| {
                let mut req = SyncGroupRequest::default()
                    .with_group_id(group.clone())
                    .with_generation_id(generation)
                    .with_member_id(StrBytes::from_string(self.member_id.clone()))
                    .with_assignments(assignments.clone());
                if version >= 3 {
                    req.group_instance_id = self.instance_id();
                }
                if version >= 5 {
                    req.protocol_type = Some(StrBytes::from_static_str(PROTOCOL_TYPE));
                    req.protocol_name = Some(StrBytes::from_static_str(strategy.name()));
                }
                req
            })
            .await
            .map_err(|e| self.failure(e, Some(&coordinator)))?;
        match ErrorCode(synced.error_code) {
            ErrorCode::NONE => {}
            ErrorCode::UNKNOWN_MEMBER_ID => {
                self.member_id.clear();
                return Err(JoinFailure::Retry(
                    Duration::ZERO,
                    "unknown member id".into(),
                ));
            }
            code @ (ErrorCode::REBALANCE_IN_PROGRESS | ErrorCode::ILLEGAL_GENERATION) => {
                return Err(JoinFailure::Retry(Duration::ZERO, format!("{code:?}")));
            }
            _ => {
                let err = Error::check(synced.error_code, None)
                    .err()
                    .unwrap_or(Error::Closed);
                return Err(self.failure(err, Some(&coordinator)));
            }
        }
        let assignment = Assignment::decode(&synced.assignment)
            .map_err(|e| JoinFailure::Retry(self.config.retry_backoff, e.to_string()))?;
        if !leader {
            self.add_metadata_interest().await;
            self.snapshot = self.partition_counts(self.topics.iter().cloned());
        }
        Ok(assignment.partitions)
    }

    /// The leader's part: decode every member's subscription, fetch the partition counts,
    /// run the assignor, encode each member's share.
    async fn lead(
        &mut self,
        strategy: AssignmentStrategy,
        members: &[JoinGroupResponseMember],
    ) -> Result<Vec<SyncGroupRequestAssignment>, Error> {
        let mut subscriptions = Vec::with_capacity(members.len());
        let mut version = VERSION;
        for m in members {
            let member_id = m.member_id.to_string();
            let sub = match Subscription::decode(&m.metadata) {
                Ok(sub) => sub,
                Err(err) => {
                    tracing::warn!(member = %member_id, %err, "unreadable subscription; assigning it nothing");
                    Subscription::default()
                }
            };
            version = version.min(sub.version.max(0));
            subscriptions.push(AssignorMember {
                member_id,
                instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
                topics: sub.topics.into_iter().collect(),
                owned: sub.owned,
                generation: sub.generation,
            });
        }
        let topics: BTreeSet<String> = subscriptions
            .iter()
            .flat_map(|s| s.topics.iter().cloned())
            .collect();
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        if !names.is_empty() {
            self.link.client().metadata(&names).await?;
        }
        let counts = self.partition_counts(topics);
        let plan = assignor::assign(strategy, &subscriptions, &counts);
        self.snapshot = counts;
        Ok(plan
            .into_iter()
            .map(|(member_id, partitions)| {
                let bytes: Bytes = Assignment {
                    partitions,
                    user_data: None,
                }
                .encode(version);
                SyncGroupRequestAssignment::default()
                    .with_member_id(StrBytes::from_string(member_id))
                    .with_assignment(bytes)
            })
            .collect())
    }

    /// LeaveGroup, for dynamic members that are in the group; static members stay so that a
    /// restart keeps their partitions without a rebalance (KIP-345).
    async fn leave(&mut self, reason: &str) {
        if self.static_member() || self.member_id.is_empty() {
            return;
        }
        let member_id = std::mem::take(&mut self.member_id);
        let Ok(coordinator) = self.link.get().await else {
            return;
        };
        let group = GroupId(StrBytes::from_string(self.link.group_id().to_owned()));
        let result = coordinator
            .short()
            .send_with(|version| {
                let mut req = LeaveGroupRequest::default().with_group_id(group);
                if version >= 3 {
                    let mut who = MemberIdentity::default()
                        .with_member_id(StrBytes::from_string(member_id.clone()));
                    if version >= 5 {
                        who.reason = Some(StrBytes::from_string(reason.to_owned()));
                    }
                    req.members = vec![who];
                } else {
                    req.member_id = StrBytes::from_string(member_id.clone());
                }
                req
            })
            .await;
        match result {
            Ok(r) => tracing::debug!(
                group = self.link.group_id(),
                code = r.error_code,
                "left the group"
            ),
            Err(err) => tracing::debug!(group = self.link.group_id(), %err, "LeaveGroup failed"),
        }
    }
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
