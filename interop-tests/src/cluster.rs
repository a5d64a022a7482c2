//! The three-node Kafka cluster of `scripts/kafka-cluster.sh`, and the faults a scenario puts
//! on it: a node SIGKILLed and restarted, a partition's leader moved.
//!
//! [`Cluster::find`] reads the script's state file (or `KAFKA_CLUSTER_BOOTSTRAP`); kills and
//! restarts run the script, so its state file stays the one truth about which node is down.
//! Leader moves need no JVM tools: ElectLeaders and AlterPartitionReassignments go to any
//! live broker, which forwards them to the active controller (KRaft).
//!
//! The harness's own requests (Metadata, ElectLeaders, AlterPartitionReassignments) go over a
//! plain connection of their own ([`AdminConnection`]), not through `ferrokafka::Client`:
//! the referee of a fault scenario should not be the client under test, and ferrokafka's
//! versions table (`protocol/src/versions.rs`) does not list the two admin APIs, so
//! `Client::send_to` refuses them with `UnsupportedApi`.
//!
//! Every wait has a deadline and panics naming what it waited for and what it last saw. What
//! not: no network partitions or slow disks, only whole-process kills.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrokafka_protocol::frame::{FrameReader, FrameWriter};
use ferrokafka_protocol::header::{decode_response_header, response_header_version, RequestHeader};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponsePartition;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, ApiVersionsRequest, BrokerId, ElectLeadersRequest,
    MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Request, StrBytes};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::missing;
use crate::target::kafka_cache_dir;

