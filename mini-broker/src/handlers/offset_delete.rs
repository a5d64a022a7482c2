//! OffsetDelete (key 47), version 0.
//!
//! Deletes a group's committed offsets for some partitions. Allowed in an empty group, and in
//! a consumer group with members for topics none of them subscribes to (read from the members'
//! consumer-protocol subscriptions): a subscribed topic gets GROUP_SUBSCRIBED_TO_TOPIC. A
//! non-empty group of another protocol type gets NON_EMPTY_GROUP, an unknown group
//! GROUP_ID_NOT_FOUND, partitions that do not exist UNKNOWN_TOPIC_OR_PARTITION.
//!
//! Not here: nothing else.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    // Which requested partitions exist, decided under the topics lock alone.
    let exists: Vec<Vec<bool>> = {
        let topics = state.topics();
        req.topics
            .iter()
            .map(|t| {
                let topic = topics.get(t.name.0.as_str());
                t.partitions
                    .iter()
                    .map(|p| {
                        topic.is_some_and(|topic| topic.partition(p.partition_index).is_some())
                    })
                    .collect()
            })
            .collect()
    };
    let known: Vec<(String, i32)> = req
        .topics
        .iter()
        .zip(&exists)
        .flat_map(|(t, exists)| {
            t.partitions
                .iter()
                .zip(exists)
                .filter(|(_, e)| **e)
                .map(|(p, _)| (t.name.0.to_string(), p.partition_index))
        })
        .collect();
    let results = match state.groups.delete_offsets(&req.group_id.0, &known) {
        Ok(results) => results,
        Err(error) => return OffsetDeleteResponse::default().with_error_code(error.0),
    };
    state.save_offset_deletions();
    let mut results = results.into_iter();
    let topics = req
        .topics
        .into_iter()
        .zip(exists)
        .map(|(t, exists)| {
            let partitions = t
                .partitions
                .iter()
                .zip(exists)
                .map(|(p, exists)| {
                    let error = if exists {
                        results.next().unwrap_or(ErrorCode::NONE)
                    } else {
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    };
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(error.0)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
