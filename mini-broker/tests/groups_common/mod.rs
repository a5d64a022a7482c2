//! Raw group-protocol requests for the coordinator tests: which broker a scenario runs against
//! (the mini-broker, or the real Kafka broker for the scenarios that describe Kafka), builders
//! for each request, a member that owns its connection (so a held JoinGroup or SyncGroup can
//! run in its own task), and waits on conditions with deadlines.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use ferrokafka_mini_broker::state::groups::HeldRequests;
use ferrokafka_mini_broker::MiniBroker;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    CreateTopicsRequest, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    OffsetCommitRequest, OffsetCommitResponse, SyncGroupRequest, SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::common::{RawConn, STEP};

pub const MEMBER_ID_REQUIRED: i16 = 79;
pub const UNKNOWN_MEMBER_ID: i16 = 25;
pub const ILLEGAL_GENERATION: i16 = 22;
pub const REBALANCE_IN_PROGRESS: i16 = 27;
pub const FENCED_INSTANCE_ID: i16 = 82;
pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
pub const INVALID_SESSION_TIMEOUT: i16 = 26;
pub const INVALID_GROUP_ID: i16 = 24;
pub const GROUP_ID_NOT_FOUND: i16 = 69;
pub const NON_EMPTY_GROUP: i16 = 68;
pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
pub const INVALID_REQUEST: i16 = 42;

/// The broker a scenario runs against.
#[derive(Clone, Copy)]
pub enum Broker<'a> {
    /// The in-process mini-broker, whose held requests a test can see.
    Mini(&'a MiniBroker),
    /// A real Kafka broker at this address.
    Kafka(&'a str),
}

impl Broker<'_> {
    pub fn addr(&self) -> String {
        match self {
            Broker::Mini(b) => b.bootstrap(),
            Broker::Kafka(a) => (*a).to_owned(),
        }
    }

    pub fn is_mini(&self) -> bool {
        matches!(self, Broker::Mini(_))
    }

    /// On the mini-broker, waits until the group's held requests satisfy `ok`; Kafka does not
    /// show them, so there it returns at once (scenarios also wait on what clients observe).
    pub async fn wait_held(&self, group: &str, ok: impl Fn(HeldRequests) -> bool) {
        if let Broker::Mini(b) = self {
            wait_held(b, group, ok).await;
        }
    }
}

/// The real broker: `KAFKA_BOOTSTRAP`, or the state file `scripts/real-kafka.sh` writes.
/// `None` (with a note) when there is none; in CI that is a failure.
pub fn real_kafka() -> Option<String> {
    if let Ok(addr) = std::env::var("KAFKA_BOOTSTRAP") {
        if !addr.is_empty() {
            return Some(addr);
        }
    }
    let state = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/kafka")
        .join(std::env::var("KAFKA_VERSION").unwrap_or_else(|_| "4.1.2".into()))
        .join("real-kafka.env");
    let found = std::fs::read_to_string(state).ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("KAFKA_BOOTSTRAP=").map(str::to_owned))
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "no real Kafka in CI: run scripts/real-kafka.sh start");
        eprintln!("skipped against real Kafka: run scripts/real-kafka.sh start");
    }
    found
}

/// Waits until a real broker's group coordinator answers: a freshly started Kafka says
/// COORDINATOR_NOT_AVAILABLE until it has created its offsets topic, which the scenarios do not
/// describe.
pub async fn coordinator_ready(addr: &str) {
    let request = FindCoordinatorRequest::default().with_key(s("coordinator-ready"));
    eventually(
        "the group coordinator",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let mut conn = RawConn::connect(addr).await;
            let resp: FindCoordinatorResponse = conn.request(1, &request).await;
            (resp.error_code == 0).then_some(())
        },
    )
    .await;
}

/// Runs each scenario `async fn(Broker<'_>)` twice: on a fresh mini-broker and on real Kafka.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn mini_broker() {
                let broker = ferrokafka_mini_broker::MiniBroker::start().await.expect("start");
                super::$name($crate::groups_common::Broker::Mini(&broker)).await;
                broker.shutdown().await;
            }

            #[tokio::test]
            async fn real_kafka() {
                if let Some(addr) = $crate::groups_common::real_kafka() {
                    $crate::groups_common::coordinator_ready(&addr).await;
                    super::$name($crate::groups_common::Broker::Kafka(&addr)).await;
                }
            }
        }
    )*};
}

/// A name no other test (or earlier run against the same Kafka) uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

pub fn gid(v: &str) -> GroupId {
    GroupId(s(v))
}

