//! DeleteRecords (key 21), versions 0–2.
//!
//! Moves each partition's log start offset up to the requested offset (-1: the high
//! watermark) and answers the new low watermark. As Kafka: an offset above the high watermark,
//! or negative other than -1, gets OFFSET_OUT_OF_RANGE; a topic whose `cleanup.policy` does
//! not include `delete` gets POLICY_VIOLATION; an unknown topic or partition
//! UNKNOWN_TOPIC_OR_PARTITION with low watermark -1; an offset below the current start changes
//! nothing and answers the current start. There are no followers, so the answer comes at once
//! (`timeout_ms` is not needed).
//!
//! Not here: nothing else.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::state::topics::Topic;
use crate::state::BrokerState;

/// What Kafka sends for "delete up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub(super) fn handle(state: &BrokerState, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut topics = state.topics();
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let mut topic = topics.get_mut(t.name.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let (low_watermark, error) = match topic.as_deref_mut() {
                        Some(topic) => delete(topic, p.partition_index, p.offset),
                        None => (-1, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    };
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(low_watermark)
                        .with_error_code(error.0)
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(results)
}

/// `(low watermark, error)` for one partition.
fn delete(topic: &mut Topic, partition: i32, offset: i64) -> (i64, ErrorCode) {
    let deletes = topic.config.deletes();
    let Some(log) = topic.partition_mut(partition) else {
        return (-1, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    };
    if !deletes {
        return (-1, ErrorCode::POLICY_VIOLATION);
    }
    let high_watermark = log.next_offset();
    let offset = if offset == HIGH_WATERMARK {
        high_watermark
    } else {
        offset
    };
    if !(0..=high_watermark).contains(&offset) {
        return (-1, ErrorCode::OFFSET_OUT_OF_RANGE);
    }
    (log.delete_records_before(offset), ErrorCode::NONE)
}
