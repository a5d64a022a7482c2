//! What a [`crate::TransactionalProducer`] and its sender share: the producer id and epoch
//! batches are written under, which transaction is open, whether its partitions are added
//! implicitly (transaction version 2) or by AddPartitionsToTxn, and the first error that
//! dooms it.
//!
//! Why a shared cell and not messages: the transactional producer changes it only between
//! transactions or to end one (begin, abort, a new epoch), and the sender reads it once per
//! pass; a short lock on both sides is all it takes, and the sender stays the one owner of
//! sequences and batches.

use std::sync::{Arc, Mutex, MutexGuard};

use super::sequence::ProducerIdEpoch;
use crate::error::Error;

/// The first error of the open transaction, and whether sequence numbers are in doubt (then
/// the abort takes a new epoch, as the Java client does).
#[derive(Debug, Clone)]
pub(crate) struct TxnFailure {
    pub(crate) cause: Arc<Error>,
    pub(crate) bump: bool,
}

/// The shared state; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct TxnState {
    /// Set by the transactional producer (InitProducerId, EndTxn v5); the sender renumbers
    /// every partition from 0 when it changes.
    pub(crate) producer: Option<ProducerIdEpoch>,
    /// Transaction version 2 (KIP-890): Produce v12 adds partitions implicitly.
    pub(crate) v2: bool,
    /// Counts transactions: the sender forgets which partitions were added when it moves.
    pub(crate) generation: u64,
    /// Something was added to the open transaction (a partition), so it needs an EndTxn.
    pub(crate) started: bool,
    pub(crate) failure: Option<TxnFailure>,
    /// The open transaction is being aborted: the sender fails what is queued.
    pub(crate) aborting: bool,
    /// The transaction coordinator, when known.
    pub(crate) coordinator: Option<i32>,
}

/// The cell a transactional producer and its sender share.
#[derive(Debug)]
pub(crate) struct TxnLink {
    pub(crate) transactional_id: Arc<str>,
    state: Mutex<TxnState>,
}

impl TxnLink {
    pub(crate) fn new(transactional_id: &str) -> Arc<TxnLink> {
        Arc::new(TxnLink {
            transactional_id: Arc::from(transactional_id),
            state: Mutex::new(TxnState::default()),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TxnState> {
        // Every critical section sets plain fields; a panic cannot leave them half-changed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `cause` as what dooms the open transaction, unless an earlier error did.
    pub(crate) fn fail(&self, cause: Arc<Error>, bump: bool) {
        let mut state = self.lock();
        match &mut state.failure {
            Some(first) => first.bump |= bump,
            None => state.failure = Some(TxnFailure { cause, bump }),
        }
    }

    /// The open transaction ended (committed or aborted): the next one starts clean.
    pub(crate) fn next_transaction(&self) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.started = false;
        state.failure = None;
        state.aborting = false;
    }
}
