//! [`Client`]: bootstrap, the cluster view, and a connection per broker.
//!
//! The client is the shared core under the producer, the consumer and the admin helpers: it
//! knows which broker leads which partition and holds one pipelined connection per broker.
//! Metadata is fetched on connect, on demand ([`Client::metadata`], or when
//! [`Client::leader_for`] does not know a leader) and on a timer (`metadata.max.age.ms`), by a
//! background task that stops with [`Client::close`] or when the last handle is dropped.
//!
//! Cancellation: every future here may be dropped. Shared state (the cluster view, the pool)
//! is only ever swapped whole, so a dropped call leaves nothing half-updated; a request that was
//! already handed to a connection may still reach the broker (a dropped `create_topics` may
//! still create its topics).
//!
//! Routing: a request for a particular broker (a partition's leader, a coordinator) goes
//! there with [`Client::send_to`]; a request that any broker can answer (Metadata,
//! FindCoordinator, InitProducerId without a transactional id, admin requests that are not
//! bound to the controller) goes with [`Client::send_to_any`] to the least-loaded broker, as
//! Java's client picks it: connected before connectable before in backoff, then fewest
//! requests in flight. When that broker fails the next is tried, and when every known broker
//! has failed, the bootstrap servers. So no request depends on one particular broker being up.
//!
//! Auto-creation: Metadata requests ask the broker to create the topics they name only on a
//! client whose producer or consumer allows it (`allow.auto.create.topics`, set through
//! `Client::allow_auto_create_topics`); a client from [`Client::connect`] alone, as the
//! admin helpers use, never does, as Java's admin client.
//!
//! What not: no retries of user requests (the producer and consumer own their retry policy).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, FindCoordinatorRequest, FindCoordinatorResponse,
    TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::connection::backoff::Backoff;
use crate::connection::pool::ConnectionPool;
use crate::connection::Connection;
use crate::error::Error;
use crate::metadata::{self, Broker, Cluster, Interest};

/// A handle to a Kafka cluster. Cheap to clone; clones share connections and metadata.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    pool: ConnectionPool,
    cluster: RwLock<Arc<Cluster>>,
    interest: Mutex<Interest>,
    /// The interest the current cluster view was fetched for, and when that fetch began.
    fetched_for: Mutex<(Interest, Instant)>,
    /// Serializes refreshes: concurrent callers wait for one request instead of each sending.
    refreshing: tokio::sync::Mutex<()>,
    closed: watch::Sender<bool>,
    refresher: Mutex<Option<JoinHandle<()>>>,
    /// Rotates where ties in [`Inner::by_load`] start, so equally loaded brokers share work.
    rotation: AtomicUsize,
    /// Whether Metadata requests ask the broker to create the topics they name.
    auto_create: AtomicBool,
}

/// What a coordinator coordinates: the key type of FindCoordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorType {
    /// A consumer group (key type 0).
    Group,
    /// A transactional id (key type 1).
    Transaction,
}

impl CoordinatorType {
    fn key_type(self) -> i8 {
        match self {
            CoordinatorType::Group => 0,
            CoordinatorType::Transaction => 1,
        }
    }
}

/// A response, with the broker that gave it and the version it was read at.
#[derive(Debug)]
pub(crate) struct Answer<T> {
    pub(crate) response: T,
    pub(crate) broker: String,
    pub(crate) version: i16,
}

/// A topic for [`Client::create_topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    name: String,
    partitions: i32,
    replication_factor: i16,
    assignments: Vec<(i32, Vec<i32>)>,
    configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with the broker's default partitions and replication factor.
    pub fn new(name: impl Into<String>) -> Self {
        NewTopic {
            name: name.into(),
            partitions: -1,
            replication_factor: -1,
            assignments: Vec::new(),
            configs: Vec::new(),
        }
    }

    /// Number of partitions.
    pub fn partitions(mut self, n: i32) -> Self {
        self.partitions = n;
        self
    }

    /// Replication factor.
    pub fn replication_factor(mut self, n: i16) -> Self {
        self.replication_factor = n;
        self
    }

    /// Places `partition` on `replicas` (node ids, preferred leader first), as Java's
    /// `NewTopic(name, replicasAssignments)`. A topic with assignments takes its partition
    /// count and replication factor from them: give every partition from 0 up, and leave
    /// [`partitions`](Self::partitions) and [`replication_factor`](Self::replication_factor)
    /// unset (the broker refuses both together).
    pub fn assignment(mut self, partition: i32, replicas: Vec<i32>) -> Self {
        self.assignments.push((partition, replicas));
        self
    }

    /// A topic config, e.g. `("cleanup.policy", "compact")`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

