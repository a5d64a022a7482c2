//! The group coordinator: classic consumer groups (JoinGroup/SyncGroup/Heartbeat/LeaveGroup)
//! and committed offsets, modelled on Kafka's own GroupCoordinator.
//!
//! Why here and like this: clients long-poll JoinGroup until a rebalance completes and
//! followers' SyncGroup until the leader's assignment arrives, and members that stop
//! heartbeating must be evicted with nobody asking. So the state lives behind one std mutex,
//! every operation is a short synchronous step under it, a request that must wait leaves a
//! oneshot sender on its member and awaits the receiver after the lock is released, and one
//! background timer task (started on first use, aborted when the coordinator is dropped with
//! the broker's state) runs the deadlines: session timeouts, the join and sync phases'
//! rebalance timeouts, and unused MEMBER_ID_REQUIRED ids.
//!
//! Settings follow Kafka's defaults, with `group.initial.rebalance.delay.ms` = 0: the first
//! join of an empty group completes at once. Offsets are kept in memory per group and
//! partition, without expiry.
//!
//! Transactional offsets are staged by the transaction coordinator and come here only when
//! their transaction commits (`txn_offsets.rs`).
//!
//! Not here: the KIP-848 consumer protocol, share groups, `group.max.size` (unbounded),
//! offset retention.

mod group;
mod membership;
mod offsets;
mod timer;
mod txn_offsets;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use ferrokafka_protocol::ErrorCode;
use tokio::sync::{oneshot, Notify};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::disk::SavedOffset;
use group::Group;
pub use group::{CommittedOffset, GroupState};

/// Largest metadata string kept with a committed offset (`offset.metadata.max.bytes`).
pub const MAX_METADATA_BYTES: usize = 4096;

/// Limits the coordinator enforces (Kafka's `group.min.session.timeout.ms` and
/// `group.max.session.timeout.ms`).
#[derive(Debug, Clone, Copy)]
pub struct GroupConfig {
    /// Shortest session timeout a member may ask for.
    pub min_session_timeout: Duration,
    /// Longest session timeout a member may ask for.
    pub max_session_timeout: Duration,
}

/// A JoinGroup, as the coordinator needs it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// The group.
    pub group_id: String,
    /// Empty on a member's first join.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// From the request header; prefixes dynamic member ids.
    pub client_id: String,
    /// The member's address as DescribeGroups reports it.
    pub client_host: String,
    /// Milliseconds without a heartbeat before the member is removed.
    pub session_timeout_ms: i32,
    /// Milliseconds the member may take to rejoin during a rebalance (negative: the session
    /// timeout, as JoinGroup v0 has no such field).
    pub rebalance_timeout_ms: i32,
    /// `consumer` for consumers; the group's members must agree on it.
    pub protocol_type: String,
    /// Offered protocols (assignors) with their metadata, most preferred first.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a dynamic member's first join gets MEMBER_ID_REQUIRED and an id.
    pub require_known_member_id: bool,
    /// JoinGroup v9+: a rejoining static leader may be told to skip the assignment.
    pub supports_skip_assignment: bool,
}

/// One member as the leader's JoinGroup answer lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// Its member id.
    pub member_id: String,
    /// Its `group.instance.id`.
    pub instance_id: Option<String>,
    /// Its metadata for the chosen protocol.
    pub metadata: Bytes,
}

/// The answer to a JoinGroup.
#[derive(Debug, Clone)]
pub struct JoinOutcome {
    /// NONE, or why the join failed.
    pub error: ErrorCode,
    /// The member's id (also on MEMBER_ID_REQUIRED).
    pub member_id: String,
    /// The generation joined, -1 on error.
    pub generation: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The chosen protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// The static leader rejoined with nothing changed: keep the current assignment.
    pub skip_assignment: bool,
    /// Every member with its metadata, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinOutcome {
    /// A failed join.
    pub fn error(member_id: &str, error: ErrorCode) -> Self {
        JoinOutcome {
            error,
            member_id: member_id.to_owned(),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            members: Vec::new(),
        }
    }
}

/// A SyncGroup, as the coordinator needs it.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The group.
    pub group_id: String,
    /// The generation the member joined.
    pub generation: i32,
    /// The member.
    pub member_id: String,
    /// Its `group.instance.id`, if static.
    pub instance_id: Option<String>,
    /// SyncGroup v5+: must match the group's if given.
    pub protocol_type: Option<String>,
    /// SyncGroup v5+: must match the group's if given.
    pub protocol_name: Option<String>,
    /// From the leader: each member's assignment (opaque bytes).
    pub assignments: Vec<(String, Bytes)>,
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// NONE, or why the sync failed.
    pub error: ErrorCode,
    /// The group's protocol type, on success.
    pub protocol_type: Option<String>,
    /// The chosen protocol, on success.
    pub protocol_name: Option<String>,
    /// This member's assignment.
    pub assignment: Bytes,
}

