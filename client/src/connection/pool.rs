//! One connection per broker node, opened on first use and reopened after it dies.
//!
//! Why per node and lazily: the client only talks to the brokers it needs (partition leaders,
//! the controller), and a dead connection is only worth replacing when someone wants it.
//! Reconnects to one node are spaced by [`Backoff`]: consecutive failures double the wait up to
//! `reconnect.backoff.max.ms`; even after a success the next dial waits the initial backoff,
//! so a broker that accepts and then drops connections is not hammered in a loop. Callers for
//! the same node queue behind one dial instead of each opening a socket.
//!
//! A node that cannot be reached for [`crate::stall::STALL_WARN_AFTER`] is reported once at
//! warn (and at info when it answers again), so an outage shows in warn-level logs.
//!
//! What not: no connection limits, no idle timeout (`connections.max.idle.ms`) yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::backoff::Backoff;
use super::Connection;
use crate::config::ClientConfig;
use crate::error::Error;
use crate::stall::Stall;

/// Whether a node can be used right away; the metadata code prefers such nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Readiness {
    /// A live connection exists.
    Connected,
    /// No connection, but dialling may start now.
    Idle,
    /// A dial is in progress or the node is in its backoff.
    Waiting,
}

#[derive(Debug, Default)]
struct NodeSlot {
    conn: Option<Arc<Connection>>,
    /// The address `conn` was dialled at; a broker that moved gets a new connection.
    addr: String,
    failures: u32,
    /// No dial before this instant.
    retry_at: Option<Instant>,
    /// Failed dials since the last success.
    stall: Stall,
}

/// The connections of one client, keyed by node id.
#[derive(Debug)]
pub(crate) struct ConnectionPool {
    config: ClientConfig,
    backoff: Backoff,
    nodes: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<NodeSlot>>>>,
}

impl ConnectionPool {
    pub(crate) fn new(config: ClientConfig) -> Self {
        let backoff = Backoff::new(config.reconnect_backoff, config.reconnect_backoff_max);
        ConnectionPool {
            config,
            backoff,
            nodes: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, node_id: i32) -> Arc<tokio::sync::Mutex<NodeSlot>> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(nodes.entry(node_id).or_default())
    }

    /// The live connection to `node_id` at `addr`, dialling (after any backoff) if needed.
    ///
    /// Cancel-safe: a dropped call abandons its dial and leaves the slot as it was.
    pub(crate) async fn get(&self, node_id: i32, addr: &str) -> Result<Arc<Connection>, Error> {
        let slot = self.slot(node_id);
        let mut slot = slot.lock().await;
        if let Some(conn) = &slot.conn {
            if !conn.is_dead() && slot.addr == addr {
                return Ok(Arc::clone(conn));
            }
        }
        // Others may still hold the old connection; it closes when the last one lets go.
        slot.conn = None;
        if let Some(at) = slot.retry_at {
            tokio::time::sleep_until(at).await;
        }
        let started = Instant::now();
        match Connection::connect(addr, &self.config).await {
            Ok(conn) => {
                let conn = Arc::new(conn);
                slot.conn = Some(Arc::clone(&conn));
                slot.addr = addr.to_owned();
                slot.failures = 0;
                slot.retry_at = Some(started + self.backoff.delay(0));
                slot.stall
                    .progressed(format_args!("connecting to node {node_id} at {addr}"));
                Ok(conn)
            }
            Err(err) => {
                slot.retry_at = Some(Instant::now() + self.backoff.delay(slot.failures));
                slot.failures = slot.failures.saturating_add(1);
                tracing::debug!(node_id, addr, %err, failures = slot.failures, "connect failed");
                slot.stall
                    .failed(format_args!("connecting to node {node_id} at {addr}"), &err);
                Err(err)
            }
        }
    }

    /// How soon `node_id` could serve a request, and how many requests its connection has
    /// in flight, without waiting for anything: the order of Java's least-loaded node.
    pub(crate) fn load(&self, node_id: i32) -> (Readiness, usize) {
        let slot = self.slot(node_id);
        let Ok(slot) = slot.try_lock() else {
            return (Readiness::Waiting, 0);
        };
        match &slot.conn {
            Some(conn) if !conn.is_dead() => (Readiness::Connected, conn.in_flight()),
            _ if slot.retry_at.is_some_and(|at| at > Instant::now()) && slot.failures > 0 => {
                (Readiness::Waiting, 0)
            }
            _ => (Readiness::Idle, 0),
        }
    }

    /// Whether dials to `node_id` failed lately and the next must wait out a backoff.
    pub(crate) fn in_backoff(&self, node_id: i32) -> bool {
        let slot = self.slot(node_id);
        let Ok(slot) = slot.try_lock() else {
            return false; // a dial in progress is not a failure
        };
        slot.failures > 0 && slot.retry_at.is_some_and(|at| at > Instant::now())
    }

    /// Closes every connection and forgets every node.
    pub(crate) async fn close_all(&self) {
        let slots: Vec<_> = {
            let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
            nodes.drain().map(|(_, slot)| slot).collect()
        };
        for slot in slots {
            // A slot that is mid-dial is skipped rather than waited for: once that dial
            // returns, the slot (no longer in the map) is dropped, and the connection with it
            // when its caller lets go.
            let conn = slot.try_lock().ok().and_then(|mut slot| slot.conn.take());
            if let Some(conn) = conn {
                conn.close().await;
            }
        }
    }
}
