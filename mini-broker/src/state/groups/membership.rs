//! The classic group state machine: joins, syncs, heartbeats, leaves and expiring deadlines.
//!
//! Transitions follow Kafka's GroupCoordinator:
//! Empty → PreparingRebalance when a member joins; PreparingRebalance → CompletingRebalance
//! (next generation, protocol chosen, joins answered) once every known member has rejoined or
//! the rebalance timeout passed, dropping dynamic members that did not; or → Empty when no
//! member is left; CompletingRebalance → Stable when the leader's SyncGroup brings the
//! assignment; Stable or CompletingRebalance → PreparingRebalance when membership or a
//! member's protocols change, the leader rejoins, a session expires or a member leaves.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use ferrokafka_protocol::ErrorCode;
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

use super::group::{Group, GroupState, Member, Protocol};
use super::{Groups, JoinOutcome, JoinRequest, Pending, SyncOutcome, SyncRequest};

/// How long a brand-new member's JoinGroup may be held before the member is dropped: it has
/// no member id to heartbeat with yet (Kafka's value).
const NEW_MEMBER_JOIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Groups {
    pub(super) fn join(&mut self, req: JoinRequest, now: Instant) -> Pending<JoinOutcome> {
        let fail = |error| Pending::Ready(JoinOutcome::error(&req.member_id, error));
        if req.group_id.is_empty() {
            return fail(ErrorCode::INVALID_GROUP_ID);
        }
        let session = millis(req.session_timeout_ms);
        if req.session_timeout_ms < 0
            || session < self.config.min_session_timeout
            || session > self.config.max_session_timeout
        {
            return fail(ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        let new_member = req.member_id.is_empty();
        if !new_member && !self.map.contains_key(&req.group_id) {
            return fail(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        let group = self
            .map
            .entry(req.group_id.clone())
            .or_insert_with(|| Group::new(&req.group_id));
        if group.state == GroupState::Dead {
            return fail(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let names: Vec<&str> = req.protocols.iter().map(|(n, _)| n.as_str()).collect();
        if !group.supports_protocols(&req.protocol_type, &names) {
            return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        if new_member {
            group.join_new_member(req, now)
        } else {
            group.join_known_member(req, now)
        }
    }

    pub(super) fn sync(&mut self, req: SyncRequest, now: Instant) -> Pending<SyncOutcome> {
        let fail = |error| Pending::Ready(SyncOutcome::error(error));
        if req.group_id.is_empty() {
            return fail(ErrorCode::INVALID_GROUP_ID);
        }
        let Some(group) = self.map.get_mut(&req.group_id) else {
            return fail(ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if group.state == GroupState::Dead {
            return fail(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let error = group.validate_member(&req.member_id, req.instance_id.as_deref());
        if error != ErrorCode::NONE {
            return fail(error);
        }
        if req.generation != group.generation {
            return fail(ErrorCode::ILLEGAL_GENERATION);
        }
        let differs = |ours: &Option<String>, theirs: &Option<String>| matches!((ours, theirs), (Some(a), Some(b)) if a != b);
        if differs(&group.protocol_type, &req.protocol_type)
            || differs(&group.protocol, &req.protocol_name)
        {
            return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        match group.state {
            GroupState::Empty => fail(ErrorCode::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => fail(ErrorCode::REBALANCE_IN_PROGRESS),
            GroupState::Dead => fail(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(member) = group.member_mut(&req.member_id) {
                    member.awaiting_sync = Some(tx);
                }
                group.synced(&req.member_id);
                if group.is_leader(&req.member_id) {
                    // Members the leader left out get an empty assignment; unknown ids are
                    // ignored. The bytes are opaque to us.
                    let mut assignments: HashMap<String, Bytes> =
                        req.assignments.into_iter().collect();
                    for member in &mut group.members {
                        member.assignment = assignments.remove(&member.id).unwrap_or_default();
                    }
                    group.propagate_assignment(ErrorCode::NONE, now);
                    group.state = GroupState::Stable;
                }
                Pending::Wait(rx)
            }
            GroupState::Stable => {
                group.synced(&req.member_id);
                let assignment = match group.member_mut(&req.member_id) {
                    Some(member) => {
                        member.touch(now);
                        member.assignment.clone()
                    }
                    None => Bytes::new(),
                };
                Pending::Ready(SyncOutcome {
                    error: ErrorCode::NONE,
                    protocol_type: group.protocol_type.clone(),
                    protocol_name: group.protocol.clone(),
                    assignment,
                })
            }
        }
    }

    pub(super) fn heartbeat(
        &mut self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> ErrorCode {
        if group_id.is_empty() {
            return ErrorCode::INVALID_GROUP_ID;
        }
        let Some(group) = self.map.get_mut(group_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        if group.state == GroupState::Dead {
            return ErrorCode::COORDINATOR_NOT_AVAILABLE;
        }
        let error = group.validate_member(member_id, instance_id);
        if error != ErrorCode::NONE {
            return error;
        }
        if generation != group.generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        let state = group.state;
        if let Some(member) = group.member_mut(member_id) {
            member.touch(now);
        }
        match state {
            GroupState::Empty => ErrorCode::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            // A member may heartbeat between its JoinGroup answer and its SyncGroup.
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::NONE,
            GroupState::Dead => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        }
    }

    pub(super) fn leave(
        &mut self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
        now: Instant,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if group_id.is_empty() {
            return Err(ErrorCode::INVALID_GROUP_ID);
        }
        let Some(group) = self.map.get_mut(group_id) else {
            return Ok(vec![ErrorCode::UNKNOWN_MEMBER_ID; leaving.len()]);
        };
        if group.state == GroupState::Dead {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let mut any_left = false;
        let results = leaving
            .iter()
            .map(|(member_id, instance_id)| {
                if member_id.is_empty() {
                    // An admin removing a static member by instance id alone.
                    let holder = instance_id
                        .as_deref()
                        .and_then(|i| group.static_member_id(i))
                        .map(str::to_owned);
                    return match holder {
                        Some(holder) => {
                            group.remove(&holder);
                            any_left = true;
                            ErrorCode::NONE
                        }
                        None => ErrorCode::UNKNOWN_MEMBER_ID,
                    };
                }
                if group.pending.remove(member_id).is_some() {
                    any_left = true;
                    return ErrorCode::NONE;
                }
                let error = group.validate_member(member_id, instance_id.as_deref());
                if error == ErrorCode::NONE {
                    group.remove(member_id);
                    any_left = true;
                }
                error
            })
            .collect();
        if any_left {
            group.after_departure(now);
        }
        Ok(results)
    }

    /// Acts on every deadline that has passed.
    pub(super) fn expire(&mut self, now: Instant) {
        for group in self.map.values_mut() {
            group.expire(now);
        }
    }

    /// The earliest deadline of any group.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.map.values().filter_map(Group::next_deadline).min()
    }
}

impl Group {
    fn join_new_member(&mut self, req: JoinRequest, now: Instant) -> Pending<JoinOutcome> {
        let prefix = req.instance_id.as_deref().unwrap_or(&req.client_id);
        let new_id = format!("{prefix}-{}", Uuid::new_v4());
        if let Some(instance) = req.instance_id.as_deref() {
            return match self.static_member_id(instance).map(str::to_owned) {
                Some(old_id) => self.replace_static_member(req, &old_id, new_id, now),
                None => self.add_member(req, new_id, now),
            };
        }
        if req.require_known_member_id {
            // KIP-394: the id is remembered for a session timeout; the member joins again
            // with it, which is when it becomes a member.
            self.pending
                .insert(new_id.clone(), now + millis(req.session_timeout_ms));
            return Pending::Ready(JoinOutcome::error(&new_id, ErrorCode::MEMBER_ID_REQUIRED));
        }
        self.add_member(req, new_id, now)
    }

    fn join_known_member(&mut self, req: JoinRequest, now: Instant) -> Pending<JoinOutcome> {
        let id = req.member_id.clone();
        if self.pending.contains_key(&id) {
            return self.add_member(req, id, now);
        }
        let error = self.validate_member(&id, req.instance_id.as_deref());
        if error != ErrorCode::NONE {
            return Pending::Ready(JoinOutcome::error(&id, error));
        }
        let unchanged = self
            .member(&id)
            .is_some_and(|m| same_protocols(&m.protocols, &req.protocols));
        match self.state {
            GroupState::PreparingRebalance => self.update_member(req, now),
            // It probably missed our answer; give it the same one again.
            GroupState::CompletingRebalance if unchanged => {
                Pending::Ready(self.join_outcome(&id, self.is_leader(&id)))
            }
            GroupState::CompletingRebalance => self.update_member(req, now),
            // A rejoining leader triggers a rebalance: it may have seen metadata change.
            GroupState::Stable if unchanged && !self.is_leader(&id) => {
                Pending::Ready(self.join_outcome(&id, false))
            }
            GroupState::Stable => self.update_member(req, now),
            GroupState::Empty | GroupState::Dead => {
                Pending::Ready(JoinOutcome::error(&id, ErrorCode::UNKNOWN_MEMBER_ID))
            }
        }
    }

    fn add_member(&mut self, req: JoinRequest, id: String, now: Instant) -> Pending<JoinOutcome> {
        let (tx, rx) = oneshot::channel();
        let member = Member {
            id,
            instance_id: req.instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout: millis(req.session_timeout_ms),
            rebalance_timeout: rebalance_timeout(req.rebalance_timeout_ms, req.session_timeout_ms),
            protocols: protocols(req.protocols),
            assignment: Bytes::new(),
            awaiting_join: Some(tx),
            awaiting_sync: None,
            is_new: true,
            heartbeat_deadline: now + NEW_MEMBER_JOIN_TIMEOUT,
        };
        self.add(member, &req.protocol_type);
        self.rebalance_or_complete_join(now);
        Pending::Wait(rx)
    }

    /// A known member rejoins: hold its join with its new protocols and timeouts.
    fn update_member(&mut self, req: JoinRequest, now: Instant) -> Pending<JoinOutcome> {
        let (tx, rx) = oneshot::channel();
        if let Some(member) = self.member_mut(&req.member_id) {
            member.protocols = protocols(req.protocols);
            member.session_timeout = millis(req.session_timeout_ms);
            member.rebalance_timeout =
                rebalance_timeout(req.rebalance_timeout_ms, req.session_timeout_ms);
            member.awaiting_join = Some(tx);
        }
        self.rebalance_or_complete_join(now);
        Pending::Wait(rx)
    }

    /// KIP-345: a static member came back without its member id. The new id takes over the
    /// old member's place (and assignment); the old id is fenced. In a Stable group where the
    /// chosen protocol stays the same, nothing is rebalanced.
    fn replace_static_member(
        &mut self,
        req: JoinRequest,
        old_id: &str,
        new_id: String,
        now: Instant,
    ) -> Pending<JoinOutcome> {
        let previous_leader = self.leader.clone().unwrap_or_default();
        let Some(member) = self.member_mut(old_id) else {
            return Pending::Ready(JoinOutcome::error("", ErrorCode::UNKNOWN_MEMBER_ID));
        };
        member.answer_join(JoinOutcome::error(old_id, ErrorCode::FENCED_INSTANCE_ID));
        member.answer_sync(SyncOutcome::error(ErrorCode::FENCED_INSTANCE_ID));
        member.id = new_id.clone();
        member.protocols = protocols(req.protocols);
        member.session_timeout = millis(req.session_timeout_ms);
        member.rebalance_timeout =
            rebalance_timeout(req.rebalance_timeout_ms, req.session_timeout_ms);
        member.touch(now);
        if self.is_leader(old_id) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        if self.state == GroupState::Stable && self.select_protocol() == self.protocol {
            let is_leader = self.is_leader(&new_id);
            let outcome = if req.supports_skip_assignment {
                // KIP-814: the leader learns it leads, but keeps the current assignment.
                let mut outcome = self.join_outcome(&new_id, is_leader);
                outcome.skip_assignment = is_leader;
                outcome
            } else {
                // Report the old leader id, so a returning leader does not compute an
                // assignment that a Stable group would never hand out.
                let mut outcome = self.join_outcome(&new_id, false);
                outcome.leader = previous_leader;
                outcome
            };
            return Pending::Ready(outcome);
        }
        let (tx, rx) = oneshot::channel();
        if let Some(member) = self.member_mut(&new_id) {
            member.awaiting_join = Some(tx);
        }
        match self.state {
            // The leader may already be assigning to the old id: start over.
            GroupState::CompletingRebalance => self.prepare_rebalance(now),
            _ => self.rebalance_or_complete_join(now),
        }
        Pending::Wait(rx)
    }

    /// A SyncGroup of `member_id` arrived.
    fn synced(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
    }

    /// Starts a rebalance if none is running, or completes the running one if it can.
    fn rebalance_or_complete_join(&mut self, now: Instant) {
        if self.can_rebalance() {
            self.prepare_rebalance(now);
        } else {
            self.maybe_complete_join(now);
        }
    }

    fn maybe_complete_join(&mut self, now: Instant) {
        if self.state == GroupState::PreparingRebalance && self.all_members_joined() {
            self.complete_join(now);
        }
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        if self.state == GroupState::CompletingRebalance {
            // Followers waiting for an assignment of a generation that will not be: rejoin.
            for member in &mut self.members {
                member.assignment = Bytes::new();
            }
            self.propagate_assignment(ErrorCode::REBALANCE_IN_PROGRESS, now);
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let initial = self.state == GroupState::Empty;
        self.state = GroupState::PreparingRebalance;
        self.join_deadline = Some(now + self.rebalance_timeout());
        // group.initial.rebalance.delay.ms = 0: an empty group's first rebalance does not
        // wait for anyone else.
        if initial || self.all_members_joined() {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: dynamic members that did not rejoin are dropped, the generation
    /// advances, the protocol is chosen and every held JoinGroup is answered.
    fn complete_join(&mut self, now: Instant) {
        self.join_deadline = None;
        let missing: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in missing {
            self.remove(&id);
        }
        if self.state == GroupState::Dead {
            return;
        }
        if !self.elect_joined_leader() && !self.members.is_empty() {
            // Only absent static members are left: wait for them another rebalance timeout
            // (their sessions expire meanwhile if they are gone).
            self.join_deadline = Some(now + self.rebalance_timeout());
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        self.pending_sync.clear();
        if self.members.is_empty() {
            self.protocol = None;
            self.state = GroupState::Empty;
            tracing::debug!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        self.protocol = self.select_protocol();
        self.state = GroupState::CompletingRebalance;
        let outcomes: Vec<_> = self
            .members
            .iter()
            .map(|m| self.join_outcome(&m.id, self.is_leader(&m.id)))
            .collect();
        for (member, outcome) in self.members.iter_mut().zip(outcomes) {
            member.answer_join(outcome);
            member.touch(now);
            member.is_new = false;
            self.pending_sync.insert(member.id.clone());
        }
        self.sync_deadline = Some(now + self.rebalance_timeout());
        tracing::debug!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            protocol = self.protocol.as_deref(),
            "rebalance joined"
        );
    }

    /// Answers every held SyncGroup with its assignment (or `error`).
    fn propagate_assignment(&mut self, error: ErrorCode, now: Instant) {
        let (protocol_type, protocol_name) = if error == ErrorCode::NONE {
            (self.protocol_type.clone(), self.protocol.clone())
        } else {
            (None, None)
        };
        for member in &mut self.members {
            let outcome = SyncOutcome {
                error,
                protocol_type: protocol_type.clone(),
                protocol_name: protocol_name.clone(),
                assignment: member.assignment.clone(),
            };
            if member.answer_sync(outcome) {
                // Its session restarts now: it could not heartbeat while it waited.
                member.touch(now);
            }
        }
    }

    /// After members left or were removed: rebalance, or let a running one finish.
    fn after_departure(&mut self, now: Instant) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.rebalance_or_complete_join(now)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    fn expire(&mut self, now: Instant) {
        let lapsed: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        if !lapsed.is_empty() {
            for id in &lapsed {
                self.pending.remove(id);
            }
            self.maybe_complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.heartbeat_deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            let Some(member) = self.member_mut(&id) else {
                continue;
            };
            if !member.is_new && (member.awaiting_join.is_some() || member.awaiting_sync.is_some())
            {
                // Waiting on us counts as alive; its session restarts when we answer.
                member.touch(now);
                continue;
            }
            tracing::info!(group = %self.id, member = %id, "session expired, removing member");
            self.remove(&id);
            self.after_departure(now);
        }
        if self.state == GroupState::PreparingRebalance
            && self.join_deadline.is_some_and(|d| d <= now)
        {
            self.complete_join(now);
        }
        if self.sync_deadline.is_some_and(|d| d <= now) {
            self.sync_deadline = None;
            if matches!(
                self.state,
                GroupState::CompletingRebalance | GroupState::Stable
            ) && !self.pending_sync.is_empty()
            {
                let missing: Vec<String> = self.pending_sync.drain().collect();
                tracing::info!(group = %self.id, ?missing, "no SyncGroup in time, removing");
                for id in missing {
                    self.remove(&id);
                }
                self.prepare_rebalance(now);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let members = self.members.iter().map(|m| m.heartbeat_deadline);
        let pending = self.pending.values().copied();
        members
            .chain(pending)
            .chain(self.join_deadline)
            .chain(self.sync_deadline)
            .min()
    }
}

fn rebalance_timeout(rebalance_ms: i32, session_ms: i32) -> Duration {
    if rebalance_ms < 0 {
        millis(session_ms)
    } else {
        millis(rebalance_ms)
    }
}

fn protocols(offered: Vec<(String, Bytes)>) -> Vec<Protocol> {
    offered
        .into_iter()
        .map(|(name, metadata)| Protocol { name, metadata })
        .collect()
}

fn same_protocols(ours: &[Protocol], theirs: &[(String, Bytes)]) -> bool {
    ours.len() == theirs.len()
        && ours
            .iter()
            .zip(theirs)
            .all(|(a, (name, metadata))| a.name == *name && a.metadata == *metadata)
}
