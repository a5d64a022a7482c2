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

pub mod connection;
mod faults;
pub mod handlers;
mod log_throttle;
pub mod security;
mod server;
pub mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Faults, When};
pub use ferrokafka_protocol::sasl::Mechanism;
pub use kafka_protocol::messages::ApiKey;
use security::sasl::SaslSettings;
use security::tls::TlsServer;
pub use security::tls::TlsSource;
pub use security::users::{LiveUsers, UserStore};
pub use security::{ListenerSpec, SecurityProtocol};
pub use state::disk::FsyncPolicy;
pub use state::ConnectionStats;
use state::{BrokerState, Endpoint};

/// Settings of one mini-broker. Defaults suit tests: one PLAINTEXT listener on loopback, a
/// free port, auto-created topics with one partition.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The listeners to open, at most one per security protocol (`listeners`); port 0 picks a
    /// free port. Default: PLAINTEXT on `127.0.0.1:0`.
    pub listeners: Vec<ListenerSpec>,
    /// Host advertised to clients in Metadata (`advertised.listeners`), for every listener;
    /// defaults to each listener's bound IP.
    pub advertised_host: Option<String>,
    /// The certificate of the SSL and SASL_SSL listeners.
    pub tls: Option<TlsSource>,
    /// How long a client has to complete the TLS handshake (10 s); tests lower it.
    pub tls_handshake_timeout: Duration,
    /// Who may log in with PLAIN and SCRAM on the SASL listeners (salted credentials only).
    pub sasl_users: UserStore,
    /// The mechanisms each SASL listener enables (`listener.name.*.sasl.enabled.mechanisms`);
    /// a SASL listener not named here enables all four.
    pub sasl_enabled_mechanisms: BTreeMap<SecurityProtocol, Vec<Mechanism>>,
    /// `connections.max.reauth.ms`: the longest an authenticated session lasts before the
    /// client must re-authenticate; zero (the default) means sessions do not expire, unless an
    /// OAUTHBEARER token does.
    pub connections_max_reauth: Duration,
    /// How long a client on a SASL listener has to authenticate, and to re-authenticate
    /// (10 s).
    pub sasl_auth_timeout: Duration,
    /// `max.connections`: the most connections open at once, over all listeners (default
    /// [`DEFAULT_MAX_CONNECTIONS`]; Kafka's is unlimited). One more is closed as soon as it
    /// is accepted, with a warning naming the limit.
    pub max_connections: usize,
    /// `connections.max.idle.ms`: a connection that sends no request for this long, while
    /// none of its requests is being answered, is closed (default 10 min, as Kafka); zero
    /// never closes idle connections.
    pub connections_max_idle: Duration,
    /// This broker's node id.
    pub node_id: i32,
    /// The cluster id reported to clients.
    pub cluster_id: String,
    /// Partitions of auto-created topics and of CreateTopics with `-1` (`num.partitions`).
    pub default_partitions: i32,
    /// The most partitions the broker holds, over all topics (default
    /// [`DEFAULT_MAX_PARTITIONS`]; Kafka has no such limit). CreateTopics and CreatePartitions
    /// past it get POLICY_VIOLATION; auto-creation past it does not happen.
    pub max_partitions: usize,
    /// Create unknown topics on Metadata and Produce (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Bytes of data kept in memory per partition before the oldest batches are dropped.
    pub partition_retention_bytes: usize,
    /// The most bytes of record data held over all partitions (`--max-memory`); writes past
    /// it get KAFKA_STORAGE_ERROR naming the budget (see `state/memory.rs`). Default: half of
    /// the machine's memory ([`state::memory::default_limit`]).
    pub max_memory: usize,
    /// `--data-dir`: where partition logs, topics and committed offsets are kept and read
    /// back at start (`state/disk.rs`); `None` (the default) keeps everything in memory only.
    pub data_dir: Option<PathBuf>,
    /// `--fsync`: when appends reach the disk with a data dir (default: the page cache, as
    /// Kafka).
    pub fsync: FsyncPolicy,
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
    /// The finalized `transaction.version` ApiVersions states: 2 (Kafka 4.x's default) has
    /// clients run transaction version 2 (KIP-890); 1 (or 0) has them keep version 1, as a
    /// Kafka formatted with `--feature transaction.version=1`. Both are served either way,
    /// per request version.
    pub transaction_version: i16,
    /// `retention.ms` of topics that do not set it (Kafka's `log.retention.ms`: 7 days; -1
    /// keeps records forever).
    pub log_retention_ms: i64,
    /// How often time retention runs (`log.retention.check.interval.ms`, Kafka's 5 min).
    pub log_retention_check_interval: Duration,
    /// How often the log cleaner passes over compacted topics (`log.cleaner.backoff.ms`,
    /// Kafka's 15 s).
    pub log_cleaner_backoff: Duration,
}

