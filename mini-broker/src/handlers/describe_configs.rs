//! DescribeConfigs (key 32), versions 1–4.
//!
//! Topic resources (type 2) report every key in
//! [`crate::state::topic_configs::TOPIC_CONFIG_KEYS`] (internal ones only where set), marked
//! as set on the topic (source 1) or a
//! default (source 5). Broker resources (type 4) report the few broker settings that shape
//! what clients see. Group resources (type 32) report every group config, set on the group
//! (source 8) or the default (5). Documentation is not provided; other resource types are
//! INVALID_REQUEST.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::group_configs::GROUP_CONFIG_KEYS;
use crate::state::topic_configs::TOPIC_CONFIG_KEYS;
use crate::state::topics::DEFAULT_RETENTION_MS;
use crate::state::BrokerState;

/// Resource types of the config APIs.
pub(super) const TOPIC: i8 = 2;
pub(super) const BROKER: i8 = 4;
pub(super) const GROUP: i8 = 32;
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;
const SOURCE_GROUP: i8 = 8;

/// One config entry before it becomes a response row.
struct Entry {
    name: String,
    value: String,
    source: i8,
    config_type: i8,
}

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = req
        .resources
        .into_iter()
        .map(|res| {
            let name = res.resource_name.as_str().to_owned();
            let base = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            let entries = match res.resource_type {
                TOPIC => topic_entries(state, &name),
                BROKER => broker_entries(state, &name),
                GROUP => group_entries(state, &name),
                _ => Err((
                    ErrorCode::INVALID_REQUEST,
                    "only topic, broker and group resources",
                )),
            };
            match entries {
                Ok(entries) => {
                    // Null or empty: every key, as Kafka answers.
                    let keys = res.configuration_keys.as_ref().filter(|k| !k.is_empty());
                    let configs = entries
                        .into_iter()
                        .filter(|e| keys.is_none_or(|k| k.iter().any(|k| k.as_str() == e.name)))
                        .map(|e| row(e, version, req.include_synonyms))
                        .collect();
                    base.with_configs(configs)
                }
                Err((code, message)) => base
                    .with_error_code(code.0)
                    .with_error_message(Some(StrBytes::from_static_str(message))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn topic_entries(state: &BrokerState, name: &str) -> Result<Vec<Entry>, (ErrorCode, &'static str)> {
    let topics = state.topics();
    let topic = topics
        .get(name)
        .ok_or((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "no such topic"))?;
    Ok(TOPIC_CONFIG_KEYS
        .iter()
        // Kafka's internal keys are reported only where set.
        .filter(|key| !key.internal || topic.config.overrides.contains_key(key.name))
        .map(|key| match topic.config.overrides.get(key.name) {
            Some(value) => Entry {
                name: key.name.to_owned(),
                value: value.clone(),
                source: SOURCE_TOPIC,
                config_type: key.config_type as i8,
            },
            // The broker's log.retention.ms, when set, is the topics' default.
            None if key.name == "retention.ms"
                && state.config.log_retention_ms != DEFAULT_RETENTION_MS =>
            {
                Entry {
                    name: key.name.to_owned(),
                    value: state.config.log_retention_ms.to_string(),
                    source: SOURCE_STATIC_BROKER,
                    config_type: key.config_type as i8,
                }
            }
            None => Entry {
                name: key.name.to_owned(),
                value: key.default.to_owned(),
                source: SOURCE_DEFAULT,
                config_type: key.config_type as i8,
            },
        })
        .collect())
}

/// A group's configs: every key, set on the group (source 8) or Kafka's default (5); a
/// group never configured (or never seen) gets the defaults, as from Kafka.
fn group_entries(state: &BrokerState, name: &str) -> Result<Vec<Entry>, (ErrorCode, &'static str)> {
    if name.is_empty() {
        return Err((ErrorCode::INVALID_REQUEST, "Group name must not be empty"));
    }
    let set = state.group_configs(name);
    Ok(GROUP_CONFIG_KEYS
        .iter()
        .map(|key| {
            let (value, source) = match set.get(key.name) {
                Some(value) => (value.clone(), SOURCE_GROUP),
                None => (key.default.to_owned(), SOURCE_DEFAULT),
            };
            Entry {
                name: key.name.to_owned(),
                value,
                source,
                config_type: key.config_type as i8,
            }
        })
        .collect())
}

fn broker_entries(
    state: &BrokerState,
    name: &str,
) -> Result<Vec<Entry>, (ErrorCode, &'static str)> {
    if !name.is_empty() && name != state.config.node_id.to_string() {
        return Err((ErrorCode::INVALID_REQUEST, "no such broker"));
    }
    let c = &state.config;
    let entry = |name: &str, value: String, config_type| Entry {
        name: name.to_owned(),
        value,
        source: SOURCE_STATIC_BROKER,
        config_type,
    };
    Ok(vec![
        entry(
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
            1,
        ),
        entry("num.partitions", c.default_partitions.to_string(), 3),
        entry("socket.request.max.bytes", c.max_frame_size.to_string(), 3),
        entry(
            "log.retention.bytes",
            c.partition_retention_bytes.to_string(),
            5,
        ),
        entry("log.retention.ms", c.log_retention_ms.to_string(), 5),
    ])
}

fn row(e: Entry, version: i16, synonyms: bool) -> DescribeConfigsResourceResult {
    let value = Some(StrBytes::from_string(e.value));
    let mut row = DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(e.name.clone()))
        .with_value(value.clone())
        .with_config_source(e.source);
    if synonyms {
        row = row.with_synonyms(vec![DescribeConfigsSynonym::default()
            .with_name(StrBytes::from_string(e.name))
            .with_value(value)
            .with_source(e.source)]);
    }
    if version >= 3 {
        row = row.with_config_type(e.config_type);
    }
    row
}
