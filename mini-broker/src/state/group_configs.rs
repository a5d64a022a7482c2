//! Group configs (KIP-848 consumer groups, KIP-932 share groups, KIP-1071 streams groups):
//! Kafka 4.1's ten keys, set per group id through IncrementalAlterConfigs and reported by
//! DescribeConfigs (resource type 32), checked as Kafka checks them — each value by its type
//! and validator, then the bounds of the broker's `group.*.min/max.*` settings (Kafka's
//! defaults here) and each session timeout above its heartbeat interval. Kafka does not ask
//! whether the group exists, and neither does this broker.
//!
//! This broker serves only classic groups: the configs are stored and reported, not acted on.

use std::collections::BTreeMap;

use super::topic_configs::{Check, ConfigKey, ConfigType};
use super::topics::ConfigError;

const fn key(name: &'static str, default: &'static str, check: Check) -> ConfigKey {
    ConfigKey {
        name,
        config_type: ConfigType::Int,
        default,
        check,
        internal: false,
    }
}

/// Kafka 4.1's group configs, with the defaults a broker with default settings reports.
pub const GROUP_CONFIG_KEYS: &[ConfigKey] = &[
    key("consumer.session.timeout.ms", "45000", Check::AtLeast(1)),
    key("consumer.heartbeat.interval.ms", "5000", Check::AtLeast(1)),
    key("share.session.timeout.ms", "45000", Check::AtLeast(1)),
    key("share.heartbeat.interval.ms", "5000", Check::AtLeast(1)),
    key(
        "share.record.lock.duration.ms",
        "30000",
        Check::AtLeast(1000),
    ),
    ConfigKey {
        name: "share.auto.offset.reset",
        config_type: ConfigType::String,
        default: "latest",
        check: Check::ShareAutoOffsetReset,
        internal: false,
    },
    ConfigKey {
        name: "share.isolation.level",
        config_type: ConfigType::String,
        default: "read_uncommitted",
        check: Check::OneOf(&["read_committed", "read_uncommitted"]),
        internal: false,
    },
    key("streams.session.timeout.ms", "45000", Check::AtLeast(1)),
    key("streams.heartbeat.interval.ms", "5000", Check::AtLeast(1)),
    key("streams.num.standby.replicas", "0", Check::AtLeast(0)),
];

/// A broker setting that bounds a group config, and its (Kafka default) value.
type Bound = (&'static str, i64);

/// The bounds the broker's settings put on a key: (key, lower bound, upper bound), in the
/// order Kafka checks them.
const BOUNDS: &[(&str, Option<Bound>, Bound)] = &[
    (
        "consumer.heartbeat.interval.ms",
        Some(("group.consumer.min.heartbeat.interval.ms", 5000)),
        ("group.consumer.max.heartbeat.interval.ms", 15000),
    ),
    (
        "consumer.session.timeout.ms",
        Some(("group.consumer.min.session.timeout.ms", 45000)),
        ("group.consumer.max.session.timeout.ms", 60000),
    ),
    (
        "share.heartbeat.interval.ms",
        Some(("group.share.min.heartbeat.interval.ms", 5000)),
        ("group.share.max.heartbeat.interval.ms", 15000),
    ),
    (
        "share.session.timeout.ms",
        Some(("group.share.min.session.timeout.ms", 45000)),
        ("group.share.max.session.timeout.ms", 60000),
    ),
    (
        "share.record.lock.duration.ms",
        Some(("group.share.min.record.lock.duration.ms", 15000)),
        ("group.share.max.record.lock.duration.ms", 60000),
    ),
    (
        "streams.heartbeat.interval.ms",
        Some(("group.streams.min.heartbeat.interval.ms", 5000)),
        ("group.streams.max.heartbeat.interval.ms", 15000),
    ),
    (
        "streams.session.timeout.ms",
        Some(("group.streams.min.session.timeout.ms", 45000)),
        ("group.streams.max.session.timeout.ms", 60000),
    ),
    (
        "streams.num.standby.replicas",
        None,
        ("group.streams.max.standby.replicas", 2),
    ),
];

/// The key named `name`, if Kafka knows it.
pub fn find(name: &str) -> Option<&'static ConfigKey> {
    GROUP_CONFIG_KEYS.iter().find(|k| k.name == name)
}

/// Checks a group's configs as they would be after a change (`configs`: every key set),
/// as Kafka's GroupConfig does: names, then each value, then the broker's bounds.
pub fn validate(configs: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    if let Some(unknown) = configs.keys().find(|k| find(k).is_none()) {
        return Err(ConfigError::Conflict(format!(
            "Unknown group config name: {unknown}"
        )));
    }
    for key in GROUP_CONFIG_KEYS {
        if let Some(value) = configs.get(key.name) {
            key.check(value)?;
        }
    }
    let int = |name: &str| -> i64 {
        configs
            .get(name)
            .map(String::as_str)
            .or_else(|| find(name).map(|k| k.default))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    for (name, min, (max_name, max)) in BOUNDS {
        let value = int(name);
        if let Some((min_name, min)) = min {
            if value < *min {
                return Err(ConfigError::Conflict(format!(
                    "{name} must be greater than or equal to {min_name}"
                )));
            }
        }
        if value > *max {
            return Err(ConfigError::Conflict(format!(
                "{name} must be less than or equal to {max_name}"
            )));
        }
    }
    for kind in ["consumer", "share", "streams"] {
        let (session, heartbeat) = (
            format!("{kind}.session.timeout.ms"),
            format!("{kind}.heartbeat.interval.ms"),
        );
        if int(&session) <= int(&heartbeat) {
            return Err(ConfigError::Conflict(format!(
                "{session} must be greater than {heartbeat}"
            )));
        }
    }
    Ok(())
}