pub fn tname(v: &str) -> TopicName {
    TopicName(s(v))
}

/// Consumer-protocol subscription bytes (version 0) for `topics`, no user data.
pub fn subscription(topics: &[&str]) -> Bytes {
    let mut out = vec![0u8, 0];
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        out.extend_from_slice(&(t.len() as i16).to_be_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(out)
}

/// How one member joins: group, protocols and timeouts.
#[derive(Clone)]
pub struct JoinSpec {
    pub group: String,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub session_ms: i32,
    pub rebalance_ms: i32,
    pub instance: Option<String>,
}

impl JoinSpec {
    pub fn new(group: &str) -> Self {
        JoinSpec {
            group: group.to_owned(),
            protocol_type: "consumer".to_owned(),
            protocols: vec![("range".to_owned(), subscription(&["t"]))],
            session_ms: 10_000,
            rebalance_ms: 10_000,
            instance: None,
        }
    }

    pub fn protocols(mut self, protocols: &[(&str, Bytes)]) -> Self {
        self.protocols = protocols
            .iter()
            .map(|(n, m)| ((*n).to_owned(), m.clone()))
            .collect();
        self
    }

    pub fn protocol_type(mut self, t: &str) -> Self {
        self.protocol_type = t.to_owned();
        self
    }

    pub fn timeouts(mut self, session_ms: i32, rebalance_ms: i32) -> Self {
        self.session_ms = session_ms;
        self.rebalance_ms = rebalance_ms;
        self
    }

    pub fn instance(mut self, id: &str) -> Self {
        self.instance = Some(id.to_owned());
        self
    }

    pub fn request(&self, member_id: &str) -> JoinGroupRequest {
        JoinGroupRequest::default()
            .with_group_id(gid(&self.group))
            .with_session_timeout_ms(self.session_ms)
            .with_rebalance_timeout_ms(self.rebalance_ms)
            .with_member_id(s(member_id))
            .with_group_instance_id(self.instance.as_deref().map(s))
            .with_protocol_type(s(&self.protocol_type))
            .with_protocols(
                self.protocols
                    .iter()
                    .map(|(n, m)| {
                        JoinGroupRequestProtocol::default()
                            .with_name(s(n))
                            .with_metadata(m.clone())
                    })
                    .collect(),
            )
    }
}

/// One group member on its own connection.
pub struct Member {
    pub conn: RawConn,
    pub spec: JoinSpec,
    pub id: String,
    pub generation: i32,
    /// The protocol the group chose, from the last successful join.
    pub protocol: Option<String>,
    pub version: i16,
}

impl Member {
    pub async fn connect(broker: Broker<'_>, spec: JoinSpec) -> Member {
        Member {
            conn: RawConn::connect(&broker.addr()).await,
            spec,
            id: String::new(),
            generation: -1,
            protocol: None,
            version: 9,
        }
    }

    /// One JoinGroup with the member's current id; remembers the id and generation it gets.
    pub async fn join_once(&mut self) -> JoinGroupResponse {
        let req = self.spec.request(&self.id);
        let resp = self.conn.request(self.version, &req).await;
        if !resp.member_id.is_empty() {
            self.id = resp.member_id.to_string();
        }
        if resp.error_code == 0 {
            self.generation = resp.generation_id;
            self.protocol = resp.protocol_name.as_ref().map(|p| p.to_string());
        }
        resp
    }

    /// Joins as a new member: the MEMBER_ID_REQUIRED round first (v4+, dynamic members),
    /// then the join proper, which may be held.
    pub async fn join(&mut self) -> JoinGroupResponse {
        if self.id.is_empty() && self.version >= 4 && self.spec.instance.is_none() {
            let first = self.join_once().await;
            assert_eq!(first.error_code, MEMBER_ID_REQUIRED, "first join");
            assert!(!self.id.is_empty(), "MEMBER_ID_REQUIRED without an id");
        }
        self.join_once().await
    }

    pub async fn sync(&mut self, assignments: &[(&str, &str)]) -> SyncGroupResponse {
        // v5 requires the protocol type and name (Kafka refuses a SyncGroup without them).
        let req = sync_request(&self.spec.group, self.generation, &self.id, assignments)
            .with_group_instance_id(self.spec.instance.as_deref().map(s))
            .with_protocol_type(Some(s(&self.spec.protocol_type)))
            .with_protocol_name(Some(s(self.protocol.as_deref().unwrap_or("range"))));
        self.conn.request(5, &req).await
    }

    pub async fn heartbeat(&mut self) -> i16 {
        let req = HeartbeatRequest::default()
            .with_group_id(gid(&self.spec.group))
            .with_generation_id(self.generation)
            .with_member_id(s(&self.id))
            .with_group_instance_id(self.spec.instance.as_deref().map(s));
        self.conn.request(4, &req).await.error_code
    }

    pub async fn leave(&mut self) -> LeaveGroupResponse {
        let req = LeaveGroupRequest::default()
            .with_group_id(gid(&self.spec.group))
            .with_members(vec![MemberIdentity::default()
                .with_member_id(s(&self.id))
                .with_group_instance_id(self.spec.instance.as_deref().map(s))]);
        self.conn.request(5, &req).await
    }

    pub async fn commit(&mut self, topic: &str, partition: i32, offset: i64) -> i16 {
        let req = commit_request(
            &self.spec.group,
            self.generation,
            &self.id,
            topic,
            partition,
            offset,
            "",
        )
        .with_group_instance_id(self.spec.instance.as_deref().map(s));
        let resp: OffsetCommitResponse = self.conn.request(9, &req).await;
        resp.topics[0].partitions[0].error_code
    }

    /// Runs `JoinGroup` in its own task (it may be held); the member comes back with it.
    pub fn spawn_join(mut self) -> JoinHandle<(Member, JoinGroupResponse)> {
        tokio::spawn(async move {
            let resp = self.join().await;
            (self, resp)
        })
    }

    /// Runs `SyncGroup` in its own task (a follower's is held until the leader's arrives).
    pub fn spawn_sync(mut self) -> JoinHandle<(Member, SyncGroupResponse)> {
        tokio::spawn(async move {
            let resp = self.sync(&[]).await;
            (self, resp)
        })
    }
}

pub fn sync_request(
    group: &str,
    generation: i32,
    member: &str,
    assignments: &[(&str, &str)],
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_generation_id(generation)
        .with_member_id(s(member))
        .with_assignments(
            assignments
                .iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(m))
                        .with_assignment(Bytes::copy_from_slice(a.as_bytes()))
                })
                .collect(),
        )
}

