//! DeleteTopics (key 20), versions 1–6.
//!
//! Removes topics and their data at once. Up to v5 topics are named; v6 names them or gives
//! their ids. Unknown names get UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n.0.to_string()), Uuid::nil()))
            .collect()
    };
    let mut topics = state.topics();
    let responses = targets
        .into_iter()
        .map(|(name, id)| {
            let name = name.or_else(|| {
                topics
                    .iter()
                    .find(|(_, t)| t.id == id && !id.is_nil())
                    .map(|(n, _)| n.clone())
            });
            let removed = name
                .as_ref()
                .and_then(|n| state.delete_topic(&mut topics, n));
            let result = DeletableTopicResult::default()
                .with_name(name.clone().map(|n| TopicName(StrBytes::from_string(n))));
            match removed {
                Some(topic) => {
                    tracing::info!(topic = name.as_deref(), "deleted topic");
                    result.with_topic_id(topic.id)
                }
                None if name.is_none() => result
                    .with_topic_id(id)
                    .with_error_code(ErrorCode::UNKNOWN_TOPIC_ID.0),
                None => result.with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0),
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
