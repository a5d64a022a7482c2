//! CreateTopics (key 19), versions 2–7.
//!
//! Creates in-memory topics. Replication factor must be -1 or 1 (there is one broker); a
//! manual assignment is accepted when it names only this broker, one replica per partition.
//! `validate_only` checks everything and creates nothing. Topic configs from
//! [`crate::state::topic_configs::TOPIC_CONFIG_KEYS`] are accepted and checked as Kafka checks
//! them; unknown keys are INVALID_CONFIG.
//! v5+ responses echo the partition count, replication factor and the topic's configs.
//!
//! Limits: a request whose topics add up to more than
//! [`MAX_PARTITIONS_PER_REQUEST`] partitions (10,000, counting `-1` as the default and an
//! assignment as its length) gets POLICY_VIOLATION for every topic and creates nothing, as
//! Kafka's controller answers it, word for word; a topic that would take the broker past its
//! `max_partitions` gets POLICY_VIOLATION naming the limit, and the others are created.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::topic_configs::TOPIC_CONFIG_KEYS;
use crate::state::topics::TopicConfig;
use crate::state::{BrokerState, CreateTopicError, MAX_PARTITIONS_PER_REQUEST};

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let asked = partitions_asked(&req.topics, state.config.default_partitions);
    if let Err(err) = BrokerState::check_request_partitions(asked) {
        tracing::info!(
            partitions = asked,
            limit = MAX_PARTITIONS_PER_REQUEST,
            topics = req.topics.len(),
            "CreateTopics refused: {err}"
        );
        let results = req
            .topics
            .into_iter()
            .map(|topic| {
                CreatableTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(err.code().0)
                    .with_error_message(Some(StrBytes::from_string(err.to_string())))
            })
            .collect();
        return CreateTopicsResponse::default().with_topics(results);
    }
    let results = req
        .topics
        .into_iter()
        .map(|topic| create_one(state, version, topic, req.validate_only))
        .collect();
    CreateTopicsResponse::default().with_topics(results)
}

/// The partitions a request asks for, counted as Kafka counts them for its limit: an
/// assignment's length, else the partition count (`-1` the broker default, others below one
/// nothing: they fail on their own).
fn partitions_asked(topics: &[CreatableTopic], default_partitions: i32) -> usize {
    topics
        .iter()
        .map(|t| match (t.assignments.len(), t.num_partitions) {
            (0, -1) => usize::try_from(default_partitions).unwrap_or(0),
            (0, n) => usize::try_from(n).unwrap_or(0),
            (n, _) => n,
        })
        .fold(0, usize::saturating_add)
}

fn create_one(
    state: &BrokerState,
    version: i16,
    topic: CreatableTopic,
    validate_only: bool,
) -> CreatableTopicResult {
    let result = CreatableTopicResult::default().with_name(topic.name.clone());
    let fail = |code: ErrorCode, message: String| {
        result
            .clone()
            .with_error_code(code.0)
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    let name = topic.name.0.as_str();
    if !matches!(topic.replication_factor, -1 | 1) {
        return fail(
            ErrorCode::INVALID_REPLICATION_FACTOR,
            format!(
                "replication factor {} is larger than the one broker",
                topic.replication_factor
            ),
        );
    }
    let node = state.config.node_id;
    let mut partitions = topic.num_partitions;
    if !topic.assignments.is_empty() {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return fail(
                ErrorCode::INVALID_REQUEST,
                "give either an assignment or a partition count and replication factor".into(),
            );
        }
        let only_us = topic
            .assignments
            .iter()
            .all(|a| a.broker_ids.iter().map(|b| b.0).eq([node]));
        let dense = topic
            .assignments
            .iter()
            .enumerate()
            .all(|(i, a)| a.partition_index as usize == i);
        if !only_us || !dense {
            return fail(
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "assignments must list partitions 0.. in order, each on broker {node} alone"
                ),
            );
        }
        partitions = i32::try_from(topic.assignments.len()).unwrap_or(i32::MAX);
    }
    let pairs = topic
        .configs
        .iter()
        .map(|c| (c.name.as_str(), c.value.as_ref().map(|v| v.as_str())));
    let config = match state.topic_config(pairs) {
        Ok(config) => config,
        Err(err) => return fail(ErrorCode::INVALID_CONFIG, err.to_string()),
    };
    let echo = describe(&config, version);
    let mut topics = state.topics();
    let created = if validate_only {
        state
            .check_partitions(partitions)
            .and_then(|count| state.check_room(count))
            .and_then(|()| match topics.contains_key(name) {
                true => Err(CreateTopicError::Exists(name.to_owned())),
                false => Ok(()),
            })
    } else {
        state.create_topic(&mut topics, name, partitions, config)
    };
    if let Err(err) = created {
        return fail(err.code(), err.to_string());
    }
    let count = match topics.get(name) {
        Some(t) => i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
        None => state.check_partitions(partitions).map_or(-1, |n| n as i32),
    };
    let id = topics.get(name).map(|t| t.id).unwrap_or_default();
    drop(topics);
    tracing::info!(
        topic = name,
        partitions = count,
        validate_only,
        "created topic"
    );
    let result = result.with_topic_id(id);
    if version >= 5 {
        result
            .with_num_partitions(count)
            .with_replication_factor(1)
            .with_configs(Some(echo))
    } else {
        result
    }
}

/// The topic's configs as CreateTopics v5+ reports them.
fn describe(config: &TopicConfig, version: i16) -> Vec<CreatableTopicConfigs> {
    if version < 5 {
        return Vec::new();
    }
    TOPIC_CONFIG_KEYS
        .iter()
        .filter(|key| !key.internal || config.overrides.contains_key(key.name))
        .map(|key| {
            let set = config.overrides.get(key.name);
            CreatableTopicConfigs::default()
                .with_name(StrBytes::from_static_str(key.name))
                .with_value(Some(StrBytes::from_string(
                    set.cloned().unwrap_or_else(|| key.default.to_owned()),
                )))
                // 1 = set on the topic, 5 = default.
                .with_config_source(if set.is_some() { 1 } else { 5 })
        })
        .collect()
}
