//! The one error type of the client, and the one place that decides what is retriable.
//!
//! Why one enum: callers (the producer's retry loop, an application's error handling) need to
//! ask a single question, "may I retry this?", without knowing which layer failed. Kafka error
//! codes keep their number, name and retriable flag from [`ErrorCode`]'s table; everything the
//! client itself detects (I/O, timeouts, a dead connection, a malformed response, a bad config
//! value) gets its own variant with the context needed to act on it.
//!
//! What not: no `anyhow`, no boxed errors. `kafka-protocol` reports encode/decode failures as
//! `anyhow::Error`; those are turned into strings in [`Error::Encode`] and
//! [`Error::MalformedResponse`] at the point where they happen.

use std::fmt;
use std::time::Duration;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker answered with a Kafka error code.
    #[error("{code:?}{}{}", Location(topic.as_deref(), *partition), BrokerMessage(message.as_deref()))]
    Kafka {
        /// The code, with its name and retriable flag.
        code: ErrorCode,
        /// The broker's own message, when the response carries one.
        message: Option<String>,
        /// The topic the error is about, when it is about one.
        topic: Option<String>,
        /// The partition the error is about, when it is about one.
        partition: Option<i32>,
    },
    /// A produced record was not delivered: retries ran out, `delivery.timeout.ms` passed,
    /// the broker refused it, or the producer closed first. `may_be_written` says whether an
    /// attempt may have reached the log anyway (sent, but never answered), so that resending
    /// the record could duplicate it.
    #[error(
        "record for {topic}{} not delivered ({}): {cause}",
        Location(None, *partition),
        if *may_be_written { "it may have been written" } else { "it was not written" }
    )]
    NotDelivered {
        /// The topic.
        topic: String,
        /// The partition, once one was chosen.
        partition: Option<i32>,
        /// Whether an attempt may have been written.
        may_be_written: bool,
        /// The last error seen for the record's batch.
        #[source]
        cause: std::sync::Arc<Error>,
    },
    /// One failure shared by several items: an admin request to one partition leader that
    /// failed as a whole (the broker unreachable, say) fails each partition it carried with
    /// the same cause, while partitions of other leaders get their own answers.
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),
    /// A socket operation failed (connect, read or write).
    #[error("i/o error with {broker}: {source}")]
    Io {
        /// `host:port` of the peer.
        broker: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An operation did not finish in time.
    #[error("{operation} timed out after {after:?}{}", Then("; last error: ", last_error.as_deref()))]
    Timeout {
        /// What was being done, e.g. `Metadata v12 request to 127.0.0.1:9092`.
        operation: String,
        /// How long it ran before it gave up.
        after: Duration,
        /// For an operation that was retried: the error of its last attempt, which says why it
        /// made no progress.
        last_error: Option<Box<Error>>,
    },
    /// The connection is (or became) unusable; the request may or may not have reached the
    /// broker. A new connection may succeed.
    #[error("connection to {broker} is closed: {reason}")]
    Disconnected {
        /// `host:port` of the peer.
        broker: String,
        /// Why the connection was closed, e.g. an I/O error or an unknown correlation id.
        reason: String,
    },
    /// The TLS handshake with a broker failed: its certificate was refused (unknown CA,
    /// another host name, expired), or it is not a TLS listener. Not retried: the same
    /// settings meet the same refusal.
    #[error("TLS with {broker}: {reason}")]
    Tls {
        /// `host:port` of the peer.
        broker: String,
        /// What failed, and what to check.
        reason: String,
    },
    /// SASL authentication with a broker failed: wrong credentials, a mechanism the listener
    /// does not enable, a token refused. Not retried, as Java's `AuthenticationException`.
    #[error("SASL {mechanism} authentication with {broker} failed: {message}")]
    Authentication {
        /// `host:port` of the peer.
        broker: String,
        /// The mechanism tried.
        mechanism: String,
        /// The broker's message, or what went wrong on our side.
        message: String,
    },
    /// The broker sent bytes that do not decode as the response we expected.
    #[error("malformed {api:?} v{version} response from {broker}: {reason}")]
    MalformedResponse {
        /// `host:port` of the peer.
        broker: String,
        /// The API of the request being answered.
        api: ApiKey,
        /// The version the response was read as.
        version: i16,
        /// What was wrong with it.
        reason: String,
    },
    /// A request could not be encoded (a field set that the negotiated version lacks).
    #[error("cannot encode {api:?} v{version} request: {reason}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// The version it was encoded at.
        version: i16,
        /// Why encoding failed.
        reason: String,
    },
    /// The broker does not speak any version of this API that we speak.
    #[error("broker {broker} does not support {api}")]
    UnsupportedApi {
        /// `host:port` of the peer.
        broker: String,
        /// The API key (possibly one `kafka-protocol` does not know).
        api: String,
    },
    /// A configuration key this client does not take: a typo, or a Java client setting that
    /// has no meaning here (the hint says which; see [`crate::ClientConfig::set`]).
    #[error("unknown configuration key `{key}` (value `{value}`){}", Then("; ", hint.as_deref()))]
    UnknownConfig {
        /// The key as given.
        key: String,
        /// The value as given (redacted when the key may hold a secret).
        value: String,
        /// `did you mean `linger.ms`?` for a likely typo, or why a Java setting does not
        /// apply.
        hint: Option<String>,
    },
    /// A configuration value that does not parse or is out of range.
    #[error("invalid value `{value}` for configuration key `{key}`: {reason}")]
    InvalidConfig {
        /// The key, in its Java name.
        key: String,
        /// The value as given (or as set through the typed builder).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A node id that is not in the current cluster view.
    #[error("broker {node_id} is not in the cluster metadata")]
    UnknownBroker {
        /// The node id asked for.
        node_id: i32,
    },
    /// No bootstrap server or known broker could be reached.
    #[error("no broker reachable; tried: {}", tried.join("; "))]
    NoBrokerReachable {
        /// One line per attempt: address and error.
        tried: Vec<String>,
    },
    /// The client was closed.
    #[error("client is closed")]
    Closed,
    /// A consumer's position is outside the partition's log and `auto.offset.reset` is `none`.
    #[error("offset {offset} is out of range for topic {topic} partition {partition} (auto.offset.reset=none)")]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The position that the broker refused.
        offset: i64,
    },
    /// A consumer's position is past the end of its leader epoch in the partition's new
    /// leader's log: records it read were lost in an unclean leader election (KIP-320), and
    /// `auto.offset.reset` is `none`. Seek (to `divergent_offset`, the first offset that may
    /// differ, or elsewhere) to go on.
    #[error(
        "log truncation detected for topic {topic} partition {partition}: position {offset}, \
         the log diverges from {} (auto.offset.reset=none)",
        divergent_offset.map_or_else(|| "an unknown offset".to_owned(), |o| format!("offset {o}"))
    )]
    LogTruncation {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The position that is no longer in the log.
        offset: i64,
        /// Where the leader's log and the consumed records part, when the leader knows.
        divergent_offset: Option<i64>,
    },
    /// A consumer's partition has no committed offset and `auto.offset.reset` is `none`.
    #[error(
        "no committed offset for topic {topic} partition {partition} (auto.offset.reset=none)"
    )]
    NoOffset {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// A fetched record batch failed its CRC check or does not decode. Not retriable: the same
    /// bytes would come back; seek past the batch to skip it.
    #[error(
        "corrupt record batch for topic {topic} partition {partition} at offset {offset}: {reason}"
    )]
    CorruptRecord {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The batch's base offset (or the fetch offset when the batch has none).
        offset: i64,
        /// What was wrong.
        reason: String,
    },
    /// The call is not allowed in the current state, e.g. `seek` on a partition that is not
    /// assigned, or `subscribe` after `assign`.
    #[error("{0}")]
    InvalidState(String),
}

