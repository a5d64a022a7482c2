//! IncrementalAlterConfigs (key 44), versions 0–1, and AlterConfigs (key 33), versions 0–2.
//!
//! Topic and group resources: IncrementalAlterConfigs applies SET, DELETE (back to the default),
//! APPEND and SUBTRACT (list configs only: `cleanup.policy`) to the topic's explicitly set
//! configs; AlterConfigs replaces them with the given set, as Kafka's legacy API does. Each
//! resource is validated whole and changed whole (or not at all: `validate_only`), and the
//! broker acts on the new values at once. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION,
//! unknown keys, bad values and operations a key does not support INVALID_CONFIG with a
//! message; a group's configs are checked as Kafka checks them (`state/group_configs.rs`),
//! whether or not the group exists; broker resources INVALID_REQUEST (this broker's settings
//! are fixed at start-up),
//! other resource types INVALID_REQUEST.

use std::collections::BTreeMap;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::describe_configs::{BROKER, GROUP, TOPIC};
use crate::state::topic_configs::{self, ConfigType};
use crate::state::{AlterConfigError, BrokerState};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

pub(super) fn incremental(
    state: &BrokerState,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let responses = req
        .resources
        .iter()
        .map(|res| {
            let result = apply(
                state,
                res.resource_type,
                &res.resource_name,
                req.validate_only,
                |old| {
                    let mut new = old.clone();
                    for c in &res.configs {
                        operate(
                            &mut new,
                            c.name.as_str(),
                            c.config_operation,
                            c.value.as_deref(),
                        )?;
                    }
                    Ok(new)
                },
            );
            let (code, message) = outcome(result);
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code.0)
                .with_error_message(message)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone())
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

pub(super) fn legacy(state: &BrokerState, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = req
        .resources
        .iter()
        .map(|res| {
            let result = apply(
                state,
                res.resource_type,
                &res.resource_name,
                req.validate_only,
                |_| {
                    Ok(res
                        .configs
                        .iter()
                        .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                        .collect())
                },
            );
            let (code, message) = outcome(result);
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code.0)
                .with_error_message(message)
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone())
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

/// Changes one resource: `change` turns its current explicit configs into the new ones.
fn apply(
    state: &BrokerState,
    resource_type: i8,
    name: &StrBytes,
    validate_only: bool,
    change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, AlterConfigError>,
) -> Result<(), (ErrorCode, String)> {
    match resource_type {
        TOPIC => {}
        GROUP if name.is_empty() => {
            return Err((
                ErrorCode::INVALID_REQUEST,
                "Default group resources are not allowed.".into(),
            ))
        }
        GROUP => {
            let group = name.as_str();
            let current = state.group_configs(group);
            return change(&current)
                .and_then(|new| state.alter_group_configs(group, &new, validate_only))
                .map_err(|err| {
                    tracing::debug!(group, %err, "group config change refused");
                    (err.code(), err.to_string())
                });
        }
        BROKER => {
            return Err((
                ErrorCode::INVALID_REQUEST,
                "the mini-broker's settings are fixed at start-up".into(),
            ))
        }
        other => {
            return Err((
                ErrorCode::INVALID_REQUEST,
                format!("resource type {other} is not supported"),
            ))
        }
    }
    let topic = name.as_str();
    let current = state
        .topics()
        .get(topic)
        .map(|t| t.config.overrides.clone());
    let result = match current {
        None => Err(AlterConfigError::UnknownTopic(topic.to_owned())),
        Some(current) => {
            change(&current).and_then(|new| state.alter_topic_config(topic, &new, validate_only))
        }
    };
    result.map_err(|err| {
        tracing::debug!(topic, %err, "config change refused");
        (err.code(), err.to_string())
    })
}

/// One IncrementalAlterConfigs operation on `configs`.
fn operate(
    configs: &mut BTreeMap<String, String>,
    key: &str,
    operation: i8,
    value: Option<&str>,
) -> Result<(), AlterConfigError> {
    let known = topic_configs::find(key);
    let list = known.is_some_and(|k| k.config_type == ConfigType::List);
    let items = |v: Option<&str>| -> Vec<String> {
        v.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match operation {
        SET => {
            configs.insert(key.to_owned(), value.unwrap_or_default().to_owned());
        }
        DELETE => {
            configs.remove(key);
        }
        APPEND | SUBTRACT if list => {
            let default = known.map_or("", |k| k.default);
            let mut now = items(Some(configs.get(key).map_or(default, String::as_str)));
            for item in items(value) {
                if operation == APPEND && !now.contains(&item) {
                    now.push(item);
                } else if operation == SUBTRACT {
                    now.retain(|i| *i != item);
                }
            }
            configs.insert(key.to_owned(), now.join(","));
        }
        APPEND | SUBTRACT => {
            let what = if operation == APPEND {
                "APPEND"
            } else {
                "SUBTRACT"
            };
            return Err(AlterConfigError::Operation(format!(
                "Can't {what} to key {key} because its type is not LIST."
            )));
        }
        other => {
            return Err(AlterConfigError::Operation(format!(
                "unknown config operation {other} for {key}"
            )))
        }
    }
    Ok(())
}

fn outcome(result: Result<(), (ErrorCode, String)>) -> (ErrorCode, Option<StrBytes>) {
    match result {
        Ok(()) => (ErrorCode::NONE, None),
        Err((code, message)) => (code, Some(StrBytes::from_string(message))),
    }
}
