//! DescribeProducers (key 61), version 0.
//!
//! The idempotent and transactional producers with state in each partition, as Kafka's
//! partition leader lists them: id, epoch, last sequence and timestamp written, and the first
//! offset of the producer's open transaction (-1 if none). The coordinator epoch is -1 (this
//! broker does not keep the epochs of transaction markers). Unknown topics and partitions get
//! UNKNOWN_TOPIC_OR_PARTITION.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = state.topics();
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = topics.get(t.name.0.as_str());
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let answer = PartitionResponse::default().with_partition_index(index);
                    let Some(log) = topic.and_then(|topic| topic.partition(index)) else {
                        return answer.with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
                    };
                    let producers = log
                        .producers()
                        .active()
                        .into_iter()
                        .map(|(id, epoch, last_sequence, last_timestamp)| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(id))
                                .with_producer_epoch(i32::from(epoch))
                                .with_last_sequence(last_sequence)
                                .with_last_timestamp(last_timestamp)
                                .with_coordinator_epoch(-1)
                                .with_current_txn_start_offset(
                                    log.open_transaction(id).unwrap_or(-1),
                                )
                        })
                        .collect();
                    answer.with_active_producers(producers)
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(results)
}