impl Client {
    /// Validates `config`, fetches metadata from the first bootstrap server that answers, and
    /// starts the periodic refresh.
    pub async fn connect(config: ClientConfig) -> Result<Client, Error> {
        config.validate()?;
        let inner = Arc::new(Inner {
            pool: ConnectionPool::new(config.clone()),
            config,
            cluster: RwLock::new(Arc::new(Cluster::empty())),
            interest: Mutex::new(Interest::default()),
            fetched_for: Mutex::new((Interest::default(), Instant::now())),
            refreshing: tokio::sync::Mutex::new(()),
            closed: watch::channel(false).0,
            refresher: Mutex::new(None),
            rotation: AtomicUsize::new(0),
            auto_create: AtomicBool::new(false),
        });
        inner.refresh().await?;
        let task = tokio::spawn(refresh_loop(
            Arc::downgrade(&inner),
            inner.closed.subscribe(),
        ));
        *lock(&inner.refresher) = Some(task);
        Ok(Client { inner })
    }

    /// Lets this client's Metadata requests ask for the creation of the topics they name, as
    /// the producer or consumer using it allows (`allow.auto.create.topics`); off by default.
    pub(crate) fn allow_auto_create_topics(&self, on: bool) {
        self.inner.auto_create.store(on, Ordering::Relaxed);
    }

    /// The config this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The current cluster view, without any I/O.
    pub fn cluster(&self) -> Arc<Cluster> {
        self.inner.cluster()
    }

    /// Fetches fresh metadata for `topics` (an empty slice means all topics) and returns the
    /// new cluster view. The topics are remembered and kept fresh by the periodic refresh.
    pub async fn metadata(&self, topics: &[&str]) -> Result<Arc<Cluster>, Error> {
        self.inner.check_open()?;
        lock(&self.inner.interest).add(topics);
        self.inner.refresh().await
    }

    /// The node id of the leader of `topic`/`partition`, refreshing metadata once if the cached
    /// view does not know it.
    ///
    /// Errors are [`Error::Kafka`] naming the topic and partition: `UNKNOWN_TOPIC_OR_PARTITION`
    /// or `LEADER_NOT_AVAILABLE` (both retriable) or the topic's own error.
    pub async fn leader_for(&self, topic: &str, partition: i32) -> Result<i32, Error> {
        self.inner.check_open()?;
        if let Ok(leader) = self.inner.cluster().leader(topic, partition) {
            return Ok(leader);
        }
        self.metadata(&[topic]).await?.leader(topic, partition)
    }

    /// Whether `node_id` can take a request now, without waiting out a reconnect backoff
    /// after failed dials.
    pub(crate) fn node_usable(&self, node_id: i32) -> bool {
        !self.inner.pool.in_backoff(node_id)
    }

    /// The connection to `node_id`, opened (after any reconnect backoff) if needed.
    pub async fn connection(&self, node_id: i32) -> Result<Arc<Connection>, Error> {
        self.inner.check_open()?;
        let addr = self
            .inner
            .cluster()
            .broker(node_id)
            .map(|b| b.address())
            .ok_or(Error::UnknownBroker { node_id })?;
        self.inner.pool.get(node_id, &addr).await
    }

    /// Sends `request` to broker `node_id` and returns its response. Not retried.
    ///
    /// `request.timeout.ms` bounds the request on the connection; opening the connection
    /// first (reconnect backoff, `socket.connection.setup.timeout.ms`, version negotiation)
    /// comes on top.
    pub async fn send_to<R: Request>(
        &self,
        node_id: i32,
        request: R,
    ) -> Result<R::Response, Error> {
        self.connection(node_id).await?.send(request).await
    }

