//! CreatePartitions (key 37), versions 0–3.
//!
//! Grows a topic to `count` partitions; fewer or equal is INVALID_PARTITIONS, as in Kafka.
//! A manual assignment must name only this broker. `validate_only` changes nothing.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::{BrokerState, MAX_PARTITIONS};

pub(super) fn handle(
    state: &BrokerState,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let node = state.config.node_id;
    let mut topics = state.topics();
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            let fail = |code: ErrorCode, msg: String| {
                result
                    .clone()
                    .with_error_code(code.0)
                    .with_error_message(Some(StrBytes::from_string(msg)))
            };
            let Some(topic) = topics.get_mut(t.name.0.as_str()) else {
                return fail(
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    "no such topic".into(),
                );
            };
            let current = topic.partitions.len();
            let wanted = match usize::try_from(t.count) {
                Ok(n) if n > current && t.count <= MAX_PARTITIONS => n,
                _ => {
                    return fail(
                        ErrorCode::INVALID_PARTITIONS,
                        format!("topic has {current} partitions; asked for {}", t.count),
                    )
                }
            };
            let bad_assignment = t.assignments.as_ref().is_some_and(|a| {
                a.len() != wanted - current
                    || a.iter()
                        .any(|x| !x.broker_ids.iter().map(|b| b.0).eq([node]))
            });
            if bad_assignment {
                return fail(
                    ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                    format!("each new partition must be on broker {node} alone"),
                );
            }
            if !req.validate_only {
                topic.grow_to(wanted);
                tracing::info!(topic = t.name.0.as_str(), partitions = wanted, "grew topic");
            }
            result
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
