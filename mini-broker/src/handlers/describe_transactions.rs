//! DescribeTransactions (key 65, KIP-664), version 0.
//!
//! Per transactional id: its state by Kafka's names (Empty, Ongoing, CompleteCommit,
//! CompleteAbort; the Prepare states are never observable here, see `state/transactions.rs`),
//! producer id and epoch, transaction timeout, the start time of the current or last
//! transaction (-1 before the first), and the partitions of the ongoing transaction, grouped
//! by topic. An unknown id gets TRANSACTIONAL_ID_NOT_FOUND, an empty one INVALID_REQUEST.
//!
//! Not here: Kafka also lists the `__consumer_offsets` partition of a group added with
//! AddOffsetsToTxn; this broker has no offsets topic and lists data partitions only.

use std::collections::BTreeMap;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let entry = TransactionState::default().with_transactional_id(id.clone());
            match state.transactions.describe(&id.0) {
                Err(code) => entry.with_error_code(code.0),
                Ok(d) => {
                    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                    for (topic, partition) in d.partitions {
                        by_topic.entry(topic).or_default().push(partition);
                    }
                    entry
                        .with_error_code(ErrorCode::NONE.0)
                        .with_transaction_state(StrBytes::from_static_str(d.state.as_str()))
                        .with_transaction_timeout_ms(d.timeout_ms)
                        .with_transaction_start_time_ms(d.start_ms)
                        .with_producer_id(ProducerId(d.producer_id))
                        .with_producer_epoch(d.producer_epoch)
                        .with_topics(
                            by_topic
                                .into_iter()
                                .map(|(topic, partitions)| {
                                    TopicData::default()
                                        .with_topic(TopicName(StrBytes::from_string(topic)))
                                        .with_partitions(partitions)
                                })
                                .collect(),
                        )
                }
            }
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