impl Error {
    /// Whether the same operation may succeed if retried (after a metadata refresh or a
    /// reconnect, as the caller sees fit).
    ///
    /// Kafka codes follow [`ErrorCode::is_retriable`]. Everything that points at the transport
    /// (I/O, timeout, a dead connection, no broker reachable) is retriable, as is a broker id
    /// missing from the metadata (a refresh may bring it back). Protocol, encode, config and
    /// "unsupported" errors are not: the same request would fail the same way.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::NotDelivered { cause, .. } | Error::Shared(cause) => cause.is_retriable(),
            Error::Kafka { code, .. } => code.is_retriable(),
            Error::Io { .. }
            | Error::Timeout { .. }
            | Error::Disconnected { .. }
            | Error::UnknownBroker { .. }
            | Error::NoBrokerReachable { .. } => true,
            Error::MalformedResponse { .. }
            | Error::Tls { .. }
            | Error::Authentication { .. }
            | Error::Encode { .. }
            | Error::UnsupportedApi { .. }
            | Error::UnknownConfig { .. }
            | Error::InvalidConfig { .. }
            | Error::Closed
            | Error::OffsetOutOfRange { .. }
            | Error::LogTruncation { .. }
            | Error::NoOffset { .. }
            | Error::CorruptRecord { .. }
            | Error::InvalidState(_) => false,
        }
    }

    /// The Kafka error code, if this error came from one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Kafka { code, .. } => Some(*code),
            Error::Shared(cause) => cause.code(),
            _ => None,
        }
    }

    /// Whether the client (a producer in particular) cannot go on after this error: the
    /// broker refuses this client outright (cluster authorization, a fenced or stale
    /// producer, an unsupported version), or the client was closed. Retriable errors are
    /// never fatal; other errors fail one request or record and leave the client usable.
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::NotDelivered { cause, .. } | Error::Shared(cause) => cause.is_fatal(),
            Error::Kafka { code, .. } => matches!(
                *code,
                ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                    | ErrorCode::PRODUCER_FENCED
                    | ErrorCode::INVALID_PRODUCER_EPOCH
                    | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                    | ErrorCode::UNSUPPORTED_VERSION
                    | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
            ),
            Error::UnsupportedApi { .. } | Error::Closed => true,
            _ => false,
        }
    }

    /// For an [`Error::NotDelivered`]: whether the record may have been written anyway.
    /// False for every other error: those come before a record was handed to a broker.
    pub fn may_be_written(&self) -> bool {
        matches!(
            self,
            Error::NotDelivered {
                may_be_written: true,
                ..
            }
        )
    }

    /// `Ok` for [`ErrorCode::NONE`], otherwise an [`Error::Kafka`] without a location.
    pub fn check(code: i16, message: Option<&str>) -> Result<(), Error> {
        Self::check_at(code, message, None, None)
    }

    /// `Ok` for [`ErrorCode::NONE`], otherwise an [`Error::Kafka`] about `topic`/`partition`.
    pub fn check_at(
        code: i16,
        message: Option<&str>,
        topic: Option<&str>,
        partition: Option<i32>,
    ) -> Result<(), Error> {
        let code = ErrorCode(code);
        if code.is_ok() {
            return Ok(());
        }
        Err(Error::Kafka {
            code,
            message: message.map(str::to_owned),
            topic: topic.map(str::to_owned),
            partition,
        })
    }

    pub(crate) fn invalid_config(key: &str, value: impl fmt::Display, reason: &str) -> Error {
        Error::InvalidConfig {
            key: key.to_owned(),
            value: value.to_string(),
            reason: reason.to_owned(),
        }
    }
}