/// Longest a leader move, an ISR change or a failover may take. A SIGKILLed leader is fenced
/// after `broker.session.timeout.ms` (9 s) and a new leader follows at once; the rest is room
/// for a loaded two-core machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// Longest a connection to one node may take to open and answer ApiVersions. Short: a node
/// that is starting accepts connections (its port is bound) long before it answers them.
const OPEN_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest one harness request may take once the connection is open.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Longest `kafka-cluster.sh kill|restart` may take: its own `KAFKA_READY_TIMEOUT` (120 s by
/// default) for a restart, plus room for its lock.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(250);

/// The running three-node cluster and its fault controls.
#[derive(Debug, Clone)]
pub struct Cluster {
    bootstrap: String,
    /// `host:port` by node id, from the state file.
    nodes: BTreeMap<i32, String>,
    script: PathBuf,
    /// The node that answered last: asked first next time, so a node that is down or still
    /// starting costs a probe nothing once another has answered.
    last_answered: Arc<AtomicI32>,
}

/// One partition as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// The leader's node id, `None` while there is none.
    pub leader: Option<i32>,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// Replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

impl Cluster {
    /// The cluster `scripts/kafka-cluster.sh start` wrote the state file for; `None` (after
    /// [`missing`]) when there is none. `KAFKA_CLUSTER_BOOTSTRAP`, when set, must name the
    /// same cluster: kills go by the state file.
    ///
    /// `KAFKA_CLUSTER_SKIP=<reason>` skips quietly: `scripts/test.sh` sets it while the
    /// workspace's tests run against the single broker, and runs the cluster tests later in
    /// a step of their own.
    pub fn find() -> Option<Cluster> {
        if let Some(why) = std::env::var("KAFKA_CLUSTER_SKIP")
            .ok()
            .filter(|v| !v.is_empty())
        {
            eprintln!("cluster scenario skipped here: {why}");
            return None;
        }
        let how = "start it with scripts/kafka-cluster.sh start (scripts/test.sh does this)";
        let state_path = cluster_state_file();
        let Ok(text) = std::fs::read_to_string(&state_path) else {
            missing(
                &format!("the three-node Kafka cluster ({})", state_path.display()),
                how,
            );
            return None;
        };
        let state: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let nodes: BTreeMap<i32, String> = (1..=3)
            .filter_map(|id| {
                let addr = state.get(format!("KAFKA_CLUSTER_NODE_{id}").as_str())?;
                Some((id, (*addr).to_owned()))
            })
            .collect();
        let recorded = state.get("KAFKA_CLUSTER_BOOTSTRAP").copied().unwrap_or("");
        if nodes.len() != 3 || recorded.is_empty() {
            missing(
                &format!(
                    "a complete cluster state file (three nodes) at {}",
                    state_path.display()
                ),
                how,
            );
            return None;
        }
        let bootstrap = match std::env::var("KAFKA_CLUSTER_BOOTSTRAP") {
            Ok(b) if !b.is_empty() => b,
            _ => recorded.to_owned(),
        };
        assert_eq!(
            bootstrap,
            recorded,
            "KAFKA_CLUSTER_BOOTSTRAP names another cluster than {}",
            state_path.display()
        );
        Some(Cluster {
            bootstrap,
            nodes,
            script: crate::repo_root().join("scripts/kafka-cluster.sh"),
            last_answered: Arc::new(AtomicI32::new(1)),
        })
    }

    /// `host:port,host:port,host:port` for clients.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The node ids: 1, 2, 3.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.keys().copied().collect()
    }

    /// `host:port` of node `id`.
    pub fn node_addr(&self, id: i32) -> &str {
        self.nodes
            .get(&id)
            .unwrap_or_else(|| panic!("no node {id} in the cluster (nodes are 1, 2, 3)"))
    }

    /// SIGKILLs node `id`; returns once the process is gone. Its partitions move after the
    /// controller fences it (`broker.session.timeout.ms`, 9 s): see [`Self::wait_for_new_leader`].
    pub async fn kill(&self, id: i32) {
        self.run_script("kill", id).await;
    }

    /// Starts node `id` again (same ports and data) and returns once it answers Metadata
    /// listing itself, that is once the controller has unfenced it. It rejoins the ISRs a
    /// little later: see [`Self::wait_for_isr`]. A node that is up is left alone.
    pub async fn restart(&self, id: i32) {
        self.run_script("restart", id).await;
    }

    /// A guard that, when dropped, restarts every node that is down, so a scenario that
    /// fails half-way does not leave the next one a broken cluster. Hold it in the test's
    /// synchronous body, outside `block_on`: its drop runs the script and blocks.
    pub fn restart_on_drop(&self) -> RestartOnDrop {
        RestartOnDrop {
            cluster: self.clone(),
        }
    }

    async fn run_script(&self, command: &str, id: i32) {
        let _ = self.node_addr(id);
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&self.script)
            .args([command, &id.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.script.display()));
        let status = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!("kafka-cluster.sh {command} {id} took longer than {SCRIPT_TIMEOUT:?}")
            })
            .unwrap_or_else(|e| panic!("wait for kafka-cluster.sh {command} {id}: {e}"));
        assert!(
            status.success(),
            "kafka-cluster.sh {command} {id} failed ({status}) after {:?}",
            started.elapsed()
        );
    }

    /// Fresh Metadata for `topics` (an empty slice: brokers only, no topics), from the first
    /// node that answers.
    pub async fn metadata(&self, topics: &[&str]) -> Result<MetadataResponse, String> {
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                    .collect(),
            ));
        self.request(&request).await
    }

    /// `topic`/`partition` as Metadata describes it now.
    pub async fn partition(&self, topic: &str, partition: i32) -> Result<PartitionState, String> {
        let metadata = self.metadata(&[topic]).await?;
        let t = metadata
            .topics
            .iter()
            .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
            .ok_or_else(|| format!("metadata has no topic {topic}"))?;
        let code = ErrorCode(t.error_code);
        if !code.is_ok() {
            return Err(format!("topic {topic}: {code}"));
        }
        let p = t
            .partitions
            .iter()
            .find(|p| p.partition_index == partition)
            .ok_or_else(|| format!("metadata has no partition {topic}/{partition}"))?;
        Ok(partition_state(p))
    }

    /// The leader of `topic`/`partition` now, `None` while it has none (or on no answer).
    pub async fn leader_of(&self, topic: &str, partition: i32) -> Option<i32> {
        self.partition(topic, partition).await.ok()?.leader
    }

    /// Waits (up to [`WAIT`]) until `node` leads `topic`/`partition`.
    pub async fn wait_for_leader(&self, topic: &str, partition: i32, node: i32) {
        let what = format!("node {node} to lead {topic}/{partition}");
        wait_until(&what, WAIT, || async {
            let p = self.partition(topic, partition).await?;
            match p.leader {
                Some(leader) if leader == node => Ok(()),
                _ => Err(format!("{p:?}")),
            }
        })
        .await;
    }

    /// Waits (up to [`WAIT`]) until `topic`/`partition` has a leader other than `old`, and
    /// returns it.
    pub async fn wait_for_new_leader(&self, topic: &str, partition: i32, old: i32) -> i32 {
        let what = format!("a leader of {topic}/{partition} other than node {old}");
        wait_until(&what, WAIT, || async {
            let p = self.partition(topic, partition).await?;
            match p.leader {
                Some(leader) if leader != old => Ok(leader),
                _ => Err(format!("{p:?}")),
            }
        })
        .await
    }

    /// Waits (up to [`WAIT`]) until `node` is in the ISR of `topic`/`partition`.
    pub async fn wait_for_isr(&self, topic: &str, partition: i32, node: i32) {
        let what = format!("node {node} in the ISR of {topic}/{partition}");
        wait_until(&what, WAIT, || async {
            let p = self.partition(topic, partition).await?;
            if p.isr.contains(&node) {
                Ok(())
            } else {
                Err(format!("{p:?}"))
            }
        })
        .await;
    }

    /// Waits (up to [`WAIT`]) until Metadata from every live node lists `count` brokers: after
    /// a kill, until the controller has fenced the dead node; after a restart, until all are
    /// back.
    pub async fn wait_for_broker_count(&self, count: usize) {
        let what = format!("metadata listing {count} brokers");
        wait_until(&what, WAIT, || async {
            let m = self.metadata(&[]).await?;
            let ids: Vec<i32> = m.brokers.iter().map(|b| b.node_id.0).collect();
            if ids.len() == count {
                Ok(())
            } else {
                Err(format!("brokers {ids:?}"))
            }
        })
        .await;
    }

    /// Makes each replica listed first (the preferred leader) lead its partition, retrying
    /// (up to [`WAIT`]) while it is not yet in the ISR. A partition it already leads counts
    /// as done. Returns once the controller has decided; brokers learn it a moment later
    /// ([`Self::wait_for_leader`]).
    pub async fn elect_preferred_leaders(&self, topic: &str, partitions: &[i32]) {
        self.elect(topic, partitions, 0).await;
    }

    /// Makes a live replica lead each partition even though it is not in the ISR (an unclean
    /// election: records only the old leader had are lost), retrying like
    /// [`Self::elect_preferred_leaders`].
    pub async fn elect_unclean_leaders(&self, topic: &str, partitions: &[i32]) {
        self.elect(topic, partitions, 1).await;
    }

    /// ElectLeaders of `election_type` (0 preferred, 1 unclean) until every partition has
    /// its leader or needs no election.
    async fn elect(&self, topic: &str, partitions: &[i32], election_type: i8) {
        let kind = if election_type == 0 {
            "preferred"
        } else {
            "unclean"
        };
        let what = format!("a {kind} leader election of {topic} {partitions:?}");
        wait_until(&what, WAIT, || async {
            let request = ElectLeadersRequest::default()
                .with_election_type(election_type)
                .with_topic_partitions(Some(vec![TopicPartitions::default()
                    .with_topic(topic_name(topic))
                    .with_partitions(partitions.to_vec())]))
                .with_timeout_ms(timeout_ms());
            let response = self.request(&request).await?;
            let code = ErrorCode(response.error_code);
            if !code.is_ok() {
                return Err(format!("ElectLeaders: {code}"));
            }
            let mut pending = Vec::new();
            for p in partitions {
                let result = response
                    .replica_election_results
                    .iter()
                    .filter(|r| r.topic.0.as_str() == topic)
                    .flat_map(|r| &r.partition_result)
                    .find(|r| r.partition_id == *p)
                    .ok_or_else(|| format!("ElectLeaders: no answer for {topic}/{p}"))?;
                let code = ErrorCode(result.error_code);
                if code.is_ok() || code == ErrorCode::ELECTION_NOT_NEEDED {
                    continue;
                }
                let message = result.error_message.as_deref().unwrap_or("");
                let text = format!("{topic}/{p}: {code} {message}");
                if !code.is_retriable() {
                    panic!("{kind} leader election failed for good: {text}");
                }
                pending.push(text);
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(pending.join("; "))
            }
        })
        .await;
    }

    /// Sets the replicas of `topic`/`partition` to `replicas` (first = preferred leader) and
    /// waits (up to [`WAIT`]) until Metadata shows exactly that list, which is when a move
    /// has finished. A reorder of the same replicas is immediate. The leader does not change
    /// unless it left the list: follow with [`Self::elect_preferred_leaders`].
    pub async fn reassign(&self, topic: &str, partition: i32, replicas: Vec<i32>) {
        let what = format!("{topic}/{partition} reassigned to {replicas:?}");
        let request = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(timeout_ms())
            .with_topics(vec![ReassignableTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![ReassignablePartition::default()
                    .with_partition_index(partition)
                    .with_replicas(Some(
                        replicas.iter().copied().map(BrokerId).collect(),
                    ))])]);
        wait_until(&what, WAIT, || async {
            let response = self.request(&request).await?;
            let code = ErrorCode(response.error_code);
            if !code.is_ok() {
                return Err(format!("AlterPartitionReassignments: {code}"));
            }
            let result = response
                .responses
                .iter()
                .filter(|t| t.name.0.as_str() == topic)
                .flat_map(|t| &t.partitions)
                .find(|p| p.partition_index == partition)
                .ok_or_else(|| format!("no answer for {topic}/{partition}"))?;
            let code = ErrorCode(result.error_code);
            if code.is_ok() {
                return Ok(());
            }
            let text = format!(
                "{topic}/{partition}: {code} {}",
                result.error_message.as_deref().unwrap_or("")
            );
            assert!(code.is_retriable(), "reassignment refused: {text}");
            Err(text)
        })
        .await;
        wait_until(&what, WAIT, || async {
            let p = self.partition(topic, partition).await?;
            if p.replicas == replicas {
                Ok(())
            } else {
                Err(format!("{p:?}"))
            }
        })
        .await;
    }

    /// Sends `request` to the first node that answers: the one that answered last, then
    /// the others in node-id order.
    async fn request<R: Request>(&self, request: &R) -> Result<R::Response, String> {
        let first = self.last_answered.load(Ordering::Relaxed);
        let mut order = self.node_ids();
        order.sort_by_key(|id| *id != first);
        let mut errors = Vec::new();
        for id in order {
            let addr = self.node_addr(id);
            let mut connection =
                match tokio::time::timeout(OPEN_TIMEOUT, AdminConnection::open(addr)).await {
                    Ok(Ok(connection)) => connection,
                    Ok(Err(e)) => {
                        errors.push(e);
                        continue;
                    }
                    Err(_) => {
                        errors.push(format!(
                            "{addr}: no ApiVersions answer within {OPEN_TIMEOUT:?}"
                        ));
                        continue;
                    }
                };
            match tokio::time::timeout(REQUEST_TIMEOUT, connection.send(request)).await {
                Ok(Ok(response)) => {
                    self.last_answered.store(id, Ordering::Relaxed);
                    return Ok(response);
                }
                Ok(Err(e)) => errors.push(e),
                Err(_) => errors.push(format!("{addr}: no answer within {REQUEST_TIMEOUT:?}")),
            }
        }
        Err(errors.join("; "))
    }
}

