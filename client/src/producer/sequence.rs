//! Idempotence bookkeeping for one partition: sequence numbers, what the broker acknowledged,
//! and what to do when it answers OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID.
//!
//! The rules are the Java client's (`TransactionManager`, idempotent and not transactional),
//! kept in one place without I/O so they can be tested on their own:
//!
//! - A batch gets its base sequence when it is first sent, and keeps it (and its producer id
//!   and epoch) on every retry, so the broker recognises a retry of a batch it already wrote
//!   and answers with the first write's offset instead of writing it twice.
//! - OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that is not the next one expected (an earlier
//!   batch is still unresolved or in flight) is retried as is: it is only waiting for its
//!   predecessor. For the batch right after the last acknowledged one, or right after a batch
//!   whose fate is unknown, there is a real gap: the producer bumps its epoch (KIP-360) and
//!   renumbers.
//! - OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that a later, acknowledged batch overtook is a
//!   gap too, and waiting cannot close it: the broker wrote the later one first and will never
//!   take the earlier numbers under this epoch. Right after a topic is created, Kafka refuses a
//!   partition's first batch (NOT_LEADER_OR_FOLLOWER) and writes the next one, a request later,
//!   since a partition that has not seen the producer takes any first sequence (KIP-360).
//! - UNKNOWN_PRODUCER_ID (the broker lost our state, e.g. the log was truncated) bumps the
//!   epoch, unless the broker did not say where its log starts, in which case it is retried.
//! - A batch that failed after having been sent makes the partition *unresolved*: it may or
//!   may not be in the log. No new batch goes out until every batch sent before it has an
//!   answer; if the last one acknowledged is then the last one assigned, all is well,
//!   otherwise the epoch is bumped.
//!
//! What not: transactions (which reset sequences without bumping the epoch).

/// A producer id and epoch.
pub(crate) type ProducerIdEpoch = (i64, i16);

/// `seq + by`, wrapping from `i32::MAX` to 0 as Kafka sequences do.
pub(crate) fn increment(seq: i32, by: i32) -> i32 {
    if seq > i32::MAX - by {
        by - (i32::MAX - seq) - 1
    } else {
        seq + by
    }
}

/// One partition's sequence state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sequences {
    /// The producer id/epoch the numbers below belong to; `None` before the first batch.
    pub(crate) producer: Option<ProducerIdEpoch>,
    /// The sequence the next new batch starts at.
    pub(crate) next: i32,
    /// Last sequence of the last batch the broker acknowledged, under `producer`.
    pub(crate) last_acked: Option<i32>,
    /// Last sequence of the latest batch that failed without a known fate.
    pub(crate) unresolved: Option<i32>,
    /// This partition's numbering is broken: renumber under a new epoch.
    pub(crate) needs_reset: bool,
}

/// What to do with a batch the broker refused with a sequence error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceVerdict {
    /// Send it again as it is.
    Retry,
    /// Send it again, after a new epoch and renumbering.
    RetryAfterBump,
}

impl Sequences {
    /// Starts over at sequence 0 for `producer`.
    pub(crate) fn reset(&mut self, producer: ProducerIdEpoch) {
        *self = Sequences {
            producer: Some(producer),
            ..Sequences::default()
        };
    }

    /// Assigns `records` sequence numbers; returns the first.
    pub(crate) fn assign(&mut self, records: i32) -> i32 {
        let base = self.next;
        self.next = increment(base, records);
        base
    }

    /// Whether a batch starting at `base_seq` is the one right after the last acknowledged.
    pub(crate) fn is_next(&self, base_seq: i32) -> bool {
        match self.last_acked {
            Some(last) => increment(last, 1) == base_seq,
            None => base_seq == 0,
        }
    }

    /// Whether a batch starting at `base_seq` lies at or before the last acknowledged sequence:
    /// a batch numbered after it is in the log already.
    pub(crate) fn is_behind_acked(&self, base_seq: i32) -> bool {
        let Some(last) = self.last_acked else {
            return false;
        };
        // Both were handed out before `next`: the one further back from it is the older.
        span(base_seq, self.next) > span(increment(last, 1), self.next)
    }

    /// The broker acknowledged a batch ending at `last_seq`.
    pub(crate) fn acked(&mut self, last_seq: i32) {
        self.last_acked = Some(last_seq);
    }

    /// A batch ending at `last_seq` failed and may or may not be in the log.
    pub(crate) fn mark_unresolved(&mut self, last_seq: i32) {
        self.unresolved = Some(match self.unresolved {
            // The later of the two (sequences only move forward within a numbering).
            Some(seen) if seen.wrapping_sub(last_seq) > 0 => seen,
            _ => last_seq,
        });
    }

    /// Once nothing of this partition is in flight or waiting: unresolved batches whose
    /// successors were all acknowledged are settled; otherwise the partition needs a new
    /// epoch. Returns true when a bump is needed.
    pub(crate) fn resolve(&mut self) -> bool {
        if self.unresolved.is_none() {
            return false;
        }
        self.unresolved = None;
        if self.is_next(self.next) {
            false
        } else {
            self.needs_reset = true;
            true
        }
    }