impl SyncOutcome {
    /// A failed sync.
    pub fn error(error: ErrorCode) -> Self {
        SyncOutcome {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// Offsets to commit for one group.
#[derive(Debug, Clone)]
pub struct OffsetCommit {
    /// The group.
    pub group_id: String,
    /// The committer's generation, or -1 for a commit outside group management.
    pub generation: i32,
    /// The committer's member id, or empty.
    pub member_id: String,
    /// The committer's `group.instance.id`.
    pub instance_id: Option<String>,
    /// OffsetCommit v9+ reports an unknown group as GROUP_ID_NOT_FOUND rather than
    /// ILLEGAL_GENERATION.
    pub group_id_not_found: bool,
    /// `(topic, partition, offset)` to store.
    pub offsets: Vec<(String, i32, CommittedOffset)>,
}

/// One member as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct DescribedMember {
    /// Its member id.
    pub member_id: String,
    /// Its `group.instance.id`.
    pub instance_id: Option<String>,
    /// Its client id.
    pub client_id: String,
    /// Its address.
    pub client_host: String,
    /// Its metadata for the chosen protocol (Stable groups only).
    pub metadata: Bytes,
    /// Its assignment (Stable groups only).
    pub assignment: Bytes,
}

/// One group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    /// Its state.
    pub state: GroupState,
    /// Its protocol type, or empty.
    pub protocol_type: String,
    /// The chosen protocol (Stable groups only), or empty.
    pub protocol: String,
    /// Its members.
    pub members: Vec<DescribedMember>,
}

/// One group as ListGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// Its protocol type, or empty for groups that only hold offsets.
    pub protocol_type: String,
    /// Its state.
    pub state: GroupState,
}

/// A request that is answered now, or later through the receiver.
enum Pending<T> {
    Ready(T),
    Wait(oneshot::Receiver<T>),
}

/// Every group, with the limits that apply to them.
#[derive(Debug)]
struct Groups {
    config: GroupConfig,
    map: BTreeMap<String, Group>,
}

#[derive(Debug)]
struct Shared {
    groups: Mutex<Groups>,
    /// Wakes the timer task when a deadline may have moved earlier.
    deadlines_changed: Notify,
}

impl Shared {
    /// The groups. A panic under the lock leaves every group in a state the machine can
    /// continue from (each step is a handful of field writes), so keep serving.
    fn lock(&self) -> MutexGuard<'_, Groups> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The coordinator of every group on this broker.
#[derive(Debug)]
pub struct GroupCoordinator {
    shared: Arc<Shared>,
    timer: Mutex<Option<AbortHandle>>,
}

impl Drop for GroupCoordinator {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.get_mut().unwrap_or_else(|p| p.into_inner()) {
            timer.abort();
        }
    }
}

impl GroupCoordinator {
    /// A coordinator with no groups.
    pub fn new(config: GroupConfig) -> Self {
        GroupCoordinator {
            shared: Arc::new(Shared {
                groups: Mutex::new(Groups {
                    config,
                    map: BTreeMap::new(),
                }),
                deadlines_changed: Notify::new(),
            }),
            timer: Mutex::new(None),
        }
    }

    /// Runs `step` under the lock, then lets the timer task look at the deadlines again.
    fn step<R>(&self, step: impl FnOnce(&mut Groups, Instant) -> R) -> R {
        let result = step(&mut self.shared.lock(), Instant::now());
        self.ensure_timer();
        self.shared.deadlines_changed.notify_one();
        result
    }

