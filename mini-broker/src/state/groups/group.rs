//! One classic consumer group: its members, generation, chosen protocol and committed offsets,
//! and the small operations the coordinator's state machine is built from.
//!
//! Members are kept in join order, so "the first member to join" is well defined for leader
//! election and protocol ties. Waiting JoinGroup and SyncGroup requests are oneshot senders
//! kept on their member; answering one is a send, which never blocks, so all of this runs under
//! the coordinator's mutex.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use ferrokafka_protocol::ErrorCode;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{JoinOutcome, JoinedMember, SyncOutcome};

/// The states of Kafka's classic group state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members; the group may still hold committed offsets.
    Empty,
    /// Waiting for every known member to (re)join.
    PreparingRebalance,
    /// Joins are answered; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// Removed; only ever reported for groups that do not exist.
    Dead,
}

impl GroupState {
    /// The name Kafka reports in DescribeGroups and ListGroups.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The offset of the next record to read.
    pub offset: i64,
    /// The leader epoch the client saw, or -1.
    pub leader_epoch: i32,
    /// Client metadata stored with the offset (a null from the client is stored as empty).
    pub metadata: String,
}

/// One protocol a member offers, in its order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

#[derive(Debug)]
pub(super) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    /// Set while a JoinGroup of this member is held.
    pub awaiting_join: Option<oneshot::Sender<JoinOutcome>>,
    /// Set while a SyncGroup of this member is held.
    pub awaiting_sync: Option<oneshot::Sender<SyncOutcome>>,
    /// Joined in the current rebalance for the first time; such members may be dropped when
    /// their join is held too long, others are kept alive while they wait.
    pub is_new: bool,
    pub heartbeat_deadline: Instant,
}

impl Member {
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// This member's first choice among `candidates`.
    fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|name| candidates.contains(name))
    }

    pub fn answer_join(&mut self, outcome: JoinOutcome) -> bool {
        match self.awaiting_join.take() {
            Some(tx) => {
                // The requester may have gone away; there is nobody left to tell then.
                let _ = tx.send(outcome);
                true
            }
            None => false,
        }
    }

    pub fn answer_sync(&mut self, outcome: SyncOutcome) -> bool {
        match self.awaiting_sync.take() {
            Some(tx) => {
                let _ = tx.send(outcome);
                true
            }
            None => false,
        }
    }

    pub fn touch(&mut self, now: Instant) {
        self.heartbeat_deadline = now + self.session_timeout;
    }
}

#[derive(Debug)]
pub(super) struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// In join order.
    pub members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, and when they lapse unless used.
    pub pending: HashMap<String, Instant>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pub pending_sync: HashSet<String>,
    /// When the join phase ends whoever has rejoined by then.
    pub join_deadline: Option<Instant>,
    /// When members still missing from `pending_sync` are removed.
    pub sync_deadline: Option<Instant>,
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
}

impl Group {
    pub fn new(id: &str) -> Self {
        Group {
            id: id.to_owned(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending: HashMap::new(),
            pending_sync: HashSet::new(),
            join_deadline: None,
            sync_deadline: None,
            offsets: BTreeMap::new(),
        }
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    pub fn has_member(&self, id: &str) -> bool {
        self.member(id).is_some()
    }

    pub fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.id.as_str())
    }