    /// OUT_OF_ORDER_SEQUENCE_NUMBER for a batch starting at `base_seq`.
    pub(crate) fn on_out_of_order(&mut self, base_seq: i32) -> SequenceVerdict {
        let after_unresolved = self
            .unresolved
            .is_some_and(|last| increment(last, 1) == base_seq);
        let next_expected = self.unresolved.is_none() && self.is_next(base_seq);
        if next_expected || after_unresolved || self.is_behind_acked(base_seq) {
            self.needs_reset = true;
            SequenceVerdict::RetryAfterBump
        } else {
            // An earlier batch has not been answered yet; this one just waits its turn.
            SequenceVerdict::Retry
        }
    }

    /// UNKNOWN_PRODUCER_ID; `log_start_offset` is -1 when the broker did not know it.
    pub(crate) fn on_unknown_producer(&mut self, log_start_offset: i64) -> SequenceVerdict {
        if log_start_offset == -1 {
            SequenceVerdict::Retry
        } else {
            self.needs_reset = true;
            SequenceVerdict::RetryAfterBump
        }
    }

    /// A batch that surely was not written failed for good: its numbers are a gap that only
    /// a new epoch closes.
    pub(crate) fn on_gap(&mut self) {
        self.needs_reset = true;
    }
}

/// How many sequences lie from `from` up to `to`, counting across the wrap at `i32::MAX`.
fn span(from: i32, to: i32) -> i64 {
    (i64::from(to) - i64::from(from)).rem_euclid(i64::from(i32::MAX) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(increment(0, 5), 5);
        assert_eq!(increment(i32::MAX, 1), 0);
        assert_eq!(increment(i32::MAX - 1, 5), 3);
        let mut s = Sequences {
            next: i32::MAX - 1,
            ..Sequences::default()
        };
        assert_eq!(s.assign(3), i32::MAX - 1);
        assert_eq!(s.next, 1);
    }

    #[test]
    fn out_of_order_waits_for_predecessors_and_bumps_on_a_real_gap() {
        let mut s = Sequences::default();
        s.reset((7, 0));
        let a = s.assign(10); // 0..=9
        let b = s.assign(10); // 10..=19
                              // b refused while a is unanswered: wait.
        assert_eq!(s.on_out_of_order(b), SequenceVerdict::Retry);
        assert!(!s.needs_reset);
        // a refused: nothing before it is missing, so the broker lost track: bump.
        assert_eq!(s.on_out_of_order(a), SequenceVerdict::RetryAfterBump);
        assert!(s.needs_reset);

        let mut s = Sequences::default();
        s.reset((7, 0));
        let a = s.assign(1);
        s.acked(a);
        let b = s.assign(1);
        assert!(s.is_next(b));
        assert_eq!(s.on_out_of_order(b), SequenceVerdict::RetryAfterBump);
    }

    #[test]
    fn out_of_order_behind_an_acknowledged_batch_bumps() {
        // a refused (not written), b written first: a's numbers can never be taken again.
        let mut s = Sequences::default();
        s.reset((7, 0));
        let a = s.assign(10);
        let b = s.assign(10);
        let c = s.assign(10);
        s.acked(b + 9);
        assert!(s.is_behind_acked(a));
        assert!(!s.is_behind_acked(c), "c comes after b: not behind");
        assert_eq!(s.on_out_of_order(a), SequenceVerdict::RetryAfterBump);
        assert!(s.needs_reset);
        // The same across the wrap at i32::MAX.
        let mut s = Sequences {
            next: i32::MAX - 4,
            ..Sequences::default()
        };
        let a = s.assign(10); // i32::MAX-4 ..= 4
        let b = s.assign(10); // 5..=14
        let c = s.assign(10);
        s.acked(b + 9);
        assert!(s.is_behind_acked(a));
        assert!(!s.is_behind_acked(c));
        assert!(
            !s.is_behind_acked(increment(b, 10)),
            "the next one is not behind"
        );
        assert_eq!(s.on_out_of_order(c), SequenceVerdict::RetryAfterBump);
    }

    #[test]
    fn unresolved_batches_settle_or_bump() {
        // A batch expired, but the one after it was acknowledged: it must have been written.
        let mut s = Sequences::default();
        s.reset((1, 0));
        let a = s.assign(2);
        s.mark_unresolved(a + 1);
        let b = s.assign(2);
        // b right after the unresolved batch, refused: the gap is real.
        assert_eq!(s.on_out_of_order(b), SequenceVerdict::RetryAfterBump);
        let mut s2 = s.clone();
        s2.needs_reset = false;
        s2.acked(b + 1);
        assert!(!s2.resolve());
        assert_eq!(s2.unresolved, None);
        // Nothing acknowledged after it: bump.
        let mut s3 = Sequences::default();
        s3.reset((1, 0));
        let a = s3.assign(2);
        s3.mark_unresolved(a + 1);
        assert!(s3.resolve());
        assert!(s3.needs_reset);
        // A later batch refused while an unresolved one is not its predecessor: wait.
        let mut s4 = Sequences::default();
        s4.reset((1, 0));
        let a = s4.assign(1);
        let _b = s4.assign(1);
        let c = s4.assign(1);
        s4.mark_unresolved(a);
        assert_eq!(s4.on_out_of_order(c), SequenceVerdict::Retry);
    }

    #[test]
    fn unknown_producer_id() {
        let mut s = Sequences::default();
        assert_eq!(s.on_unknown_producer(-1), SequenceVerdict::Retry);
        assert!(!s.needs_reset);
        assert_eq!(s.on_unknown_producer(100), SequenceVerdict::RetryAfterBump);
        assert!(s.needs_reset);
    }
}
