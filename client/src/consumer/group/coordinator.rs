//! Finding a group's coordinator and keeping two connections to it.
//!
//! Why dedicated connections, not the client's pool: a Kafka broker answers one connection's
//! requests strictly in order, so a commit queued behind a fetch's long poll waits up to
//! `fetch.max.wait.ms`, and anything queued behind a JoinGroup waits for the whole rebalance.
//! So, like Java, the group gets its own connections: one for JoinGroup and SyncGroup, whose
//! request timeout covers the rebalance timeout (`max.poll.interval.ms` + 5 s, as Java), and
//! one for everything short (Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch).
//!
//! A coordinator that fails (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, a dead connection)
//! is forgotten with [`CoordinatorLink::invalidate`]; the next [`CoordinatorLink::get`] asks
//! again. Dropping the last handle of a forgotten coordinator closes its connections.
//!
//! What not: batched FindCoordinator for several groups (v4 supports it; one group here).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::OnceCell;

use crate::client::Client;
use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::error::Error;

/// The coordinator of one group, as currently known.
#[derive(Debug)]
pub(crate) struct Coordinator {
    /// Its node id.
    pub node: i32,
    addr: String,
    /// For short requests.
    short: Connection,
    /// For JoinGroup and SyncGroup; opened on first use.
    membership: OnceCell<Connection>,
    membership_config: ClientConfig,
}

impl Coordinator {
    /// The connection for Heartbeat, LeaveGroup and offset requests.
    pub fn short(&self) -> &Connection {
        &self.short
    }

    /// The connection for JoinGroup and SyncGroup.
    pub async fn membership(&self) -> Result<&Connection, Error> {
        let conn = self
            .membership
            .get_or_try_init(|| Connection::connect(&self.addr, &self.membership_config))
            .await?;
        if conn.is_dead() {
            return Err(Error::Disconnected {
                broker: self.addr.clone(),
                reason: "the group membership connection died".into(),
            });
        }
        Ok(conn)
    }

    fn alive(&self) -> bool {
        !self.short.is_dead() && self.membership.get().is_none_or(|c| !c.is_dead())
    }
}

/// Finds and remembers the coordinator of `group_id`.
#[derive(Debug)]
pub(crate) struct CoordinatorLink {
    client: Client,
    group_id: String,
    membership_config: ClientConfig,
    current: Mutex<Option<Arc<Coordinator>>>,
    finding: tokio::sync::Mutex<()>,
}

impl CoordinatorLink {
    pub(crate) fn new(client: Client, group_id: String, rebalance_timeout: Duration) -> Self {
        let mut membership_config = client.config().clone();
        membership_config.request_timeout = membership_config
            .request_timeout
            .max(rebalance_timeout.saturating_add(Duration::from_secs(5)));
        CoordinatorLink {
            client,
            group_id,
            membership_config,
            current: Mutex::new(None),
            finding: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn group_id(&self) -> &str {
        &self.group_id
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    fn current(&self) -> Option<Arc<Coordinator>> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|c| c.alive())
    }

    /// The coordinator, asking a broker for it when none is known. One lookup at a time;
    /// concurrent callers share its answer. Cancel-safe.
    pub(crate) async fn get(&self) -> Result<Arc<Coordinator>, Error> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let _guard = self.finding.lock().await;
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let (node, addr) = self.find().await?;
        let short = Connection::connect(&addr, self.client.config()).await?;
        let coordinator = Arc::new(Coordinator {
            node,
            addr,
            short,
            membership: OnceCell::new(),
            membership_config: self.membership_config.clone(),
        });
        tracing::debug!(group = %self.group_id, node, "found the group coordinator");
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&coordinator));
        Ok(coordinator)
    }

    /// Forgets `coordinator` if it is still the current one.
    pub(crate) fn invalidate(&self, coordinator: &Arc<Coordinator>) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, coordinator))
        {
            tracing::debug!(group = %self.group_id, node = coordinator.node, "forgetting the group coordinator");
            *current = None;
        }
    }

    /// Forgets the coordinator when `err` says it is gone; true if it did.
    pub(crate) fn invalidate_on(&self, coordinator: &Arc<Coordinator>, err: &Error) -> bool {
        if is_coordinator_gone(err) {
            self.invalidate(coordinator);
            true
        } else {
            false
        }
    }

    /// Asks some broker which node coordinates the group, and at which address.
    async fn find(&self) -> Result<(i32, String), Error> {
        let cluster = self.client.cluster();
        let Some(ask) = cluster.brokers.keys().next().copied() else {
            return Err(Error::NoBrokerReachable { tried: Vec::new() });
        };
        let group = self.group_id.clone();
        let conn = self.client.connection(ask).await?;
        let response = conn
            .send_with(|version| {
                let mut req = FindCoordinatorRequest::default();
                if version >= 4 {
                    req.coordinator_keys = vec![StrBytes::from_string(group.clone())];
                } else {
                    req.key = StrBytes::from_string(group.clone());
                }
                req
            })
            .await?;
        let (code, message, node, host, port) = if response.coordinators.is_empty() {
            (
                response.error_code,
                response.error_message.map(|m| m.to_string()),
                response.node_id.0,
                response.host.to_string(),
                response.port,
            )
        } else {
            let c = response
                .coordinators
                .iter()
                .find(|c| c.key.as_str() == self.group_id)
                .or(response.coordinators.first());
            match c {
                Some(c) => (
                    c.error_code,
                    c.error_message.as_ref().map(|m| m.to_string()),
                    c.node_id.0,
                    c.host.to_string(),
                    c.port,
                ),
                None => (
                    ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
                    None,
                    -1,
                    String::new(),
                    0,
                ),
            }
        };
        Error::check(code, message.as_deref())?;
        if node < 0 {
            return Err(Error::Kafka {
                code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                message: Some("FindCoordinator named no node".into()),
                topic: None,
                partition: None,
            });
        }
        let addr = match self.client.cluster().broker(node) {
            Some(b) => b.address(),
            None => {
                let port = u16::try_from(port).map_err(|_| Error::Kafka {
                    code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    message: Some(format!("FindCoordinator gave port {port}")),
                    topic: None,
                    partition: None,
                })?;
                if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
        };
        Ok((node, addr))
    }
}

/// Errors after which the coordinator must be looked up again.
pub(crate) fn is_coordinator_gone(err: &Error) -> bool {
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
