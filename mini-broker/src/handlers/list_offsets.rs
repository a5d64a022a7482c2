//! ListOffsets (key 2), versions 1–10.
//!
//! Special timestamps: -1 latest (the high watermark), -2 earliest (the log start offset),
//! -3 the record with the largest timestamp (KIP-734), -4 earliest local (the same as -2: all
//! data is local), -5 latest tiered (none: offset -1). A timestamp of 0 or more finds the first
//! batch with a record at or after it, with batch granularity as Kafka's time index has;
//! nothing that late gives offset -1. With `isolation_level` 1 (read_committed, v2+) "latest" is
//! the last stable offset (the first offset of the earliest open transaction, else the high
//! watermark), and a timestamp lookup (max timestamp included) that lands at or above it gives
//! offset -1, as Kafka answers; read_uncommitted reads up to the high watermark.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::state::log::PartitionLog;
use crate::state::BrokerState;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let read_committed = req.isolation_level == 1;
    let topics = state.topics();
    let responses = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = topics.get(t.name.0.as_str());
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let result = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    match topic.and_then(|topic| topic.partition(p.partition_index)) {
                        Some(log) => {
                            let (offset, timestamp) = lookup(log, p.timestamp, read_committed);
                            let result = result.with_offset(offset).with_timestamp(timestamp);
                            if version >= 4 {
                                result.with_leader_epoch(0)
                            } else {
                                result
                            }
                        }
                        None => result.with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(responses)
}

/// `(offset, timestamp)` for one query; -1 for "none".
fn lookup(log: &PartitionLog, timestamp: i64, read_committed: bool) -> (i64, i64) {
    let fetchable = if read_committed {
        log.last_stable_offset()
    } else {
        log.next_offset()
    };
    let below = |found: Option<(i64, i64)>| {
        found
            .filter(|(offset, _)| *offset < fetchable)
            .unwrap_or((-1, -1))
    };
    match timestamp {
        LATEST => (fetchable, -1),
        EARLIEST | EARLIEST_LOCAL => (log.log_start_offset(), -1),
        MAX_TIMESTAMP => below(log.max_timestamp()),
        LATEST_TIERED => (-1, -1),
        ts if ts >= 0 => below(log.offset_for_timestamp(ts)),
        _ => (-1, -1),
    }
}
