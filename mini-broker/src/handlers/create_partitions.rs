//! CreatePartitions (key 37), versions 0–3.
//!
//! Grows a topic to `count` partitions; fewer or equal is INVALID_PARTITIONS, as in Kafka.
//! A manual assignment must name only this broker. `validate_only` changes nothing.
//!
//! Limits, as CreateTopics has them: a request adding more than
//! [`MAX_PARTITIONS_PER_REQUEST`] partitions over all its topics gets POLICY_VIOLATION for
//! every topic (Kafka's controller checks this for CreateTopics only; here the memory it
//! guards is the same), and a topic that would take the broker past its `max_partitions`
//! gets POLICY_VIOLATION naming the limit while the others grow.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::{BrokerState, MAX_PARTITIONS_PER_REQUEST};

pub(super) fn handle(
    state: &BrokerState,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let node = state.config.node_id;
    let mut topics = state.topics();
    let adding = req
        .topics
        .iter()
        .map(|t| {
            let current = topics
                .get(t.name.0.as_str())
                .map_or(0, |x| x.partitions.len());
            usize::try_from(t.count).map_or(0, |n| n.saturating_sub(current))
        })
        .fold(0, usize::saturating_add);
    if let Err(err) = BrokerState::check_request_partitions(adding) {
        tracing::info!(
            partitions = adding,
            limit = MAX_PARTITIONS_PER_REQUEST,
            "CreatePartitions refused: {err}"
        );
        let results = req
            .topics
            .into_iter()
            .map(|t| failed(t, err.code(), err.to_string()))
            .collect();
        return CreatePartitionsResponse::default().with_results(results);
    }
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let Some(topic) = topics.get_mut(t.name.0.as_str()) else {
                return failed(
                    t,
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    "no such topic".into(),
                );
            };
            let current = topic.partitions.len();
            let wanted = match usize::try_from(t.count) {
                Ok(n) if n > current => n,
                _ => {
                    let msg = format!("topic has {current} partitions; asked for {}", t.count);
                    return failed(t, ErrorCode::INVALID_PARTITIONS, msg);
                }
            };
            let bad_assignment = t.assignments.as_ref().is_some_and(|a| {
                a.len() != wanted - current
                    || a.iter()
                        .any(|x| !x.broker_ids.iter().map(|b| b.0).eq([node]))
            });
            if bad_assignment {
                let msg = format!("each new partition must be on broker {node} alone");
                return failed(t, ErrorCode::INVALID_REPLICA_ASSIGNMENT, msg);
            }
            let grown = if req.validate_only {
                state.check_room(wanted - current)
            } else {
                state.grow_topic(topic, wanted)
            };
            if let Err(err) = grown {
                return failed(t, err.code(), err.to_string());
            }
            if !req.validate_only {
                tracing::info!(topic = t.name.0.as_str(), partitions = wanted, "grew topic");
            }
            CreatePartitionsTopicResult::default().with_name(t.name)
        })
        .collect();
    if !req.validate_only {
        state.save_topics(&topics);
    }
    CreatePartitionsResponse::default().with_results(results)
}

fn failed(t: CreatePartitionsTopic, code: ErrorCode, msg: String) -> CreatePartitionsTopicResult {
    CreatePartitionsTopicResult::default()
        .with_name(t.name)
        .with_error_code(code.0)
        .with_error_message(Some(StrBytes::from_string(msg)))
}