/// Default of [`BrokerConfig::max_connections`]: below the usual soft limit of 1,024 file
/// descriptors, so a crowd of clients meets the limit (and a clear log line) before the
/// process runs out of descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_000;

/// Default of [`BrokerConfig::max_partitions`]: ten of Kafka's largest CreateTopics requests;
/// empty partitions cost about 200 bytes each, so the limit bounds what topic creation alone
/// can allocate.
pub const DEFAULT_MAX_PARTITIONS: usize = 100_000;

/// Default of [`BrokerConfig::connections_max_idle`]: Kafka's 10 minutes.
pub const DEFAULT_CONNECTIONS_MAX_IDLE: Duration = Duration::from_millis(600_000);

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listeners: vec![ListenerSpec::new(
                SecurityProtocol::Plaintext,
                SocketAddr::from(([127, 0, 0, 1], 0)),
            )],
            advertised_host: None,
            tls: None,
            tls_handshake_timeout: security::tls::DEFAULT_HANDSHAKE_TIMEOUT,
            sasl_users: UserStore::new(),
            sasl_enabled_mechanisms: BTreeMap::new(),
            connections_max_reauth: Duration::ZERO,
            sasl_auth_timeout: Duration::from_millis(10_000),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connections_max_idle: DEFAULT_CONNECTIONS_MAX_IDLE,
            node_id: 1,
            cluster_id: "ferrokafka-mini-broker".to_owned(),
            default_partitions: 1,
            max_partitions: DEFAULT_MAX_PARTITIONS,
            auto_create_topics: true,
            partition_retention_bytes: 256 * 1024 * 1024,
            max_memory: state::memory::default_limit(),
            data_dir: None,
            fsync: FsyncPolicy::PageCache,
            max_frame_size: ferrokafka_protocol::frame::DEFAULT_MAX_FRAME_SIZE,
            group_min_session_timeout: Duration::from_millis(6_000),
            group_max_session_timeout: Duration::from_millis(1_800_000),
            transaction_max_timeout: Duration::from_millis(900_000),
            transaction_abort_interval: Duration::from_millis(10_000),
            transaction_version: 2,
            log_retention_ms: state::topics::DEFAULT_RETENTION_MS,
            log_retention_check_interval: Duration::from_millis(300_000),
            log_cleaner_backoff: Duration::from_millis(15_000),
        }
    }
}

/// Builds a [`MiniBroker`] with non-default settings.
#[derive(Debug, Default)]
pub struct MiniBrokerBuilder {
    config: BrokerConfig,
    /// Set once a listener was named: the default PLAINTEXT listener is then no longer wanted.
    listeners_named: bool,
    /// The first setting that was refused, returned by [`Self::start`].
    refused: Option<security::SecurityConfigError>,
}

impl MiniBrokerBuilder {
    /// Address of the PLAINTEXT listener (default `127.0.0.1:0`).
    pub fn listen(self, addr: SocketAddr) -> Self {
        self.listener(SecurityProtocol::Plaintext, addr)
    }

