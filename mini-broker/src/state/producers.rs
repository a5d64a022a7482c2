//! Idempotent-producer state of one partition: for each producer id, its current epoch and the
//! last five batches it wrote, which is what Kafka's partition leader keeps (KIP-98).
//!
//! The window is what makes retries safe: a client with up to five requests in flight per
//! connection may resend any of them after a disconnect, and a resent batch whose sequence
//! range matches a remembered one is answered with where it was first written instead of being
//! written twice. Anything else must continue the sequence exactly.
//!
//! The rules follow Kafka's broker (4.x): an unknown producer may start at any sequence (since
//! KIP-360 the broker no longer answers UNKNOWN_PRODUCER_ID when it has no state); an older
//! epoch is refused; a newer epoch starts over at sequence 0; sequences wrap from `i32::MAX`
//! to 0. A request may carry several batches for one partition, so checks run against a
//! [`PendingAppend`] that sees the earlier batches of the same request, and nothing is changed
//! until the caller has written them all.
//!
//! Transaction markers move a producer's epoch here too ([`ProducerStates::end_transaction`]):
//! with transaction version 2 every EndTxn writes its markers at a bumped epoch, which is what
//! makes the next transaction's first batch on the partition start at sequence 0. Which
//! batches belong to open transactions is the log's business (`log.rs`).
//!
//! Not here: expiry of idle producers (Kafka's `producer.id.expiration.ms`); state lives as long
//! as the partition.

use std::collections::{HashMap, VecDeque};

/// Batches remembered per producer and partition, as Kafka's broker does; it is also why a
/// client may have at most five requests in flight with idempotence on.
pub const BATCHES_RETAINED: usize = 5;

/// A batch of an idempotent producer, as far as the sequence checks are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    /// The producer id (`>= 0`).
    pub producer_id: i64,
    /// The producer epoch the batch was written with.
    pub epoch: i16,
    /// Sequence number of the first record.
    pub first_seq: i32,
    /// Sequence number of the last record (wrapped past `i32::MAX`).
    pub last_seq: i32,
}

/// Where a batch was written: what a duplicate is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The batch's max timestamp as stored (the append time on LogAppendTime topics).
    pub timestamp: i64,
}

/// One remembered batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Written {
    first_seq: i32,
    last_seq: i32,
    placement: Placement,
}

/// What one producer has written to this partition with its current epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    /// Oldest first, at most [`BATCHES_RETAINED`]; empty only after a transaction marker moved
    /// the producer to a new epoch (its next batch must then start at sequence 0).
    batches: VecDeque<Written>,
}

impl ProducerEntry {
    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn push(&mut self, written: Written) {
        if self.batches.len() == BATCHES_RETAINED {
            self.batches.pop_front();
        }
        self.batches.push_back(written);
    }
}

/// What to do with a batch that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New data, in sequence: write it where it was planned.
    Write,
    /// Written before: write nothing and answer with where it went the first time.
    Duplicate(Placement),
}

/// Why a batch breaks the producer's sequence. The handler maps these to Kafka's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// The batch's epoch is older than the one this partition has seen (a zombie producer).
    #[error(
        "producer {producer_id} wrote with epoch {epoch}, older than its current epoch {current}"
    )]
    StaleEpoch {
        /// The producer.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The epoch this partition knows.
        current: i16,
    },
    /// A newer epoch must start at sequence 0.
    #[error(
        "producer {producer_id} moved to epoch {epoch} (from {current}) but started at sequence \
         {first_seq}, not 0"
    )]
    NewEpochNotAtZero {
        /// The producer.
        producer_id: i64,
        /// The batch's (new) epoch.
        epoch: i16,
        /// The epoch this partition knows.
        current: i16,
        /// The batch's first sequence.
        first_seq: i32,
    },
    /// The batch neither continues the sequence nor repeats one of the remembered batches.
    #[error(
        "out of order sequence for producer {producer_id} (epoch {epoch}): got {first_seq}, \
         expected {expected}"
    )]
    OutOfOrder {
        /// The producer.
        producer_id: i64,
        /// The epoch.
        epoch: i16,
        /// The batch's first sequence.
        first_seq: i32,
        /// The sequence that would have continued.
        expected: i32,
    },
}