pub fn commit_request(
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    metadata: &str,
) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(gid(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(tname(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(partition)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(3)
                .with_committed_metadata(Some(s(metadata)))])])
}

/// Creates `topic` with `partitions` partitions and waits until the broker serves them (Kafka
/// may name a leader before it does; ListOffsets answers only once it does).
pub async fn create_topic(broker: Broker<'_>, topic: &str, partitions: i32) {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::{BrokerId, ListOffsetsRequest};
    let mut conn = RawConn::connect(&broker.addr()).await;
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(tname(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let resp = conn.request(5, &req).await;
    assert_eq!(resp.topics[0].error_code, 0, "create topic {topic}");
    let list = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(tname(topic))
            .with_partitions(
                (0..partitions)
                    .map(|p| {
                        ListOffsetsPartition::default()
                            .with_partition_index(p)
                            .with_timestamp(-1)
                    })
                    .collect(),
            )]);
    let deadline = Instant::now() + STEP;
    loop {
        let resp = conn.request(7, &list).await;
        let codes: Vec<i16> = resp
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect();
        if codes.len() == partitions as usize && codes.iter().all(|c| *c == 0) {
            return;
        }
        assert!(Instant::now() < deadline, "{topic} not served: {codes:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Heartbeats `member` until the group tells it to rejoin: how any client learns that another
/// member's JoinGroup has arrived.
pub async fn wait_rebalance(member: &mut Member) {
    let deadline = Instant::now() + STEP;
    loop {
        let code = member.heartbeat().await;
        if code == REBALANCE_IN_PROGRESS {
            return;
        }
        assert_eq!(code, 0, "heartbeat while waiting for a rebalance");
        assert!(Instant::now() < deadline, "no rebalance started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `held` of the group satisfies `ok`, or fails after [`STEP`].
pub async fn wait_held(broker: &MiniBroker, group: &str, ok: impl Fn(HeldRequests) -> bool) {
    let deadline = Instant::now() + STEP;
    loop {
        let held = broker.state().groups.held_requests(group);
        if ok(held) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group {group}: held requests stayed at {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Calls `probe` until it returns `Some`, pausing `every` between calls; fails after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, every: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(every).await;
    }
}

/// Awaits a spawned step with [`STEP`] as its bound.
pub async fn finish<T>(handle: JoinHandle<T>) -> T {
    tokio::time::timeout(STEP, handle)
        .await
        .expect("held request was never answered")
        .expect("task panicked")
}