    /// Starts the timer task on the current runtime, once.
    fn ensure_timer(&self) {
        let mut timer = self.timer.lock().unwrap_or_else(|p| p.into_inner());
        if timer.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let task = runtime.spawn(timer::run(Arc::clone(&self.shared)));
            *timer = Some(task.abort_handle());
        }
    }

    /// Whether the timer task is running (for tests of shutdown).
    pub fn timer_running(&self) -> bool {
        self.timer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Handles a JoinGroup; resolves when the rebalance it joined completes (or at once).
    /// Cancel-safe: dropping the future abandons the answer, not the membership.
    pub async fn join(&self, req: JoinRequest) -> JoinOutcome {
        let member_id = req.member_id.clone();
        match self.step(|groups, now| groups.join(req, now)) {
            Pending::Ready(outcome) => outcome,
            // The sender is dropped only when a newer JoinGroup of the same member replaced
            // this one; the client has moved on, any retriable error will do.
            Pending::Wait(rx) => rx.await.unwrap_or_else(|_| {
                JoinOutcome::error(&member_id, ErrorCode::REBALANCE_IN_PROGRESS)
            }),
        }
    }

    /// Handles a SyncGroup; a follower's resolves when the leader's assignment arrives.
    /// Cancel-safe like [`Self::join`].
    pub async fn sync(&self, req: SyncRequest) -> SyncOutcome {
        match self.step(|groups, now| groups.sync(req, now)) {
            Pending::Ready(outcome) => outcome,
            Pending::Wait(rx) => rx
                .await
                .unwrap_or_else(|_| SyncOutcome::error(ErrorCode::REBALANCE_IN_PROGRESS)),
        }
    }

    /// Handles a Heartbeat.
    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        self.step(|groups, now| groups.heartbeat(group_id, member_id, instance_id, generation, now))
    }

    /// Handles a LeaveGroup of `(member id, group.instance.id)` pairs: one error per member,
    /// or one for the whole request.
    pub fn leave(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.step(|groups, now| groups.leave(group_id, members, now))
    }

    /// Validates an offset commit against the group and stores it; the error applies to
    /// every partition of the commit.
    pub fn commit_offsets(&self, commit: OffsetCommit) -> ErrorCode {
        self.step(|groups, now| groups.commit(commit, now))
    }

    /// Every committed offset of every group, for the data dir.
    pub fn all_offsets(&self) -> Vec<SavedOffset> {
        let groups = self.shared.lock();
        groups
            .map
            .iter()
            .flat_map(|(group, g)| {
                g.offsets
                    .iter()
                    .map(move |(key, o)| SavedOffset::of(group, key, o))
            })
            .collect()
    }

    /// The committed offsets of `group` for `partitions` (those that exist), for the data
    /// dir.
    pub fn offsets_now(&self, group: &str, partitions: &[(String, i32)]) -> Vec<SavedOffset> {
        let groups = self.shared.lock();
        let Some(g) = groups.map.get(group) else {
            return Vec::new();
        };
        partitions
            .iter()
            .filter_map(|key| Some(SavedOffset::of(group, key, g.offsets.get(key)?)))
            .collect()
    }

    /// Puts back offsets read from the data dir, each group empty (its members rejoin, as
    /// after a Kafka restart).
    pub fn restore_offsets(&self, offsets: Vec<SavedOffset>) {
        let mut groups = self.shared.lock();
        for o in offsets {
            let group = groups
                .map
                .entry(o.group.clone())
                .or_insert_with(|| Group::new(&o.group));
            group.offsets.insert(
                (o.topic, o.partition),
                CommittedOffset {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata,
                },
            );
        }
    }

    /// The committed offsets of a group, or `None` if the group does not exist.
    pub fn committed_offsets(
        &self,
        group_id: &str,
    ) -> Option<BTreeMap<(String, i32), CommittedOffset>> {
        self.shared
            .lock()
            .map
            .get(group_id)
            .map(|g| g.offsets.clone())
    }

    /// Deletes committed offsets of `(topic, partition)`s: one error per partition, or one
    /// for the whole request.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        self.step(|groups, _| groups.delete_offsets(group_id, partitions))
    }

    /// Deletes an empty group and its offsets.
    pub fn delete_group(&self, group_id: &str) -> ErrorCode {
        self.step(|groups, _| groups.delete_group(group_id))
    }

    /// Describes a group, or `None` if it does not exist.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        self.shared.lock().describe(group_id)
    }

    /// Every group.
    pub fn list(&self) -> Vec<GroupListing> {
        self.shared.lock().list()
    }

    /// How many JoinGroup and SyncGroup requests of a group are held right now, so tests can
    /// wait for a request to be parked instead of sleeping.
    pub fn held_requests(&self, group_id: &str) -> HeldRequests {
        let groups = self.shared.lock();
        let members = groups.map.get(group_id).map(|g| g.members.as_slice());
        let members = members.unwrap_or_default();
        HeldRequests {
            joins: members.iter().filter(|m| m.awaiting_join.is_some()).count(),
            syncs: members.iter().filter(|m| m.awaiting_sync.is_some()).count(),
        }
    }
}

/// Requests of one group waiting for an answer; see [`GroupCoordinator::held_requests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldRequests {
    /// Held JoinGroup requests.
    pub joins: usize,
    /// Held SyncGroup requests.
    pub syncs: usize,
}

impl SavedOffset {
    /// `group`'s committed offset `o` of `(topic, partition)`, as the data dir keeps it.
    pub fn of(group: &str, (topic, partition): &(String, i32), o: &CommittedOffset) -> Self {
        SavedOffset {
            group: group.to_owned(),
            topic: topic.clone(),
            partition: *partition,
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata.clone(),
        }
    }
}