/// The producers of one partition.
#[derive(Debug, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    /// Starts checking the batches of one request against this state.
    pub fn begin(&self) -> PendingAppend<'_> {
        PendingAppend {
            states: self,
            changed: HashMap::new(),
        }
    }

    /// Applies what a [`PendingAppend`] accepted, once its batches are written.
    pub fn apply(&mut self, changes: ProducerChanges) {
        self.producers.extend(changes.0);
    }

    /// A transaction marker for `producer_id` was written with `epoch`. As in Kafka's producer
    /// state, a marker with a new epoch (the coordinator fenced the producer, or the producer
    /// re-initialised) forgets the old epoch's batches; the same epoch keeps them, so the
    /// producer's sequences carry on into its next transaction.
    pub fn end_transaction(&mut self, producer_id: i64, epoch: i16) {
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch,
                batches: VecDeque::new(),
            });
        if entry.epoch != epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
    }

    /// Replays a batch read back from the log (no checks: it was checked when written), as
    /// Kafka rebuilds its producer state from the log at start.
    pub fn restore(&mut self, batch: ProducerBatch, placement: Placement) {
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: batch.epoch,
                batches: VecDeque::new(),
            });
        if entry.epoch != batch.epoch {
            entry.epoch = batch.epoch;
            entry.batches.clear();
        }
        entry.push(Written {
            first_seq: batch.first_seq,
            last_seq: batch.last_seq,
            placement,
        });
    }

    /// The epoch a producer last wrote or ended a transaction with here.
    pub fn epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// The largest producer id with state here.
    pub fn max_producer_id(&self) -> Option<i64> {
        self.producers.keys().max().copied()
    }

    /// The current epoch and last sequence of a producer, for tests and diagnostics.
    pub fn last_sequence(&self, producer_id: i64) -> Option<(i16, i32)> {
        let entry = self.producers.get(&producer_id)?;
        Some((entry.epoch, entry.last_seq()?))
    }

    /// Every producer with state here, by id: `(producer id, epoch, last sequence, last
    /// timestamp)`, -1 for a sequence or timestamp not known (after a marker moved the
    /// producer to a new epoch).
    pub fn active(&self) -> Vec<(i64, i16, i32, i64)> {
        let mut out: Vec<_> = self
            .producers
            .iter()
            .map(|(id, e)| {
                let last = e.batches.back();
                (
                    *id,
                    e.epoch,
                    last.map_or(-1, |b| b.last_seq),
                    last.map_or(-1, |b| b.placement.timestamp),
                )
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Producers with state in this partition.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// True when no producer has written here.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

/// The checks for one request's batches to one partition, each seeing the ones before it.
#[derive(Debug)]
pub struct PendingAppend<'a> {
    states: &'a ProducerStates,
    changed: HashMap<i64, ProducerEntry>,
}

/// Producer state accepted by a [`PendingAppend`], to [`ProducerStates::apply`] after writing.
#[derive(Debug, Default)]
#[must_use = "apply the changes once the batches are written"]
pub struct ProducerChanges(HashMap<i64, ProducerEntry>);

impl PendingAppend<'_> {
    /// Checks `batch`, which would be written at `placement`. A batch to write is remembered
    /// here, so the next batch of the same request is checked against it.
    pub fn check(
        &mut self,
        batch: ProducerBatch,
        placement: Placement,
    ) -> Result<Verdict, SequenceError> {
        let id = batch.producer_id;
        let current = self
            .changed
            .get(&id)
            .or_else(|| self.states.producers.get(&id));
        let written = Written {
            first_seq: batch.first_seq,
            last_seq: batch.last_seq,
            placement,
        };
        let Some(current) = current else {
            // No state: accept any first sequence, as Kafka does since KIP-360.
            self.changed.insert(
                id,
                ProducerEntry {
                    epoch: batch.epoch,
                    batches: VecDeque::from([written]),
                },
            );
            return Ok(Verdict::Write);
        };
        if batch.epoch == current.epoch {
            if let Some(dup) = current
                .batches
                .iter()
                .find(|b| b.first_seq == batch.first_seq && b.last_seq == batch.last_seq)
            {
                return Ok(Verdict::Duplicate(dup.placement));
            }
        }
        if batch.epoch < current.epoch {
            return Err(SequenceError::StaleEpoch {
                producer_id: id,
                epoch: batch.epoch,
                current: current.epoch,
            });
        }
        let mut entry = if batch.epoch > current.epoch {
            if batch.first_seq != 0 {
                return Err(SequenceError::NewEpochNotAtZero {
                    producer_id: id,
                    epoch: batch.epoch,
                    current: current.epoch,
                    first_seq: batch.first_seq,
                });
            }
            // A new epoch forgets the old one's batches, as Kafka's producer state does.
            ProducerEntry {
                epoch: batch.epoch,
                batches: VecDeque::new(),
            }
        } else {
            let expected = current.last_seq().map_or(0, next_sequence);
            if batch.first_seq != expected {
                return Err(SequenceError::OutOfOrder {
                    producer_id: id,
                    epoch: batch.epoch,
                    first_seq: batch.first_seq,
                    expected,
                });
            }
            current.clone()
        };
        entry.push(written);
        self.changed.insert(id, entry);
        Ok(Verdict::Write)
    }

    /// What to apply once every accepted batch is written.
    pub fn finish(self) -> ProducerChanges {
        ProducerChanges(self.changed)
    }
}

/// The sequence after `seq`: sequences wrap from `i32::MAX` to 0.
pub fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: i64 = 7;

    fn batch(epoch: i16, first_seq: i32, records: i32) -> ProducerBatch {
        let last = (i64::from(first_seq) + i64::from(records) - 1) % (i64::from(i32::MAX) + 1);
        ProducerBatch {
            producer_id: ID,
            epoch,
            first_seq,
            last_seq: i32::try_from(last).unwrap(),
        }
    }

    fn at(offset: i64) -> Placement {
        Placement {
            base_offset: offset,
            last_offset: offset,
            timestamp: 0,
        }
    }

    /// Checks and applies one batch, as the Produce handler does.
    fn write(
        states: &mut ProducerStates,
        b: ProducerBatch,
        offset: i64,
    ) -> Result<Verdict, SequenceError> {
        let mut pending = states.begin();
        let verdict = pending.check(b, at(offset))?;
        let changes = pending.finish();
        states.apply(changes);
        Ok(verdict)
    }

    #[test]
    fn sequences_continue_and_duplicates_are_found() {
        let mut s = ProducerStates::default();
        assert_eq!(write(&mut s, batch(0, 0, 3), 0), Ok(Verdict::Write));
        assert_eq!(write(&mut s, batch(0, 3, 2), 3), Ok(Verdict::Write));
        assert_eq!(
            write(&mut s, batch(0, 0, 3), 99),
            Ok(Verdict::Duplicate(at(0)))
        );
        assert_eq!(s.last_sequence(ID), Some((0, 4)));
        assert!(matches!(
            write(&mut s, batch(0, 6, 1), 5),
            Err(SequenceError::OutOfOrder { expected: 5, .. })
        ));
        // A partial overlap is no duplicate.
        assert!(write(&mut s, batch(0, 3, 1), 5).is_err());
    }

    #[test]
    fn pending_batches_are_seen_but_not_applied_until_finish() {
        let mut s = ProducerStates::default();
        let mut pending = s.begin();
        assert_eq!(pending.check(batch(0, 0, 2), at(0)), Ok(Verdict::Write));
        assert_eq!(pending.check(batch(0, 2, 2), at(2)), Ok(Verdict::Write));
        assert!(pending.check(batch(0, 5, 1), at(4)).is_err());
        drop(pending);
        assert!(s.is_empty(), "nothing applied without finish");
        let mut pending = s.begin();
        pending.check(batch(0, 0, 2), at(0)).unwrap();
        let changes = pending.finish();
        s.apply(changes);
        assert_eq!(s.last_sequence(ID), Some((0, 1)));
    }

    #[test]
    fn window_holds_five_batches() {
        let mut s = ProducerStates::default();
        for i in 0..6 {
            write(&mut s, batch(0, i, 1), i64::from(i)).unwrap();
        }
        for i in 1..6 {
            assert_eq!(
                write(&mut s, batch(0, i, 1), 100),
                Ok(Verdict::Duplicate(at(i64::from(i))))
            );
        }
        assert!(matches!(
            write(&mut s, batch(0, 0, 1), 100),
            Err(SequenceError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn epochs() {
        let mut s = ProducerStates::default();
        write(&mut s, batch(3, 10, 1), 0).unwrap();
        assert!(matches!(
            write(&mut s, batch(2, 11, 1), 1),
            Err(SequenceError::StaleEpoch { current: 3, .. })
        ));
        // A stale duplicate is still stale.
        assert!(write(&mut s, batch(2, 10, 1), 1).is_err());
        assert!(matches!(
            write(&mut s, batch(4, 11, 1), 1),
            Err(SequenceError::NewEpochNotAtZero { .. })
        ));
        assert_eq!(write(&mut s, batch(4, 0, 1), 1), Ok(Verdict::Write));
        // The old epoch's batches are forgotten with it.
        assert!(write(&mut s, batch(3, 10, 1), 2).is_err());
        assert_eq!(s.last_sequence(ID), Some((4, 0)));
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut s = ProducerStates::default();
        write(&mut s, batch(0, i32::MAX - 1, 3), 0).unwrap();
        assert_eq!(s.last_sequence(ID), Some((0, 0)));
        assert_eq!(write(&mut s, batch(0, 1, 1), 3), Ok(Verdict::Write));
        let mut s = ProducerStates::default();
        write(&mut s, batch(0, i32::MAX, 1), 0).unwrap();
        assert_eq!(write(&mut s, batch(0, 0, 1), 1), Ok(Verdict::Write));
        assert_eq!(next_sequence(i32::MAX), 0);
    }

    #[test]
    fn markers_move_the_epoch() {
        let mut s = ProducerStates::default();
        write(&mut s, batch(0, 0, 2), 0).unwrap();
        // Same epoch: the producer's sequence carries on into its next transaction.
        s.end_transaction(ID, 0);
        assert_eq!(write(&mut s, batch(0, 2, 1), 3), Ok(Verdict::Write));
        // A fenced epoch: old batches are forgotten, the new epoch starts at 0.
        s.end_transaction(ID, 1);
        assert!(matches!(
            write(&mut s, batch(0, 3, 1), 4),
            Err(SequenceError::StaleEpoch { current: 1, .. })
        ));
        assert!(matches!(
            write(&mut s, batch(1, 5, 1), 4),
            Err(SequenceError::OutOfOrder { expected: 0, .. })
        ));
        assert_eq!(write(&mut s, batch(1, 0, 1), 4), Ok(Verdict::Write));
        // A marker for a producer never seen here starts its state.
        s.end_transaction(ID + 1, 3);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn producers_are_independent() {
        let mut s = ProducerStates::default();
        write(&mut s, batch(0, 0, 1), 0).unwrap();
        let other = ProducerBatch {
            producer_id: ID + 1,
            ..batch(0, 40, 1)
        };
        assert_eq!(write(&mut s, other, 1), Ok(Verdict::Write));
        assert_eq!(s.len(), 2);
    }
}
