//! AddPartitionsToTxn (key 24), versions 0–5.
//!
//! Versions 0–3 are the client's: one transactional id, its producer id and epoch, and the
//! partitions its transaction is about to write. If any partition does not exist, it gets
//! UNKNOWN_TOPIC_OR_PARTITION, every other one OPERATION_NOT_ATTEMPTED, and nothing is added,
//! as in Kafka. Otherwise the coordinator's one answer goes to every partition: NONE (the
//! transaction is Ongoing and holds them), INVALID_PRODUCER_ID_MAPPING (unknown id, or another
//! producer id), PRODUCER_FENCED (another epoch; INVALID_PRODUCER_EPOCH before v2), or
//! INVALID_REQUEST for an empty transactional id.
//!
//! Versions 4–5 are what Kafka brokers send their transaction coordinator: several
//! transactions per request, each answered on its own. With `verify_only` the partitions are
//! only checked (KIP-890's partition verification): NONE for a partition in the ongoing
//! transaction, TRANSACTION_ABORTABLE for one that is not, or the producer error for all;
//! without it they are added as above. This broker never needs to send either to itself.
//!
//! Not here: topic authorization (no ACLs).

use std::collections::BTreeMap;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if version < 4 {
        let results = add(
            state,
            version,
            &req.v3_and_below_transactional_id.0,
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            false,
            &req.v3_and_below_topics,
        );
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results);
    }
    let results = req
        .transactions
        .iter()
        .map(|t| {
            let results = add(
                state,
                version,
                &t.transactional_id.0,
                t.producer_id.0,
                t.producer_epoch,
                t.verify_only,
                &t.topics,
            );
            AddPartitionsToTxnResult::default()
                .with_transactional_id(t.transactional_id.clone())
                .with_topic_results(results)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// One transaction's partitions: checked, then added or verified.
fn add(
    state: &BrokerState,
    version: i16,
    transactional_id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let partitions: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), *p)))
        .collect();
    let exists: Vec<bool> = {
        let all = state.topics();
        partitions
            .iter()
            .map(|(topic, p)| all.get(topic).and_then(|t| t.partition(*p)).is_some())
            .collect()
    };
    let errors: Vec<ErrorCode> = if exists.iter().all(|e| *e) {
        if verify_only {
            match state.verify_partitions_in_txn(transactional_id, producer_id, epoch, &partitions)
            {
                Ok(errors) => errors,
                Err(code) => vec![code; partitions.len()],
            }
        } else {
            let code =
                state.add_partitions_to_txn(transactional_id, producer_id, epoch, &partitions);
            let code = if code == ErrorCode::PRODUCER_FENCED && version < 2 {
                ErrorCode::INVALID_PRODUCER_EPOCH
            } else {
                code
            };
            vec![code; partitions.len()]
        }
    } else {
        exists
            .iter()
            .map(|e| {
                if *e {
                    ErrorCode::OPERATION_NOT_ATTEMPTED
                } else {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                }
            })
            .collect()
    };
    let mut by_topic: BTreeMap<&str, Vec<AddPartitionsToTxnPartitionResult>> = BTreeMap::new();
    for ((topic, partition), code) in partitions.iter().zip(errors) {
        by_topic.entry(topic.as_str()).or_default().push(
            AddPartitionsToTxnPartitionResult::default()
                .with_partition_index(*partition)
                .with_partition_error_code(code.0),
        );
    }
    topics
        .iter()
        .filter_map(|t| {
            let results = by_topic.remove(t.name.0.as_str())?;
            Some(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(t.name.clone())
                    .with_results_by_partition(results),
            )
        })
        .collect()
}
