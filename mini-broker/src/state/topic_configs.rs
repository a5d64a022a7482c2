//! Every topic config Kafka 4.1 knows: its type, its default as DescribeConfigs reports it on
//! a broker with default settings, and the check Kafka's ConfigDef applies, with Kafka's
//! messages (`Invalid value V for configuration K: …`). Names not here are refused ("Unknown
//! topic config name: K"), as Kafka refuses them.
//!
//! Which of them the broker acts on: see [`super::topics::TopicConfig`]. The rest are
//! checked, stored and reported.

use super::topics::ConfigError;

/// Kafka's config type codes (DescribeConfigs v3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// What a value must be beyond its type (Kafka's validators).
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// Any value of the type.
    Any,
    /// A number at least this (`Range.atLeast`).
    AtLeast(i64),
    /// A number within these bounds (`Range.between`).
    Between(i64, i64),
    /// One of these strings (`ValidString.in`).
    OneOf(&'static [&'static str]),
    /// A comma-separated list of these strings (`ValidList.in`).
    ListOf(&'static [&'static str]),
    /// `compression.gzip.level`: 1 to 9, or -1.
    GzipLevel,
    /// The throttled-replica lists: `*` or `partition:broker,…`.
    ThrottledReplicas,
    /// `share.auto.offset.reset` (a group config): `earliest`, `latest` or
    /// `by_duration:<ISO-8601 duration>`.
    ShareAutoOffsetReset,
}

/// One topic config key.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    /// The key.
    pub name: &'static str,
    /// Its type, as DescribeConfigs v3+ reports it.
    pub config_type: ConfigType,
    /// Kafka's default, as DescribeConfigs reports it for a topic that does not set it.
    pub default: &'static str,
    /// The check of a value.
    pub check: Check,
    /// Kafka's internal keys: accepted, reported only where set.
    pub internal: bool,
}

const fn key(
    name: &'static str,
    config_type: ConfigType,
    default: &'static str,
    check: Check,
) -> ConfigKey {
    ConfigKey {
        name,
        config_type,
        default,
        check,
        internal: false,
    }
}

use Check::*;
use ConfigType::*;

const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// Kafka 4.1's topic configs (LogConfig), in its definition order.
pub const TOPIC_CONFIG_KEYS: &[ConfigKey] = &[
    key("segment.bytes", Int, "1073741824", AtLeast(1_048_576)),
    key("segment.ms", Long, "604800000", AtLeast(1)),
    key("segment.jitter.ms", Long, "0", AtLeast(0)),
    key("segment.index.bytes", Int, "10485760", AtLeast(4)),
    key("flush.messages", Long, "9223372036854775807", AtLeast(1)),
    key("flush.ms", Long, "9223372036854775807", AtLeast(0)),
    key("retention.bytes", Long, "-1", Any),
    key("retention.ms", Long, "604800000", AtLeast(-1)),
    key("max.message.bytes", Int, "1048588", AtLeast(0)),
    key("index.interval.bytes", Int, "4096", AtLeast(0)),
    key("delete.retention.ms", Long, "86400000", AtLeast(0)),
    key("min.compaction.lag.ms", Long, "0", AtLeast(0)),
    key(
        "max.compaction.lag.ms",
        Long,
        "9223372036854775807",
        AtLeast(1),
    ),
    key("file.delete.delay.ms", Long, "60000", AtLeast(0)),
    key("min.cleanable.dirty.ratio", Double, "0.5", Between(0, 1)),
    key(
        "cleanup.policy",
        List,
        "delete",
        ListOf(&["compact", "delete"]),
    ),
    key("unclean.leader.election.enable", Boolean, "false", Any),
    key("min.insync.replicas", Int, "1", AtLeast(1)),
    key(
        "compression.type",
        String,
        "producer",
        OneOf(COMPRESSION_TYPES),
    ),
    key("compression.gzip.level", Int, "-1", GzipLevel),
    key("compression.lz4.level", Int, "9", Between(1, 17)),
    key("compression.zstd.level", Int, "3", Between(-131_072, 22)),
    key("preallocate", Boolean, "false", Any),
    key(
        "message.timestamp.type",
        String,
        "CreateTime",
        OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    key(
        "message.timestamp.before.max.ms",
        Long,
        "9223372036854775807",
        AtLeast(0),
    ),
    key(
        "message.timestamp.after.max.ms",
        Long,
        "3600000",
        AtLeast(0),
    ),
    key(
        "leader.replication.throttled.replicas",
        List,
        "",
        ThrottledReplicas,
    ),
    key(
        "follower.replication.throttled.replicas",
        List,
        "",
        ThrottledReplicas,
    ),
    key("remote.storage.enable", Boolean, "false", Any),
    key("local.retention.ms", Long, "-2", AtLeast(-2)),
    key("local.retention.bytes", Long, "-2", AtLeast(-2)),
    key("remote.log.copy.disable", Boolean, "false", Any),
    key("remote.log.delete.on.disable", Boolean, "false", Any),
    ConfigKey {
        name: "internal.segment.bytes",
        config_type: Int,
        default: "",
        check: Any,
        internal: true,
    },
];

/// The key named `name`, if Kafka knows it.
pub fn find(name: &str) -> Option<&'static ConfigKey> {
    TOPIC_CONFIG_KEYS.iter().find(|k| k.name == name)
}

