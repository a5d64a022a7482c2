//! A small, in-memory, Kafka-compatible broker for tests and CI.
//!
//! Start one inside a Rust test with [`MiniBroker::start`] (or [`MiniBroker::builder`] to change
//! settings), point any Kafka client at [`MiniBroker::bootstrap`], and call
//! [`MiniBroker::shutdown`] at the end. The `mini-broker` binary runs the same broker as a
//! process for pipelines in other languages.
//!
//! It is one node that leads every partition and keeps data in memory. `docs/mini-broker.md`
//! lists the APIs and versions it answers and what it leaves out.

// Network input must never panic: no unwrap, expect, panic or unchecked indexing outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod faults;
pub mod handlers;
mod server;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Faults, When};
pub use kafka_protocol::messages::ApiKey;
pub use state::ConnectionStats;
use state::{BrokerState, Endpoint};

/// Settings of one mini-broker. Defaults suit tests: loopback, a free port, auto-created topics
/// with one partition.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Host advertised to clients in Metadata; defaults to the listen address's IP.
    pub advertised_host: Option<String>,
    /// This broker's node id.
    pub node_id: i32,
    /// The cluster id reported to clients.
    pub cluster_id: String,
    /// Partitions of auto-created topics and of CreateTopics with `-1` (`num.partitions`).
    pub default_partitions: i32,
    /// Create unknown topics on Metadata and Produce (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Bytes of data kept in memory per partition before the oldest batches are dropped.
    pub partition_retention_bytes: usize,
    /// Largest request frame accepted (`socket.request.max.bytes`).
    pub max_frame_size: usize,
    /// Shortest session timeout a group member may ask for (`group.min.session.timeout.ms`,
    /// 6 s); tests lower it to see evictions quickly.
    pub group_min_session_timeout: Duration,
    /// Longest session timeout a group member may ask for (`group.max.session.timeout.ms`,
    /// 30 min).
    pub group_max_session_timeout: Duration,
    /// Longest transaction timeout a producer may ask for (`transaction.max.timeout.ms`,
    /// 15 min); InitProducerId with a longer one gets INVALID_TRANSACTION_TIMEOUT.
    pub transaction_max_timeout: Duration,
    /// How often open transactions are checked against their timeouts and aborted
    /// (`transaction.abort.timed.out.transaction.cleanup.interval.ms`, 10 s); tests lower it.
    pub transaction_abort_interval: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertised_host: None,
            node_id: 1,
            cluster_id: "ferrokafka-mini-broker".to_owned(),
            default_partitions: 1,
            auto_create_topics: true,
            partition_retention_bytes: 256 * 1024 * 1024,
            max_frame_size: ferrokafka_protocol::frame::DEFAULT_MAX_FRAME_SIZE,
            group_min_session_timeout: Duration::from_millis(6_000),
            group_max_session_timeout: Duration::from_millis(1_800_000),
            transaction_max_timeout: Duration::from_millis(900_000),
            transaction_abort_interval: Duration::from_millis(10_000),
        }
    }
}

/// Builds a [`MiniBroker`] with non-default settings.
#[derive(Debug, Default)]
pub struct MiniBrokerBuilder {
    config: BrokerConfig,
}

impl MiniBrokerBuilder {
    /// Address to listen on (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = addr;
        self
    }

    /// Host name advertised to clients (default: the listen IP).
    pub fn advertised_host(mut self, host: impl Into<String>) -> Self {
        self.config.advertised_host = Some(host.into());
        self
    }

    /// Partitions of auto-created topics (default 1).
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.config.default_partitions = n;
        self
    }

    /// Whether unknown topics are created on first use (default true).
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.config.auto_create_topics = on;
        self
    }

    /// Bytes kept in memory per partition (default 256 MiB).
    pub fn partition_retention_bytes(mut self, bytes: usize) -> Self {
        self.config.partition_retention_bytes = bytes;
        self
    }

    /// Largest request accepted (default 100 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// Shortest session timeout group members may use (default 6 s, as Kafka).
    pub fn group_min_session_timeout(mut self, timeout: Duration) -> Self {
        self.config.group_min_session_timeout = timeout;
        self
    }

    /// How often timed-out transactions are looked for (default 10 s, as Kafka).
    pub fn transaction_abort_interval(mut self, interval: Duration) -> Self {
        self.config.transaction_abort_interval = interval;
        self
    }

    /// The whole config at once.
    pub fn config(mut self, config: BrokerConfig) -> Self {
        self.config = config;
        self
    }

    /// Binds the listener and starts serving.
    pub async fn start(self) -> std::io::Result<MiniBroker> {
        let listener = TcpListener::bind(self.config.listen).await?;
        let addr = listener.local_addr()?;
        let host = self
            .config
            .advertised_host
            .clone()
            .unwrap_or_else(|| addr.ip().to_string());
        let endpoint = Endpoint {
            host,
            port: i32::from(addr.port()),
        };
        let state = Arc::new(BrokerState::new(self.config, endpoint));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let faults = Faults::default();
        let txn_timeouts = tokio::spawn(state::transactions::abort_timed_out(
            Arc::clone(&state),
            state.config.transaction_abort_interval,
            shutdown_rx.clone(),
        ));
        let task = tokio::spawn(server::run(
            listener,
            Arc::clone(&state),
            faults.clone(),
            shutdown_rx,
        ));
        tracing::info!(%addr, "mini-broker listening");
        Ok(MiniBroker {
            addr,
            state,
            faults,
            shutdown_tx,
            task: Some(task),
            txn_timeouts: Some(txn_timeouts),
        })
    }
}

/// A running mini-broker. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct MiniBroker {
    addr: SocketAddr,
    state: Arc<BrokerState>,
    faults: Faults,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// Aborts timed-out transactions; ends with the shutdown signal.
    txn_timeouts: Option<JoinHandle<()>>,
}

impl MiniBroker {
    /// A builder with default settings.
    pub fn builder() -> MiniBrokerBuilder {
        MiniBrokerBuilder::default()
    }

    /// Starts a broker with default settings on a free loopback port.
    pub async fn start() -> std::io::Result<MiniBroker> {
        Self::builder().start().await
    }

    /// The `host:port` to give clients as `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("{}:{}", self.state.endpoint.host, self.state.endpoint.port)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The broker's state, for tests that inspect it.
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Faults to inject, for tests that prove a client recovers from them.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Stops accepting, closes every connection, and waits until all are closed.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            if let Err(err) = task.await {
                tracing::error!(%err, "mini-broker task failed");
            }
        }
        if let Some(task) = self.txn_timeouts.take() {
            if let Err(err) = task.await {
                tracing::error!(%err, "transaction timeout task failed");
            }
        }
    }
}

impl Drop for MiniBroker {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}