    /// Opens a listener speaking `protocol` on `addr` (port 0 picks a free port), in place of
    /// an earlier one of the same protocol. Once a listener is named, the default PLAINTEXT
    /// listener is gone unless named too (with this or [`Self::listen`]).
    pub fn listener(mut self, protocol: SecurityProtocol, addr: SocketAddr) -> Self {
        if !self.listeners_named {
            self.config.listeners.clear();
            self.listeners_named = true;
        }
        let spec = ListenerSpec::new(protocol, addr);
        match self
            .config
            .listeners
            .iter_mut()
            .find(|l| l.protocol == protocol)
        {
            Some(existing) => *existing = spec,
            None => self.config.listeners.push(spec),
        }
        self
    }

    /// TLS for the SSL and SASL_SSL listeners from PEM files: the certificate chain (server
    /// certificate first) and its key (PKCS#8, PKCS#1 or SEC1).
    pub fn tls_pem_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.config.tls = Some(TlsSource::PemFiles {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// How long a client has to complete the TLS handshake (default 10 s).
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.tls_handshake_timeout = timeout;
        self
    }

    /// A user for PLAIN and SCRAM logins. The password is salted at once for SCRAM-SHA-256
    /// and SCRAM-SHA-512 (two key derivations) and not kept.
    pub fn sasl_user(mut self, name: &str, password: &str) -> Self {
        if let Err(err) = self.config.sasl_users.add_password(name, password) {
            self.refused.get_or_insert(err.into());
        }
        self
    }

    /// The mechanisms a SASL listener enables (default: all four).
    pub fn sasl_enabled_mechanisms(
        mut self,
        protocol: SecurityProtocol,
        mechanisms: &[Mechanism],
    ) -> Self {
        self.config
            .sasl_enabled_mechanisms
            .insert(protocol, mechanisms.to_vec());
        self
    }

    /// `connections.max.reauth.ms`: sessions expire after this long and clients must
    /// re-authenticate (default zero: never, unless an OAUTHBEARER token expires).
    pub fn connections_max_reauth(mut self, max: Duration) -> Self {
        self.config.connections_max_reauth = max;
        self
    }

    /// How long a client has to authenticate on a SASL listener (default 10 s).
    pub fn sasl_auth_timeout(mut self, timeout: Duration) -> Self {
        self.config.sasl_auth_timeout = timeout;
        self
    }

    /// `max.connections`: the most connections open at once over all listeners (default
    /// [`DEFAULT_MAX_CONNECTIONS`]); one more is closed at once.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// `connections.max.idle.ms`: connections without a request for this long are closed
    /// (default 10 min, as Kafka; zero: never).
    pub fn connections_max_idle(mut self, max: Duration) -> Self {
        self.config.connections_max_idle = max;
        self
    }

    /// The most partitions the broker holds over all topics (default
    /// [`DEFAULT_MAX_PARTITIONS`]).
    pub fn max_partitions(mut self, max: usize) -> Self {
        self.config.max_partitions = max;
        self
    }

    /// The most bytes of record data held over all partitions (default: half of the
    /// machine's memory); writes past it are refused with KAFKA_STORAGE_ERROR.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.config.max_memory = bytes;
        self
    }