    /// Sends `request` to whichever broker answers first in least-loaded order (see the
    /// module docs), falling back to the next broker on a transport failure and to the
    /// bootstrap servers when every known broker failed. For requests any broker can answer;
    /// Kafka errors in the response are the caller's to read. Not retried beyond that.
    pub async fn send_to_any<R>(&self, request: R) -> Result<R::Response, Error>
    where
        R: Request + Clone,
    {
        Ok(self.send_any_with(|_| request.clone()).await?.response)
    }

    /// Like [`Client::send_to_any`], for requests whose fields depend on the version: `build`
    /// gets the version negotiated with the broker that is asked.
    pub(crate) async fn send_any_with<R, F>(&self, build: F) -> Result<Answer<R::Response>, Error>
    where
        R: Request,
        F: Fn(i16) -> R,
    {
        self.inner.check_open()?;
        self.inner.send_any(build).await
    }

    /// Asks any broker (as [`Client::send_to_any`]) which broker coordinates `key`: a group id
    /// or a transactional id. Refreshes metadata when the answer names a broker the cluster
    /// view does not know yet. One lookup, not retried: COORDINATOR_NOT_AVAILABLE and
    /// COORDINATOR_LOAD_IN_PROGRESS come back as retriable [`Error::Kafka`]s.
    pub async fn find_coordinator(
        &self,
        kind: CoordinatorType,
        key: &str,
    ) -> Result<Broker, Error> {
        let answer = self
            .send_any_with(|version| {
                let mut req = FindCoordinatorRequest::default().with_key_type(kind.key_type());
                if version >= 4 {
                    req.coordinator_keys = vec![StrBytes::from_string(key.to_owned())];
                } else {
                    req.key = StrBytes::from_string(key.to_owned());
                }
                req
            })
            .await?;
        let named = coordinator_in(&answer, key)?;
        // The answer's address is the current one; a broker our view lacks is a sign that
        // the view is stale, and callers may route by node id afterwards.
        if self.inner.cluster().broker(named.node_id).is_none() {
            if let Err(err) = self.inner.refresh().await {
                tracing::debug!(%err, node = named.node_id, "metadata refresh for a new coordinator failed");
            }
        }
        Ok(named)
    }

    /// Sends a controller-bound request (topic creation, deletion, growth): to the controller
    /// Metadata names, and when it is unknown or that fails with a retriable error, to any
    /// broker (KRaft brokers forward such requests to the active controller). `build` gets
    /// the version negotiated with the broker asked.
    pub(crate) async fn send_to_controller<R, F>(&self, build: F) -> Result<R::Response, Error>
    where
        R: Request,
        F: Fn(i16) -> R,
    {
        self.inner.check_open()?;
        let controller = self.inner.cluster().controller;
        let sent = match controller {
            Some(node) => match self.connection(node).await {
                Ok(conn) => conn.send_with(&build).await,
                Err(err) => Err(err),
            },
            None => Err(Error::UnknownBroker { node_id: -1 }),
        };
        match sent {
            Ok(response) => Ok(response),
            Err(err) if err.is_retriable() => {
                tracing::debug!(?controller, %err, "the controller did not take the request; asking any broker");
                Ok(self.inner.send_any(&build).await?.response)
            }
            Err(err) => Err(err),
        }
    }

    /// Creates topics, sending to the controller (or any broker when none is known). Returns,
    /// per topic in the order given, `Ok` or the broker's error for that topic, for instance
    /// `TOPIC_ALREADY_EXISTS`. The outer error is for the request as a whole.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
    ) -> Result<Vec<(String, Result<(), Error>)>, Error> {
        self.inner.check_open()?;
        let timeout_ms =
            i32::try_from(self.inner.config.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let request = CreateTopicsRequest::default()
            .with_topics(topics.iter().map(creatable).collect())
            .with_timeout_ms(timeout_ms);
        let response = self.send_to_controller(|_| request.clone()).await?;
        Ok(topics
            .iter()
            .map(|topic| {
                let result = response
                    .topics
                    .iter()
                    .find(|t| t.name.0.as_str() == topic.name)
                    .map_or_else(
                        || {
                            Err(Error::Kafka {
                                code: ferrokafka_protocol::ErrorCode::UNKNOWN_SERVER_ERROR,
                                message: Some("the broker did not answer for this topic".into()),
                                topic: Some(topic.name.clone()),
                                partition: None,
                            })
                        },
                        |t| {
                            Error::check_at(
                                t.error_code,
                                t.error_message.as_deref(),
                                Some(&topic.name),
                                None,
                            )
                        },
                    );
                (topic.name.clone(), result)
            })
            .collect())
    }

    /// Stops the periodic refresh and closes every connection. Calls on this client (and its
    /// clones) afterwards fail with [`Error::Closed`]. Requests already in flight fail with
    /// [`Error::Disconnected`].
    pub async fn close(&self) {
        self.inner.closed.send_replace(true);
        let task = lock(&self.inner.refresher).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        self.inner.pool.close_all().await;
    }
}

