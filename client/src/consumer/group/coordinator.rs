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
//! The lookup is [`Client::find_coordinator`], which asks the least-loaded live broker. A
//! coordinator that cannot be dialled also triggers a metadata refresh, so a dead node's
//! replacement is found. A group that makes no progress with its coordinator for a while is
//! reported once at warn ([`crate::stall`]).
//!
//! What not: batched FindCoordinator for several groups (v4 supports it; one group here).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::client::{coordinator_gone, lock, Client, CoordinatorType};
use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::error::Error;
use crate::stall::Stall;

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
    stall: Mutex<Stall>,
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
            stall: Mutex::new(Stall::default()),
        }
    }

    pub(crate) fn group_id(&self) -> &str {
        &self.group_id
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    fn current(&self) -> Option<Arc<Coordinator>> {
        lock(&self.current).clone().filter(|c| c.alive())
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
        let found = self
            .client
            .find_coordinator(CoordinatorType::Group, &self.group_id)
            .await;
        let (node, addr) = match found {
            Ok(broker) => (broker.node_id, broker.address()),
            Err(err) => {
                self.failed("finding its coordinator", &err);
                return Err(err);
            }
        };
        let short = match Connection::connect(&addr, self.client.config()).await {
            Ok(conn) => conn,
            Err(err) => {
                self.failed(
                    &format!("connecting to its coordinator, node {node} at {addr}"),
                    &err,
                );
                // The coordinator's node may be gone from the cluster: look again next time,
                // with fresh metadata.
                let _ = self.client.metadata(&[]).await;
                return Err(err);
            }
        };
        let coordinator = Arc::new(Coordinator {
            node,
            addr,
            short,
            membership: OnceCell::new(),
            membership_config: self.membership_config.clone(),
        });
        tracing::debug!(group = %self.group_id, node, "found the group coordinator");
        *lock(&self.current) = Some(Arc::clone(&coordinator));
        Ok(coordinator)
    }

    /// Forgets `coordinator` if it is still the current one.
    pub(crate) fn invalidate(&self, coordinator: &Arc<Coordinator>) {
        let mut current = lock(&self.current);
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
        if coordinator_gone(err) {
            self.invalidate(coordinator);
            true
        } else {
            false
        }
    }

    /// Records a failed request to the group's coordinator (or lookup of it); warns once
    /// when the group has made no progress for a while.
    pub(crate) fn failed(&self, what: &str, err: &Error) {
        lock(&self.stall).failed(format_args!("for group {} ({what})", self.group_id), err);
    }

    /// Records a successful request to the group's coordinator.
    pub(crate) fn progressed(&self) {
        lock(&self.stall).progressed(format_args!("for group {}", self.group_id));
    }
}
