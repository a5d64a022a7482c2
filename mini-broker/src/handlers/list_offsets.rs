//! ListOffsets (key 2), versions 1–10.
//!
//! Special timestamps: -1 latest (the high watermark), -2 earliest (the log start offset),
//! -3 the record with the largest timestamp (KIP-734), -4 earliest local (the same as -2: all
//! data is local), -5 latest tiered (none: offset -1). A timestamp of 0 or more finds the first
//! batch with a record at or after it, with batch granularity as Kafka's time index has;
//! nothing that late gives offset -1. There are no transactions yet, so both isolation levels
//! read up to the high watermark.

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
                            let (offset, timestamp) = lookup(log, p.timestamp);
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
fn lookup(log: &PartitionLog, timestamp: i64) -> (i64, i64) {
    match timestamp {
        LATEST => (log.next_offset(), -1),
        EARLIEST | EARLIEST_LOCAL => (log.log_start_offset(), -1),
        MAX_TIMESTAMP => log.max_timestamp().map_or((-1, -1), |(off, ts)| (off, ts)),
        LATEST_TIERED => (-1, -1),
        ts if ts >= 0 => log.offset_for_timestamp(ts).unwrap_or((-1, -1)),
        _ => (-1, -1),
    }
}