    pub fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    /// The group's rebalance timeout: the longest of its members'.
    pub fn rebalance_timeout(&self) -> Duration {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// A rebalance may start from these states; in PreparingRebalance one is already running.
    pub fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Empty | GroupState::CompletingRebalance | GroupState::Stable
        )
    }

    /// Every member has a JoinGroup waiting and no handed-out member id is still unused.
    pub fn all_members_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.awaiting_join.is_some())
    }

    /// Checks that `member_id` is a member and, for a static member, that it is the current
    /// holder of its instance id.
    pub fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> ErrorCode {
        if let Some(instance) = instance_id {
            match self.static_member_id(instance) {
                None => return ErrorCode::UNKNOWN_MEMBER_ID,
                Some(holder) if holder != member_id => return ErrorCode::FENCED_INSTANCE_ID,
                Some(_) => {}
            }
        }
        if self.has_member(member_id) {
            ErrorCode::NONE
        } else {
            ErrorCode::UNKNOWN_MEMBER_ID
        }
    }

    /// Whether a member offering `protocol_type` and `names` could join: the group is empty,
    /// or the type matches and one of the names is offered by every member.
    pub fn supports_protocols(&self, protocol_type: &str, names: &[&str]) -> bool {
        if self.state == GroupState::Empty {
            return !protocol_type.is_empty() && !names.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && names.iter().any(|name| self.offered_by_all(name))
    }

    fn offered_by_all(&self, name: &str) -> bool {
        self.members
            .iter()
            .all(|m| m.protocols.iter().any(|p| p.name == name))
    }

    /// The protocol for the next generation: among those every member offers, each member
    /// votes for its first preference and the most votes win; a tie goes to the protocol the
    /// earliest member ranks first.
    pub fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.offered_by_all(name))
            .collect();
        let mut votes: Vec<(&str, usize)> = candidates.iter().map(|c| (*c, 0)).collect();
        for member in &self.members {
            if let Some(choice) = member.vote(&candidates) {
                if let Some(entry) = votes.iter_mut().find(|(name, _)| *name == choice) {
                    entry.1 += 1;
                }
            }
        }
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes
            .into_iter()
            .find(|(_, n)| *n == best)
            .map(|(name, _)| name.to_owned())
    }

    /// Adds a member; the first member of an empty group sets the group's protocol type.
    pub fn add(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_owned());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.pending.remove(&member.id);
        self.members.push(member);
    }

    /// Removes a member; a JoinGroup or SyncGroup it still has waiting is answered with
    /// UNKNOWN_MEMBER_ID. The leadership passes to the next member in join order.
    pub fn remove(&mut self, id: &str) -> Option<Member> {
        let index = self.members.iter().position(|m| m.id == id)?;
        let mut member = self.members.remove(index);
        member.answer_join(JoinOutcome::error("", ErrorCode::UNKNOWN_MEMBER_ID));
        member.answer_sync(SyncOutcome::error(ErrorCode::UNKNOWN_MEMBER_ID));
        if self.is_leader(id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.pending_sync.remove(id);
        Some(member)
    }

    /// Keeps the current leader if it rejoined, otherwise picks the first member that did.
    /// False when no member has rejoined.
    pub fn elect_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.as_deref() else {
            return false;
        };
        if self
            .member(leader)
            .is_some_and(|m| m.awaiting_join.is_some())
        {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join.is_some()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    /// Members and their metadata for the chosen protocol, as the leader's JoinGroup gets them.
    pub fn joined_members(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// The JoinGroup answer for `member_id` in the current generation.
    pub fn join_outcome(&self, member_id: &str, leader_view: bool) -> JoinOutcome {
        JoinOutcome {
            error: ErrorCode::NONE,
            member_id: member_id.to_owned(),
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            members: if leader_view {
                self.joined_members()
            } else {
                Vec::new()
            },
        }
    }

    /// The topics the members subscribe to, read from the consumer protocol's subscription
    /// (whose version-0 layout prefixes every later version). `None` when the group does not
    /// use the consumer protocol or a subscription cannot be read.
    pub fn subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = HashSet::new();
        for member in &self.members {
            topics.extend(subscription_topics(&member.metadata(protocol))?);
        }
        Some(topics)
    }

    /// Whether OffsetDelete must refuse `topic`: a consumer-protocol group that subscribes to
    /// it (or whose subscriptions cannot be read) still uses its offsets.
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        if self.state == GroupState::Empty {
            return false;
        }
        match self.subscribed_topics() {
            Some(topics) => topics.contains(topic),
            None => self.protocol_type.as_deref() == Some("consumer"),
        }
    }
}

/// Topic names of a consumer protocol subscription: i16 version, then an array (i32 count) of
/// i16-length strings. Every length is checked against the bytes present.
fn subscription_topics(mut bytes: &[u8]) -> Option<Vec<String>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Some(head)
    }
    take(&mut bytes, 2)?;
    let count = i32::from_be_bytes(take(&mut bytes, 4)?.try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    // Each entry takes at least two bytes, so a count beyond that is a lie.
    if count > bytes.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i16::from_be_bytes(take(&mut bytes, 2)?.try_into().ok()?);
        let name = take(&mut bytes, usize::try_from(len).ok()?)?;
        topics.push(String::from_utf8(name.to_vec()).ok()?);
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, protocols: &[&str]) -> Member {
        Member {
            id: id.to_owned(),
            instance_id: None,
            client_id: "c".to_owned(),
            client_host: String::new(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            protocols: protocols
                .iter()
                .map(|p| Protocol {
                    name: (*p).to_owned(),
                    metadata: Bytes::new(),
                })
                .collect(),
            assignment: Bytes::new(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            heartbeat_deadline: Instant::now(),
        }
    }

    #[test]
    fn protocol_selection_follows_votes_among_common_protocols() {
        let mut g = Group::new("g");
        g.add(member("a", &["range", "roundrobin", "sticky"]), "consumer");
        g.add(member("b", &["roundrobin", "range"]), "consumer");
        g.add(member("c", &["roundrobin", "range"]), "consumer");
        assert_eq!(g.select_protocol().as_deref(), Some("roundrobin"));
        // "sticky" is not offered by everyone, so it cannot win even with most votes.
        let mut g = Group::new("g");
        g.add(member("a", &["sticky", "range"]), "consumer");
        g.add(member("b", &["sticky", "range"]), "consumer");
        g.add(member("c", &["range"]), "consumer");
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
        // A tie goes to the first member's preference.
        let mut g = Group::new("g");
        g.add(member("a", &["x", "y"]), "consumer");
        g.add(member("b", &["y", "x"]), "consumer");
        assert_eq!(g.select_protocol().as_deref(), Some("x"));
    }

    #[test]
    fn subscriptions_are_parsed_defensively() {
        let mut v = vec![0, 1, 0, 0, 0, 2];
        for t in ["ab", "c"] {
            v.extend_from_slice(&(t.len() as i16).to_be_bytes());
            v.extend_from_slice(t.as_bytes());
        }
        v.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // user data: null
        assert_eq!(
            subscription_topics(&v),
            Some(vec!["ab".to_owned(), "c".to_owned()])
        );
        assert_eq!(subscription_topics(&[0, 0, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(subscription_topics(&v[..8]), None);
        assert_eq!(subscription_topics(&[]), None);
    }
}
