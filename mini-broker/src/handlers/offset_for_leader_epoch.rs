//! OffsetForLeaderEpoch (key 23), versions 2–4.
//!
//! Consumers (KIP-320) and kgo ask where a leader epoch ended, to check their position after
//! a leader change. This broker has led every partition since its creation, in leader epoch 0
//! (what Metadata reports), so as Kafka's leader answers from its epoch cache: epoch 0 ends at
//! the log end offset (0 for a partition never written), any other epoch is unknown (-1, -1). A `current_leader_epoch` above 0 gets
//! UNKNOWN_LEADER_EPOCH (the client knows of a newer leader than this one); unknown topics and
//! partitions UNKNOWN_TOPIC_OR_PARTITION.
//!
//! Not here: follower requests (`replica_id` is ignored).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::state::BrokerState;

/// The leader epoch of every partition here.
const EPOCH: i32 = 0;
/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
const UNDEFINED: (i32, i64) = (-1, -1);

pub(super) fn handle(
    state: &BrokerState,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = state.topics();
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = topics.get(t.topic.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let log = topic.and_then(|topic| topic.partition(p.partition));
                    let (error, (epoch, end_offset)) = match log {
                        None => (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, UNDEFINED),
                        Some(_) if p.current_leader_epoch > EPOCH => {
                            (ErrorCode::UNKNOWN_LEADER_EPOCH, UNDEFINED)
                        }
                        Some(log) if p.leader_epoch == EPOCH => {
                            (ErrorCode::NONE, (EPOCH, log.next_offset()))
                        }
                        Some(_) => (ErrorCode::NONE, UNDEFINED),
                    };
                    EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_error_code(error.0)
                        .with_leader_epoch(epoch)
                        .with_end_offset(end_offset)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(results)
}