/// Formats ` for topic t partition 3` (or nothing).
struct Location<'a>(Option<&'a str>, Option<i32>);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(topic) = self.0 {
            write!(f, " for topic {topic}")?;
        }
        if let Some(partition) = self.1 {
            write!(f, " partition {partition}")?;
        }
        Ok(())
    }
}

/// Formats its text then the value (`; last error: …`), or nothing when there is no value.
struct Then<'a, T>(&'a str, Option<T>);

impl<T: fmt::Display> fmt::Display for Then<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.1 {
            Some(value) => write!(f, "{}{value}", self.0),
            None => Ok(()),
        }
    }
}

/// Formats `: message` (or nothing when the broker sent none or an empty one).
struct BrokerMessage<'a>(Option<&'a str>);

impl fmt::Display for BrokerMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(msg) if !msg.is_empty() => write!(f, ": {msg}"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriable_follows_the_code_table() {
        let e = Error::check_at(6, Some("moved"), Some("t"), Some(2)).unwrap_err();
        assert!(e.is_retriable());
        assert_eq!(e.code(), Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        assert_eq!(
            e.to_string(),
            "NOT_LEADER_OR_FOLLOWER(6) for topic t partition 2: moved"
        );
        let e = Error::check(ErrorCode::TOPIC_ALREADY_EXISTS.0, None).unwrap_err();
        assert!(!e.is_retriable());
        assert!(Error::check(0, Some("ignored")).is_ok());
    }

    #[test]
    fn transport_errors_are_retriable_and_config_errors_are_not() {
        let dead = Error::Disconnected {
            broker: "b:1".into(),
            reason: "eof".into(),
        };
        assert!(dead.is_retriable());
        assert!(!Error::invalid_config("client.id", "x", "bad").is_retriable());
        assert!(!Error::Closed.is_retriable());
    }
}