    /// Keeps partition logs, topics and committed offsets under `dir` and reads them back at
    /// start (default: memory only). See docs/mini-broker.md, "Persistence".
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// When appends reach the disk with a data dir (default [`FsyncPolicy::PageCache`]).
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.config.fsync = policy;
        self
    }

    /// TLS for the SSL and SASL_SSL listeners with a CA and server certificate made at start;
    /// [`MiniBroker::tls_ca_pem`] returns the CA for clients to trust.
    pub fn tls_self_signed(mut self) -> Self {
        self.config.tls = Some(TlsSource::SelfSigned);
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

    /// The finalized `transaction.version` (default 2; see [`BrokerConfig`]).
    pub fn transaction_version(mut self, level: i16) -> Self {
        self.config.transaction_version = level;
        self
    }

    /// How often timed-out transactions are looked for (default 10 s, as Kafka).
    pub fn transaction_abort_interval(mut self, interval: Duration) -> Self {
        self.config.transaction_abort_interval = interval;
        self
    }

    /// `retention.ms` of topics that do not set it (default 7 days, as Kafka's
    /// `log.retention.ms`; -1 keeps records forever).
    pub fn log_retention_ms(mut self, ms: i64) -> Self {
        self.config.log_retention_ms = ms;
        self
    }

    /// How often time retention (`retention.ms`) runs (default 5 min, as Kafka's
    /// `log.retention.check.interval.ms`).
    pub fn log_retention_check_interval(mut self, interval: Duration) -> Self {
        self.config.log_retention_check_interval = interval;
        self
    }

    /// How often the log cleaner passes over compacted topics (default 15 s, as Kafka's
    /// `log.cleaner.backoff.ms`).
    pub fn log_cleaner_backoff(mut self, interval: Duration) -> Self {
        self.config.log_cleaner_backoff = interval;
        self
    }

    /// The whole config at once.
    pub fn config(mut self, config: BrokerConfig) -> Self {
        self.config = config;
        self.listeners_named = true;
        self
    }

    /// Binds every listener and starts serving. Settings that cannot work together (a TLS
    /// listener without a certificate, two listeners of one protocol, unreadable PEM files)
    /// fail with [`std::io::ErrorKind::InvalidInput`] wrapping a
    /// [`security::SecurityConfigError`].
    pub async fn start(self) -> std::io::Result<MiniBroker> {
        if let Some(err) = self.refused {
            return Err(invalid_input(err));
        }
        let config = self.config;
        security::validate(&config).map_err(invalid_input)?;
        if config.sasl_users.is_empty() && config.listeners.iter().any(|l| l.protocol.uses_sasl()) {
            tracing::warn!("SASL listener without users: only OAUTHBEARER logins can succeed");
        }
        let users = LiveUsers::new(config.sasl_users.clone());
        let derivations = SaslSettings::derivation_limit();
        let advertised = |spec: &ListenerSpec| {
            config
                .advertised_host
                .clone()
                .unwrap_or_else(|| spec.addr.ip().to_string())
        };
        let tls_hosts: Vec<String> = config
            .listeners
            .iter()
            .filter(|l| l.protocol.uses_tls())
            .map(advertised)
            .collect();
        let tls = match &config.tls {
            Some(source) if !tls_hosts.is_empty() => Some(
                TlsServer::new(source, &tls_hosts)
                    .map_err(|err| invalid_input(security::SecurityConfigError::from(err)))?,
            ),
            _ => None,
        };
        // Bind them all before serving any, so a port in use leaves nothing running.
        let mut bound = Vec::with_capacity(config.listeners.len());
        for spec in &config.listeners {
            let tcp = TcpListener::bind(spec.addr).await.map_err(|err| {
                std::io::Error::new(err.kind(), format!("cannot listen on {spec}: {err}"))
            })?;
            let addr = tcp.local_addr()?;
            let endpoint = Endpoint {
                host: advertised(&ListenerSpec::new(spec.protocol, addr)),
                port: i32::from(addr.port()),
            };
            let sasl = SaslSettings {
                mechanisms: security::enabled_mechanisms(&config, spec.protocol),
                users: users.clone(),
                max_reauth: Some(config.connections_max_reauth).filter(|d| !d.is_zero()),
                auth_timeout: config.sasl_auth_timeout,
                derivations: Arc::clone(&derivations),
            };
            let listener = server::Listener::new(spec.protocol, endpoint, tls.clone(), sasl);
            bound.push((tcp, addr, listener));
        }
        let listeners: Vec<BoundListener> = bound
            .iter()
            .map(|(_, addr, listener)| BoundListener {
                protocol: listener.protocol,
                addr: *addr,
                endpoint: listener.endpoint.clone(),
            })
            .collect();
        let main = listeners
            .iter()
            .find(|l| l.protocol == SecurityProtocol::Plaintext)
            .or(listeners.first())
            .cloned()
            .ok_or_else(|| invalid_input(security::SecurityConfigError::NoListener))?;
        let limit = Arc::new(server::ConnectionLimit::new(config.max_connections));
        let mut state = BrokerState::with_users(config, users);
        state.open_data_dir()?;
        let state = Arc::new(state);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let faults = Faults::default();
        let periodic = {
            let (txns, retention, cleaner) =
                (Arc::clone(&state), Arc::clone(&state), Arc::clone(&state));
            let c = &state.config;
            vec![
                tokio::spawn(state::every(
                    c.transaction_abort_interval,
                    shutdown_rx.clone(),
                    move || {
                        txns.abort_timed_out_transactions();
                    },
                )),
                tokio::spawn(state::every(
                    c.log_retention_check_interval,
                    shutdown_rx.clone(),
                    move || retention.expire_logs(state::now_ms()),
                )),
                tokio::spawn(state::every(
                    c.log_cleaner_backoff,
                    shutdown_rx.clone(),
                    move || cleaner.clean_logs(state::now_ms()),
                )),
            ]
        };
        let mut tasks = Vec::with_capacity(bound.len());
        for (tcp, addr, listener) in bound {
            tracing::info!(listener = %listener.protocol, %addr, "mini-broker listening");
            tasks.push(tokio::spawn(server::run(
                tcp,
                Arc::new(listener),
                Arc::clone(&state),
                Arc::clone(&limit),
                faults.clone(),
                shutdown_rx.clone(),
            )));
        }
        Ok(MiniBroker {
            main,
            listeners,
            tls_ca_pem: tls.as_ref().and_then(|t| t.ca_pem()).map(str::to_owned),
            state,
            limit,
            faults,
            shutdown_tx,
            tasks,
            periodic,
        })
    }
}

