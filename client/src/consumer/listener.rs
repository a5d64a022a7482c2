//! [`RebalanceListener`]: what the application hears when group membership moves partitions,
//! and [`Rebalance`], what it may do about it (commit, seek) while the rebalance waits.
//!
//! Why a context instead of handing the listener the consumer: the callbacks run inside
//! `recv`/`poll`, which already hold the consumer. The listener records what it wants
//! ("commit these offsets before I give the partitions up", "start this one at offset n") and
//! the consumer does it before the rebalance goes on: a revocation's commit completes before
//! this member tells the coordinator it is done, so the next owner starts after it.
//!
//! When the callbacks run: only inside [`Consumer::recv`](super::Consumer::recv),
//! [`Consumer::poll`](super::Consumer::poll), the stream, [`Consumer::unsubscribe`](super::Consumer::unsubscribe)
//! and [`Consumer::close`](super::Consumer::close), on the application's task, never
//! concurrently with record processing. Under the eager protocol (`range`, `roundrobin`)
//! every partition is revoked before each rebalance and the new set assigned after; under the
//! cooperative protocol (`cooperative-sticky` alone) only the partitions that move are
//! revoked, and `on_assigned` gets only the new ones.

use std::collections::BTreeMap;

use super::record::TopicPartition;

/// Callbacks for partition ownership changes. Every method has an empty default.
pub trait RebalanceListener: Send {
    /// `partitions` are now this member's. Seek here to start somewhere other than the
    /// committed offset.
    fn on_assigned(&mut self, rebalance: &mut Rebalance<'_>, partitions: &[TopicPartition]) {
        let _ = (rebalance, partitions);
    }

    /// `partitions` are being taken away in an orderly rebalance; this member still owns
    /// them until this returns and the requested commit is done. Commit here what has been
    /// processed ([`Rebalance::commit`]).
    fn on_revoked(&mut self, rebalance: &mut Rebalance<'_>, partitions: &[TopicPartition]) {
        let _ = (rebalance, partitions);
    }

    /// `partitions` were lost: the coordinator already gave them away (session timeout,
    /// `max.poll.interval.ms` exceeded, fenced generation). Another member may be reading
    /// them; commits are not possible and are not attempted.
    fn on_lost(&mut self, rebalance: &mut Rebalance<'_>, partitions: &[TopicPartition]) {
        let _ = (rebalance, partitions);
    }
}

/// What a commit request from a listener asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommitRequest {
    /// The positions of the partitions in the callback.
    Positions,
    /// These offsets.
    Offsets(BTreeMap<TopicPartition, i64>),
}

/// The rebalance in progress, as a listener sees it.
#[derive(Debug)]
pub struct Rebalance<'a> {
    pub(crate) positions: &'a BTreeMap<TopicPartition, i64>,
    pub(crate) generation: i32,
    pub(crate) commit: Option<CommitRequest>,
    pub(crate) seeks: Vec<(TopicPartition, i64)>,
}

impl<'a> Rebalance<'a> {
    pub(crate) fn new(positions: &'a BTreeMap<TopicPartition, i64>, generation: i32) -> Self {
        Rebalance {
            positions,
            generation,
            commit: None,
            seeks: Vec::new(),
        }
    }

    /// The position (next offset to hand out) of an assigned partition, if known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.positions.get(tp).copied()
    }

    /// The group generation (-1 when the member has none, e.g. after a loss).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// In `on_revoked`: commit the positions of the revoked partitions before giving them
    /// up. Ignored in `on_assigned` and `on_lost`.
    pub fn commit(&mut self) {
        self.commit = Some(CommitRequest::Positions);
    }

    /// In `on_revoked`: commit these offsets (each the next offset to read) before giving
    /// the partitions up. Ignored in `on_assigned` and `on_lost`.
    pub fn commit_offsets<I>(&mut self, offsets: I)
    where
        I: IntoIterator<Item = (TopicPartition, i64)>,
    {
        let mut map = match self.commit.take() {
            Some(CommitRequest::Offsets(map)) => map,
            _ => BTreeMap::new(),
        };
        map.extend(offsets);
        self.commit = Some(CommitRequest::Offsets(map));
    }

    /// In `on_assigned`: start `tp` at `offset` instead of the committed offset.
    pub fn seek(&mut self, tp: TopicPartition, offset: i64) {
        self.seeks.push((tp, offset));
    }
}

/// A listener made of closures, for the common case of wanting one callback.
pub struct FnListener<A, R, L> {
    assigned: A,
    revoked: R,
    lost: L,
}

impl<A, R, L> std::fmt::Debug for FnListener<A, R, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnListener").finish_non_exhaustive()
    }
}

type Noop = fn(&mut Rebalance<'_>, &[TopicPartition]);

fn noop(_: &mut Rebalance<'_>, _: &[TopicPartition]) {}

impl FnListener<Noop, Noop, Noop> {
    /// A listener that does nothing until given callbacks.
    pub fn new() -> Self {
        FnListener {
            assigned: noop,
            revoked: noop,
            lost: noop,
        }
    }
}

impl Default for FnListener<Noop, Noop, Noop> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A, R, L> FnListener<A, R, L> {
    /// Calls `f` from `on_assigned`.
    pub fn on_assigned<F>(self, f: F) -> FnListener<F, R, L>
    where
        F: FnMut(&mut Rebalance<'_>, &[TopicPartition]) + Send,
    {
        FnListener {
            assigned: f,
            revoked: self.revoked,
            lost: self.lost,
        }
    }

    /// Calls `f` from `on_revoked`.
    pub fn on_revoked<F>(self, f: F) -> FnListener<A, F, L>
    where
        F: FnMut(&mut Rebalance<'_>, &[TopicPartition]) + Send,
    {
        FnListener {
            assigned: self.assigned,
            revoked: f,
            lost: self.lost,
        }
    }

    /// Calls `f` from `on_lost`.
    pub fn on_lost<F>(self, f: F) -> FnListener<A, R, F>
    where
        F: FnMut(&mut Rebalance<'_>, &[TopicPartition]) + Send,
    {
        FnListener {
            assigned: self.assigned,
            revoked: self.revoked,
            lost: f,
        }
    }
}

impl<A, R, L> RebalanceListener for FnListener<A, R, L>
where
    A: FnMut(&mut Rebalance<'_>, &[TopicPartition]) + Send,
    R: FnMut(&mut Rebalance<'_>, &[TopicPartition]) + Send,
    L: FnMut(&mut Rebalance<'_>, &[TopicPartition]) + Send,
{
    fn on_assigned(&mut self, rebalance: &mut Rebalance<'_>, partitions: &[TopicPartition]) {
        (self.assigned)(rebalance, partitions);
    }

    fn on_revoked(&mut self, rebalance: &mut Rebalance<'_>, partitions: &[TopicPartition]) {
        (self.revoked)(rebalance, partitions);
    }

    fn on_lost(&mut self, rebalance: &mut Rebalance<'_>, partitions: &[TopicPartition]) {
        (self.lost)(rebalance, partitions);
    }
}
