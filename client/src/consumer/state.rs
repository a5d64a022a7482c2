//! Per-partition state of the consumer, and the fetched chunks waiting to be handed out.
//!
//! A partition's *position* is the offset of the next record the application gets; its
//! *fetch offset* runs ahead of it by what is buffered. Every change that makes buffered or
//! in-flight data wrong (seek, reset, revocation) bumps the partition's *epoch*; answers
//! carrying an older epoch are dropped on arrival, and chunks of an older epoch are dropped
//! when reached. That is how a fetch sent before a seek can never leak records from the old
//! position.

use std::sync::Arc;

use tokio::time::Instant;

use super::record::{ConsumerRecord, TopicPartition};
use crate::error::Error;

/// Where a partition is in getting a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the group's committed offset.
    NeedsCommitted,
    /// Waiting for a ListOffsets answer for this timestamp (earliest/latest).
    NeedsReset(i64),
    /// Has a position whose last record's leader epoch predates the partition's leader
    /// epoch: waiting for OffsetForLeaderEpoch to confirm the position is still in the log
    /// (KIP-320).
    NeedsValidation,
    /// Has a position; fetching.
    Ready,
    /// Stopped after an error that was reported; waits for a seek.
    Failed(String),
}

#[derive(Debug)]
pub(crate) struct PartitionState {
    pub topic: Arc<str>,
    pub phase: Phase,
    /// Next offset to hand out (meaningful when `Ready` or `Failed`).
    pub position: i64,
    /// Leader epoch of the last record handed out, or of the committed offset; -1 unknown.
    pub last_epoch: i32,
    /// Next offset to fetch.
    pub fetch_offset: i64,
    pub epoch: u64,
    pub paused: bool,
    /// A fetch for this partition is in flight.
    pub in_flight: bool,
    /// A ListOffsets or OffsetFetch for this partition is in flight.
    pub lookup_in_flight: bool,
    /// Chunks of this epoch in the buffer.
    pub buffered: usize,
    /// The last chunk ended in an error: nothing more to fetch until it is reported.
    pub stop_fetching: bool,
    /// No request for this partition before this instant.
    pub retry_at: Option<Instant>,
    /// From the last fetch response; -1 until one arrives.
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// The replica the leader pointed this partition's fetches to (KIP-392), until when.
    pub read_replica: Option<(i32, Instant)>,
    /// The partition leader epoch under which the position is known to be in the log; a
    /// newer leader epoch makes the position [`Phase::NeedsValidation`] (-1: none yet).
    pub validated_epoch: i32,
}

impl PartitionState {
    pub(crate) fn new(topic: Arc<str>, phase: Phase, epoch: u64) -> Self {
        PartitionState {
            topic,
            phase,
            position: -1,
            last_epoch: -1,
            fetch_offset: -1,
            epoch,
            paused: false,
            in_flight: false,
            lookup_in_flight: false,
            buffered: 0,
            stop_fetching: false,
            retry_at: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            read_replica: None,
            validated_epoch: -1,
        }
    }

    /// Starts over at `phase` under a new `epoch`: everything buffered or in flight is stale.
    pub(crate) fn restart(&mut self, phase: Phase, epoch: u64) {
        self.phase = phase;
        self.epoch = epoch;
        self.in_flight = false;
        self.lookup_in_flight = false;
        self.buffered = 0;
        self.stop_fetching = false;
        self.retry_at = None;
    }

    /// Positions at `offset` and makes it ready to fetch.
    pub(crate) fn ready_at(&mut self, offset: i64, leader_epoch: i32) {
        self.phase = Phase::Ready;
        self.position = offset;
        self.fetch_offset = offset;
        self.last_epoch = leader_epoch;
    }

    /// Takes the log end a fetch answer reports (-1: not reported).
    pub(crate) fn note_log_end(&mut self, high_watermark: i64, last_stable_offset: i64) {
        if high_watermark >= 0 {
            self.high_watermark = high_watermark;
        }
        if last_stable_offset >= 0 {
            self.last_stable_offset = last_stable_offset;
        }
    }

    /// True when the next fetch starts at the end of what the last answer said there is to
    /// read: it would wait at the broker for new records.
    pub(crate) fn caught_up(&self, read_committed: bool) -> bool {
        let end = if read_committed {
            self.last_stable_offset
        } else {
            self.high_watermark
        };
        end >= 0 && self.fetch_offset >= end
    }

    /// True once `retry_at` has passed (clearing it), or when there is none.
    pub(crate) fn due(&mut self, now: Instant) -> bool {
        match self.retry_at {
            Some(at) if at > now => false,
            _ => {
                self.retry_at = None;
                true
            }
        }
    }
}

/// Records of one partition from one fetch, handed out in order.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub tp: TopicPartition,
    pub epoch: u64,
    pub records: std::vec::IntoIter<ConsumerRecord>,
    /// The position once every record is handed out (past control batches and aborted
    /// transactions at the end).
    pub next_offset: i64,
    /// Reported after the records.
    pub error: Option<Error>,
}