fn invalid_input(err: security::SecurityConfigError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, err)
}

/// One open listener, as [`MiniBroker`] reports it.
#[derive(Debug, Clone)]
struct BoundListener {
    protocol: SecurityProtocol,
    addr: SocketAddr,
    endpoint: Endpoint,
}

/// A running mini-broker. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct MiniBroker {
    /// In the order they were configured.
    listeners: Vec<BoundListener>,
    /// The PLAINTEXT listener, else the first: what [`MiniBroker::bootstrap`] names.
    main: BoundListener,
    tls_ca_pem: Option<String>,
    state: Arc<BrokerState>,
    /// The connection limit every listener shares.
    limit: Arc<server::ConnectionLimit>,
    faults: Faults,
    shutdown_tx: watch::Sender<bool>,
    /// One accept loop per listener.
    tasks: Vec<JoinHandle<()>>,
    /// The periodic tasks (timed-out transactions, retention, the log cleaner); they end
    /// with the shutdown signal.
    periodic: Vec<JoinHandle<()>>,
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

    /// The `host:port` to give clients as `bootstrap.servers`: the PLAINTEXT listener's if
    /// there is one, else the first listener's.
    pub fn bootstrap(&self) -> String {
        self.main.endpoint.to_string()
    }

    /// The `host:port` of the listener speaking `protocol`, if there is one.
    pub fn bootstrap_for(&self, protocol: SecurityProtocol) -> Option<String> {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol)
            .map(|l| l.endpoint.to_string())
    }

    /// Every listener's protocol and `host:port`, in the order they were configured.
    pub fn listeners(&self) -> Vec<(SecurityProtocol, String)> {
        self.listeners
            .iter()
            .map(|l| (l.protocol, l.endpoint.to_string()))
            .collect()
    }

    /// The address the PLAINTEXT listener (else the first) is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.main.addr
    }

    /// The PEM of the CA that signed the TLS listeners' certificate, when it was made at start
    /// ([`MiniBrokerBuilder::tls_self_signed`]): what clients put in their trust store.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.tls_ca_pem.as_deref()
    }

    /// The broker's state, for tests that inspect it.
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// How many client connections are open now, over all listeners.
    pub fn open_connections(&self) -> usize {
        self.limit.open()
    }

    /// Faults to inject, for tests that prove a client recovers from them.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Stops accepting, closes every connection, and waits until all are closed.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        for task in self.tasks.drain(..).chain(self.periodic.drain(..)) {
            if let Err(err) = task.await {
                tracing::error!(%err, "mini-broker task failed");
            }
        }
    }
}

impl Drop for MiniBroker {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}