fn creatable(topic: &NewTopic) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(topic.name.clone())))
        .with_num_partitions(topic.partitions)
        .with_replication_factor(topic.replication_factor)
        .with_assignments(
            topic
                .assignments
                .iter()
                .map(|(partition, replicas)| {
                    CreatableReplicaAssignment::default()
                        .with_partition_index(*partition)
                        .with_broker_ids(replicas.iter().map(|id| BrokerId(*id)).collect())
                })
                .collect(),
        )
        .with_configs(
            topic
                .configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.clone()))
                        .with_value(Some(StrBytes::from_string(v.clone())))
                })
                .collect(),
        )
}

/// Errors after which a coordinator (group or transaction) must be looked up again: it said
/// it is not (or not yet) the coordinator, or it could not be reached.
pub(crate) fn coordinator_gone(err: &Error) -> bool {
    match err {
        Error::Kafka { code, .. } => {
            *code == ErrorCode::NOT_COORDINATOR || *code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        }
        Error::Io { .. }
        | Error::Timeout { .. }
        | Error::Disconnected { .. }
        | Error::UnknownBroker { .. } => true,
        _ => false,
    }
}

/// Locks a std mutex, recovering from poisoning: every critical section here is a plain
/// read or assignment that cannot leave the data inconsistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn cluster(&self) -> Arc<Cluster> {
        Arc::clone(&self.cluster.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn check_open(&self) -> Result<(), Error> {
        if *self.closed.borrow() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Fetches metadata for the current interest and swaps in the new view.
    async fn refresh(&self) -> Result<Arc<Cluster>, Error> {
        let started = Instant::now();
        let _guard = self.refreshing.lock().await;
        let interest = lock(&self.interest).clone();
        // Someone else's refresh, begun after we were called and covering the same topics,
        // finished while we waited for the lock: its answer is as fresh as ours would be.
        {
            let (fetched_for, began) = &*lock(&self.fetched_for);
            if *began > started && *fetched_for == interest {
                return Ok(self.cluster());
            }
        }
        let began = Instant::now();
        let auto_create = self.auto_create.load(Ordering::Relaxed);
        let answer = self
            .send_any(|version| metadata::request(&interest, version, auto_create))
            .await?;
        let previous = self.cluster();
        let next = Arc::new(metadata::update(
            &previous,
            &interest,
            answer.response,
            (&answer.broker, answer.version),
        )?);
        *self.cluster.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&next);
        *lock(&self.fetched_for) = (interest, began);
        tracing::debug!(
            brokers = next.brokers.len(),
            topics = next.topics.len(),
            took = ?started.elapsed(),
            "metadata refreshed"
        );
        Ok(next)
    }

    /// Known brokers, best first: connected, then idle, then in backoff; within each, fewest
    /// requests in flight; ties start at a rotating place.
    fn by_load(&self) -> Vec<(i32, String)> {
        let cluster = self.cluster();
        let mut nodes: Vec<_> = cluster
            .brokers
            .values()
            .map(|b| (self.pool.load(b.node_id), b.node_id, b.address()))
            .collect();
        if !nodes.is_empty() {
            let turn = self.rotation.fetch_add(1, Ordering::Relaxed) % nodes.len();
            nodes.rotate_left(turn);
        }
        nodes.sort_by_key(|(load, _, _)| *load);
        nodes.into_iter().map(|(_, id, addr)| (id, addr)).collect()
    }

    /// Sends a request built by `build` (given the negotiated version) to the least-loaded
    /// broker, then the next on a transport failure, then the bootstrap servers.
    pub(crate) async fn send_any<R, F>(&self, build: F) -> Result<Answer<R::Response>, Error>
    where
        R: Request,
        F: Fn(i16) -> R,
    {
        let mut tried = Vec::new();
        for (node_id, addr) in self.by_load() {
            let attempt = async {
                let conn = self.pool.get(node_id, &addr).await?;
                answer(&conn, &build).await
            };
            match attempt.await {
                Ok(answer) => return Ok(answer),
                Err(err) => tried.push(format!("node {node_id} at {addr}: {err}")),
            }
        }
        for addr in &self.config.bootstrap_servers {
            // Set on the field directly, an entry may still carry a `PLAINTEXT://` prefix.
            let addr = crate::config::server_address(addr);
            let attempt = async {
                let conn = Connection::connect(addr, &self.config).await?;
                let answer = answer(&conn, &build).await;
                conn.close().await;
                answer
            };
            match attempt.await {
                Ok(answer) => return Ok(answer),
                Err(err) => tried.push(format!("bootstrap server {addr}: {err}")),
            }
        }
        Err(Error::NoBrokerReachable { tried })
    }
}