/// Restarts every node that is down when dropped; see [`Cluster::restart_on_drop`].
#[derive(Debug)]
pub struct RestartOnDrop {
    cluster: Cluster,
}

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        for id in self.cluster.node_ids() {
            // `restart` leaves a node that is up alone, so every node is simply asked; the
            // script bounds its own wait (KAFKA_READY_TIMEOUT).
            let result = std::process::Command::new(&self.cluster.script)
                .args(["restart", &id.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status();
            let failed = match result {
                Ok(status) if status.success() => None,
                Ok(status) => Some(format!("exited with {status}")),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = failed {
                let text = format!("could not bring node {id} back up: {why}");
                if std::thread::panicking() {
                    eprintln!("{text}");
                } else {
                    panic!("{text}");
                }
            }
        }
    }
}

/// The state file of `scripts/kafka-cluster.sh`: `KAFKA_CLUSTER_STATE_FILE`, or
/// `kafka-cluster.env` in the cache dir `scripts/real-kafka.sh` uses too.
pub fn cluster_state_file() -> PathBuf {
    std::env::var_os("KAFKA_CLUSTER_STATE_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| kafka_cache_dir().join("kafka-cluster.env"))
}

/// Calls `probe` every [`POLL`] until it returns `Ok`, for at most `timeout` in all (a probe
/// still running then is dropped); panics with `what` and the last `Err` (what the probe saw)
/// when time is up.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::from("nothing yet");
    loop {
        match tokio::time::timeout_at(deadline, probe()).await {
            Ok(Ok(value)) => return value,
            Ok(Err(seen)) => last = seen,
            Err(_) => last = format!("{last} (then a probe was still running at the deadline)"),
        }
        if tokio::time::Instant::now() + POLL >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

fn partition_state(p: &MetadataResponsePartition) -> PartitionState {
    PartitionState {
        leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
        leader_epoch: p.leader_epoch,
        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
    }
}

fn topic_name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

/// The broker-side timeout put in admin requests: a little under ours, so the broker answers
/// with a timeout error rather than us giving up first.
fn timeout_ms() -> i32 {
    i32::try_from(REQUEST_TIMEOUT.as_millis() * 2 / 3).unwrap_or(i32::MAX)
}

/// One connection for the harness's own requests: ApiVersions v0 first (every broker speaks
/// it), then each request at the highest version both sides speak. Used for one request and
/// dropped.
#[derive(Debug)]
struct AdminConnection {
    addr: String,
    reader: FrameReader<OwnedReadHalf>,
    writer: FrameWriter<OwnedWriteHalf>,
    /// `(api key, min, max)` as the broker advertised them.
    versions: Vec<(i16, i16, i16)>,
    next_correlation_id: i32,
}

impl AdminConnection {
    const MAX_FRAME: usize = 64 << 20;

    async fn open(addr: &str) -> Result<AdminConnection, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("{addr}: connect: {e}"))?;
        let (read, write) = stream.into_split();
        let mut connection = AdminConnection {
            addr: addr.to_owned(),
            reader: FrameReader::new(read, Self::MAX_FRAME),
            writer: FrameWriter::new(write),
            versions: Vec::new(),
            next_correlation_id: 1,
        };
        let versions = connection
            .round_trip(&ApiVersionsRequest::default(), 0)
            .await?;
        let code = ErrorCode(versions.error_code);
        if !code.is_ok() {
            return Err(format!("{addr}: ApiVersions: {code}"));
        }
        connection.versions = versions
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        Ok(connection)
    }

    async fn send<R: Request>(&mut self, request: &R) -> Result<R::Response, String> {
        let (_, min, max) = self
            .versions
            .iter()
            .copied()
            .find(|(key, _, _)| *key == R::KEY)
            .ok_or_else(|| format!("{}: broker does not speak api key {}", self.addr, R::KEY))?;
        let version = max.min(R::VERSIONS.max);
        if version < min.max(R::VERSIONS.min) {
            return Err(format!(
                "{}: no common version of api key {} (broker {min}..={max})",
                self.addr,
                R::KEY
            ));
        }
        self.round_trip(request, version).await
    }

    async fn round_trip<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, String> {
        let addr = &self.addr;
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let mut body = BytesMut::new();
        RequestHeader {
            api_key: R::KEY,
            api_version: version,
            correlation_id,
            client_id: Some("ferrokafka-interop-cluster".to_owned()),
        }
        .encode(&mut body);
        request
            .encode(&mut body, version)
            .map_err(|e| format!("{addr}: encode api key {} v{version}: {e}", R::KEY))?;
        self.writer
            .write_frame(&body)
            .await
            .map_err(|e| format!("{addr}: write: {e}"))?;
        let mut response = self
            .reader
            .read_frame()
            .await
            .map_err(|e| format!("{addr}: read: {e}"))?
            .ok_or_else(|| format!("{addr}: connection closed before the answer"))?;
        let got = decode_response_header(&mut response, response_header_version(R::KEY, version))
            .map_err(|e| format!("{addr}: response header: {e}"))?;
        if got != correlation_id {
            return Err(format!(
                "{addr}: correlation id {got}, expected {correlation_id}"
            ));
        }
        R::Response::decode(&mut response, version)
            .map_err(|e| format!("{addr}: decode api key {} v{version}: {e}", R::KEY))
    }
}
