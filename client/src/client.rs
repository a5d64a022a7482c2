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
//! What not: no retries of user requests (the producer and consumer own their retry policy),
//! no request routing beyond "send to this node".

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::connection::backoff::Backoff;
use crate::connection::pool::{ConnectionPool, Readiness};
use crate::connection::Connection;
use crate::error::Error;
use crate::metadata::{self, Cluster, Interest};

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
}

/// A topic for [`Client::create_topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    name: String,
    partitions: i32,
    replication_factor: i16,
    configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with the broker's default partitions and replication factor.
    pub fn new(name: impl Into<String>) -> Self {
        NewTopic {
            name: name.into(),
            partitions: -1,
            replication_factor: -1,
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
        });
        inner.refresh().await?;
        let task = tokio::spawn(refresh_loop(
            Arc::downgrade(&inner),
            inner.closed.subscribe(),
        ));
        *lock(&inner.refresher) = Some(task);
        Ok(Client { inner })
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

    /// Creates topics, sending to the controller (or any broker when none is known). Returns,
    /// per topic in the order given, `Ok` or the broker's error for that topic, for instance
    /// `TOPIC_ALREADY_EXISTS`. The outer error is for the request as a whole.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
    ) -> Result<Vec<(String, Result<(), Error>)>, Error> {
        self.inner.check_open()?;
        let node = {
            let cluster = self.inner.cluster();
            cluster
                .controller
                .filter(|id| cluster.brokers.contains_key(id))
                .or_else(|| cluster.brokers.keys().next().copied())
                .ok_or_else(|| Error::NoBrokerReachable { tried: Vec::new() })?
        };
        let timeout_ms =
            i32::try_from(self.inner.config.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let request = CreateTopicsRequest::default()
            .with_topics(topics.iter().map(creatable).collect())
            .with_timeout_ms(timeout_ms);
        let response = self.send_to(node, request).await?;
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

/// Locks a std mutex, recovering from poisoning: every critical section here is a plain
/// read or assignment that cannot leave the data inconsistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
        let (response, from) = self.fetch(&interest).await?;
        let previous = self.cluster();
        let next = Arc::new(metadata::update(
            &previous,
            &interest,
            response,
            (&from.0, from.1),
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

    /// Sends one Metadata request, to the best broker that answers: connected brokers first,
    /// then idle ones, then those in backoff; the bootstrap servers when no known broker
    /// answers (or none is known yet).
    async fn fetch(&self, interest: &Interest) -> Result<(MetadataResponse, (String, i16)), Error> {
        let cluster = self.cluster();
        let mut nodes: Vec<(Readiness, i32, String)> = cluster
            .brokers
            .values()
            .map(|b| (self.pool.readiness(b.node_id), b.node_id, b.address()))
            .collect();
        nodes.sort();
        let mut tried = Vec::new();
        for (_, node_id, addr) in nodes {
            let attempt = async {
                let conn = self.pool.get(node_id, &addr).await?;
                ask_metadata(&conn, interest).await
            };
            match attempt.await {
                Ok(found) => return Ok(found),
                Err(err) => tried.push(format!("node {node_id} at {addr}: {err}")),
            }
        }
        for addr in &self.config.bootstrap_servers {
            let attempt = async {
                let conn = Connection::connect(addr, &self.config).await?;
                let found = ask_metadata(&conn, interest).await;
                conn.close().await;
                found
            };
            match attempt.await {
                Ok(found) => return Ok(found),
                Err(err) => tried.push(format!("bootstrap server {addr}: {err}")),
            }
        }
        Err(Error::NoBrokerReachable { tried })
    }
}

async fn ask_metadata(
    conn: &Connection,
    interest: &Interest,
) -> Result<(MetadataResponse, (String, i16)), Error> {
    let version = conn.api_version(ApiKey::Metadata).unwrap_or(-1);
    let response = conn
        .send_with(|version| metadata::request(interest, version))
        .await?;
    Ok((response, (conn.broker().to_owned(), version)))
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