impl ConfigKey {
    /// Checks `value` as Kafka's ConfigDef does: the type first (the raw value in the
    /// message), then the validator (the parsed value in the message, as Java prints it).
    pub fn check(&self, value: &str) -> Result<(), ConfigError> {
        let invalid =
            |shown: std::string::String, reason: std::string::String| ConfigError::InvalidValue {
                key: self.name.to_owned(),
                value: shown,
                reason,
            };
        let trimmed = value.trim();
        let not_a = |ty: &str| invalid(value.to_owned(), format!("Not a number of type {ty}"));
        match self.config_type {
            Boolean => {
                if !trimmed.eq_ignore_ascii_case("true") && !trimmed.eq_ignore_ascii_case("false") {
                    return Err(invalid(
                        value.to_owned(),
                        "Expected value to be either true or false".to_owned(),
                    ));
                }
            }
            Int | Long => {
                let number: i64 = match self.config_type {
                    Int => trimmed
                        .parse::<i32>()
                        .map(i64::from)
                        .map_err(|_| not_a("INT"))?,
                    _ => trimmed.parse::<i64>().map_err(|_| not_a("LONG"))?,
                };
                self.check_number(number as f64)
                    .map_err(|reason| invalid(number.to_string(), reason))?;
                if matches!(self.check, GzipLevel) && !(number == -1 || (1..=9).contains(&number)) {
                    return Err(invalid(
                        number.to_string(),
                        "Value must be between 1 and 9 or equal to -1".to_owned(),
                    ));
                }
            }
            Double => {
                let number: f64 = trimmed.parse().map_err(|_| not_a("DOUBLE"))?;
                let shown = java_double(number);
                self.check_number(number)
                    .map_err(|reason| invalid(shown, reason))?;
            }
            String => match self.check {
                OneOf(allowed) if !allowed.contains(&trimmed) => {
                    return Err(invalid(trimmed.to_owned(), one_of(allowed)));
                }
                ShareAutoOffsetReset if !is_share_auto_offset_reset(trimmed) => {
                    return Err(invalid(
                        trimmed.to_owned(),
                        format!(
                            "Invalid value `{trimmed}` for configuration {}. The value must be \
                             either 'earliest', 'latest' or of the format \
                             'by_duration:<PnDTnHnMn.nS>'.",
                            self.name
                        ),
                    ));
                }
                _ => {}
            },
            List => {
                let items: Vec<&str> = trimmed
                    .split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                    .collect();
                match self.check {
                    ListOf(allowed) => {
                        if let Some(bad) = items.iter().find(|i| !allowed.contains(i)) {
                            return Err(invalid((*bad).to_owned(), one_of(allowed)));
                        }
                    }
                    ThrottledReplicas => {
                        let replica = |i: &&str| {
                            i.split_once(':').is_some_and(|(p, b)| {
                                p.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok()
                            })
                        };
                        if !(items == ["*"] || items.iter().all(replica)) {
                            return Err(invalid(
                                format!("[{}]", items.join(", ")),
                                format!(
                                    "{} must be the literal '*' or a list of replicas in the \
                                     following format: [partitionId]:[brokerId],[partitionId]:\
                                     [brokerId],...",
                                    self.name
                                ),
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The range checks of a number; `Err` holds the reason.
    fn check_number(&self, number: f64) -> Result<(), std::string::String> {
        match self.check {
            AtLeast(min) if number < min as f64 => Err(format!("Value must be at least {min}")),
            Between(min, _) if number < min as f64 => Err(format!("Value must be at least {min}")),
            Between(_, max) if number > max as f64 => {
                Err(format!("Value must be no more than {max}"))
            }
            _ => Ok(()),
        }
    }
}

/// `earliest`, `latest`, or `by_duration:` and a non-negative ISO-8601 duration (`P`, then
/// days and a time part, as Java's `Duration.parse` reads them; checked by shape).
fn is_share_auto_offset_reset(value: &str) -> bool {
    if matches!(value, "earliest" | "latest") {
        return true;
    }
    let Some(duration) = value.strip_prefix("by_duration:") else {
        return false;
    };
    let Some(rest) = duration.strip_prefix(['P', 'p']) else {
        return false;
    };
    !rest.is_empty()
        && rest.chars().all(|c| {
            c.is_ascii_digit()
                || matches!(c.to_ascii_uppercase(), 'D' | 'T' | 'H' | 'M' | 'S' | '.')
        })
}

/// ValidString's message.
fn one_of(allowed: &[&str]) -> std::string::String {
    format!("String must be one of: {}", allowed.join(", "))
}

/// A double as Java's `Double.toString` writes the common cases: `2.0`, `0.25`.
fn java_double(x: f64) -> std::string::String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e7 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}