async fn answer<R, F>(conn: &Connection, build: F) -> Result<Answer<R::Response>, Error>
where
    R: Request,
    F: Fn(i16) -> R,
{
    let version = ApiKey::try_from(R::KEY)
        .ok()
        .and_then(|api| conn.api_version(api));
    let response = conn.send_with(build).await?;
    Ok(Answer {
        response,
        broker: conn.broker().to_owned(),
        version: version.unwrap_or(-1),
    })
}

/// The coordinator of `key` in a FindCoordinator answer (v4+: one entry per key; before: the
/// top-level fields), as an error when it names none.
fn coordinator_in(answer: &Answer<FindCoordinatorResponse>, key: &str) -> Result<Broker, Error> {
    let r = &answer.response;
    let (code, message, node_id, host, port) = if answer.version >= 4 {
        match r.coordinators.iter().find(|c| c.key.as_str() == key) {
            Some(c) => (
                c.error_code,
                c.error_message.as_deref(),
                c.node_id.0,
                &c.host,
                c.port,
            ),
            None => {
                return Err(Error::MalformedResponse {
                    broker: answer.broker.clone(),
                    api: ApiKey::FindCoordinator,
                    version: answer.version,
                    reason: format!("no entry for key {key}"),
                })
            }
        }
    } else {
        (
            r.error_code,
            r.error_message.as_deref(),
            r.node_id.0,
            &r.host,
            r.port,
        )
    };
    Error::check(code, message)?;
    let valid_port = u16::try_from(port).ok().filter(|_| node_id >= 0);
    let Some(valid_port) = valid_port else {
        return Err(Error::Kafka {
            code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
            message: Some(format!(
                "FindCoordinator named node {node_id} at port {port}"
            )),
            topic: None,
            partition: None,
        });
    };
    Ok(Broker::new(node_id, host.to_string(), valid_port, None))
}

/// Refreshes metadata whenever it is older than `metadata.max.age.ms`; after a failure, retries
/// with the reconnect backoff. Holds only a weak handle between rounds, so dropping the last
/// [`Client`] ends it.
async fn refresh_loop(inner: Weak<Inner>, mut closed: watch::Receiver<bool>) {
    let mut failures: u32 = 0;
    loop {
        let wait = {
            let Some(inner) = inner.upgrade() else { return };
            let config = &inner.config;
            if failures > 0 {
                Backoff::new(config.reconnect_backoff, config.reconnect_backoff_max)
                    .delay(failures - 1)
            } else {
                let age = inner.cluster().fetched_at.elapsed();
                config.metadata_max_age.saturating_sub(age)
            }
        };
        tokio::select! {
            // Err means every sender is gone: the client was dropped.
            _ = closed.wait_for(|closed| *closed) => return,
            () = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        if failures == 0 && inner.cluster().fetched_at.elapsed() < inner.config.metadata_max_age {
            continue; // someone refreshed while we slept
        }
        match inner.refresh().await {
            Ok(_) => failures = 0,
            Err(err) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%err, failures, "periodic metadata refresh failed");
            }
        }
    }
}
