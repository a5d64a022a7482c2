//! The one table of Kafka error codes: number, name, whether a client may retry, and a short
//! description in our own words.
//!
//! Both the client (deciding whether to retry) and the mini-broker (filling `error_code` fields)
//! use [`ErrorCode`]; nothing else in the workspace should spell an error number.

use std::fmt;

/// A Kafka protocol error code, as carried in the `error_code` fields of responses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub i16);

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct ErrorInfo {
    /// Wire value.
    pub code: i16,
    /// The name Kafka uses (`UNKNOWN_TOPIC_OR_PARTITION`).
    pub name: &'static str,
    /// Whether retrying the same request may succeed.
    pub retriable: bool,
    /// A one-line explanation.
    pub description: &'static str,
}

macro_rules! error_codes {
    ($( $code:literal $name:ident $retriable:literal $desc:literal ;)*) => {
        impl ErrorCode {
            $(
                #[doc = $desc]
                pub const $name: ErrorCode = ErrorCode($code);
            )*
        }

        /// Every error code we know, in ascending order of code.
        pub const ERROR_TABLE: &[ErrorInfo] = &[
            $( ErrorInfo { code: $code, name: stringify!($name), retriable: $retriable, description: $desc }, )*
        ];
    };
}

error_codes! {
    -1 UNKNOWN_SERVER_ERROR false "The server hit an unexpected error.";
    0 NONE false "No error.";
    1 OFFSET_OUT_OF_RANGE false "The requested offset is outside the range kept for the partition.";
    2 CORRUPT_MESSAGE true "A message failed its CRC check, exceeded a size limit, or is malformed.";
    3 UNKNOWN_TOPIC_OR_PARTITION true "This server does not host the topic or partition.";
    4 INVALID_FETCH_SIZE false "The requested fetch size is invalid.";
    5 LEADER_NOT_AVAILABLE true "The partition has no leader at the moment, for instance during an election.";
    6 NOT_LEADER_OR_FOLLOWER true "This server is not the leader or a follower of the partition.";
    7 REQUEST_TIMED_OUT true "The request timed out.";
    8 BROKER_NOT_AVAILABLE false "The broker is not available.";
    9 REPLICA_NOT_AVAILABLE true "The replica is not available for the partition.";
    10 MESSAGE_TOO_LARGE false "The request holds a record batch larger than the server accepts.";
    11 STALE_CONTROLLER_EPOCH false "The controller moved to another broker.";
    12 OFFSET_METADATA_TOO_LARGE false "The metadata attached to the committed offset is too large.";
    13 NETWORK_EXCEPTION true "The server disconnected before a response was received.";
    14 COORDINATOR_LOAD_IN_PROGRESS true "The coordinator is still loading its state.";
    15 COORDINATOR_NOT_AVAILABLE true "The coordinator is not available.";
    16 NOT_COORDINATOR true "This server is not the coordinator for the key.";
    17 INVALID_TOPIC_EXCEPTION false "The topic name is invalid or the request may not touch it.";
    18 RECORD_LIST_TOO_LARGE false "The batch is larger than the configured segment size.";
    19 NOT_ENOUGH_REPLICAS true "Fewer in-sync replicas than required.";
    20 NOT_ENOUGH_REPLICAS_AFTER_APPEND true "Written with fewer in-sync replicas than required.";
    21 INVALID_REQUIRED_ACKS false "The acks value is not one of -1, 0 or 1.";
    22 ILLEGAL_GENERATION false "The group generation given is not current.";
    23 INCONSISTENT_GROUP_PROTOCOL false "The member's protocol type or protocols do not match the group.";
    24 INVALID_GROUP_ID false "The group id is empty or invalid.";
    25 UNKNOWN_MEMBER_ID false "The coordinator does not know this member id.";
    26 INVALID_SESSION_TIMEOUT false "The session timeout is outside the allowed range.";
    27 REBALANCE_IN_PROGRESS false "The group is rebalancing; rejoin it.";
    28 INVALID_COMMIT_OFFSET_SIZE false "The committed offset data is too large.";
    29 TOPIC_AUTHORIZATION_FAILED false "Not authorized to access the topic.";
    30 GROUP_AUTHORIZATION_FAILED false "Not authorized to access the group.";
    31 CLUSTER_AUTHORIZATION_FAILED false "Not authorized for this cluster operation.";
    32 INVALID_TIMESTAMP false "A record timestamp is outside the accepted range.";
    33 UNSUPPORTED_SASL_MECHANISM false "The broker does not support the SASL mechanism.";
    34 ILLEGAL_SASL_STATE false "The request is not valid in the current SASL state.";
    35 UNSUPPORTED_VERSION false "The server does not support this version of the request.";
    36 TOPIC_ALREADY_EXISTS false "A topic with this name already exists.";
    37 INVALID_PARTITIONS false "The number of partitions is invalid.";
    38 INVALID_REPLICATION_FACTOR false "The replication factor is invalid.";
    39 INVALID_REPLICA_ASSIGNMENT false "The replica assignment is invalid.";
    40 INVALID_CONFIG false "A configuration value is invalid.";
    41 NOT_CONTROLLER true "This server is not the active controller.";
    42 INVALID_REQUEST false "The request is malformed or not valid for this server.";
    43 UNSUPPORTED_FOR_MESSAGE_FORMAT false "The message format of the partition does not support this request.";
    44 POLICY_VIOLATION false "The request breaks a configured policy.";
    45 OUT_OF_ORDER_SEQUENCE_NUMBER false "The broker received an out-of-order sequence number.";
    46 DUPLICATE_SEQUENCE_NUMBER false "The broker received a duplicate sequence number.";
    47 INVALID_PRODUCER_EPOCH false "The producer's epoch is older than the one the broker knows.";
    48 INVALID_TXN_STATE false "The operation is not valid in the transaction's current state.";
    49 INVALID_PRODUCER_ID_MAPPING false "The producer id does not match the transactional id.";
    50 INVALID_TRANSACTION_TIMEOUT false "The transaction timeout exceeds the broker's maximum.";
    51 CONCURRENT_TRANSACTIONS true "Another transaction operation for this producer is in progress.";
    52 TRANSACTION_COORDINATOR_FENCED false "A newer transaction coordinator exists.";
    53 TRANSACTIONAL_ID_AUTHORIZATION_FAILED false "Not authorized for the transactional id.";
    54 SECURITY_DISABLED false "Security features are disabled.";
    55 OPERATION_NOT_ATTEMPTED false "The operation was skipped because another in the batch failed.";
    56 KAFKA_STORAGE_ERROR true "A disk error occurred while serving the request.";
    57 LOG_DIR_NOT_FOUND false "The log directory does not exist.";
    58 SASL_AUTHENTICATION_FAILED false "SASL authentication failed.";
    59 UNKNOWN_PRODUCER_ID false "The broker has no state for this producer id.";
    60 REASSIGNMENT_IN_PROGRESS false "A partition reassignment is in progress.";
    61 DELEGATION_TOKEN_AUTH_DISABLED false "Delegation token authentication is disabled.";
    62 DELEGATION_TOKEN_NOT_FOUND false "The delegation token was not found.";
    63 DELEGATION_TOKEN_OWNER_MISMATCH false "The principal does not own the delegation token.";
    64 DELEGATION_TOKEN_REQUEST_NOT_ALLOWED false "Delegation token requests are not allowed on this channel.";
    65 DELEGATION_TOKEN_AUTHORIZATION_FAILED false "Not authorized for the delegation token.";
    66 DELEGATION_TOKEN_EXPIRED false "The delegation token has expired.";
    67 INVALID_PRINCIPAL_TYPE false "The principal type is not supported.";
    68 NON_EMPTY_GROUP false "The group still has members.";
    69 GROUP_ID_NOT_FOUND false "The group does not exist.";
    70 FETCH_SESSION_ID_NOT_FOUND true "The fetch session does not exist.";
    71 INVALID_FETCH_SESSION_EPOCH true "The fetch session epoch is not the expected one.";
    72 LISTENER_NOT_FOUND true "The leader has no endpoint on the listener the request came in on.";
    73 TOPIC_DELETION_DISABLED false "Topic deletion is disabled.";
    74 FENCED_LEADER_EPOCH true "The leader epoch in the request is older than the broker's.";
    75 UNKNOWN_LEADER_EPOCH true "The leader epoch in the request is newer than the broker's.";
    76 UNSUPPORTED_COMPRESSION_TYPE false "The consumer does not support the compression type of the data.";
    77 STALE_BROKER_EPOCH false "The broker epoch is stale.";
    78 OFFSET_NOT_AVAILABLE true "The leader's high watermark has not caught up yet.";
    79 MEMBER_ID_REQUIRED false "Join again with the member id the coordinator assigned.";
    80 PREFERRED_LEADER_NOT_AVAILABLE true "The preferred leader is not available.";
    81 GROUP_MAX_SIZE_REACHED false "The group is at its maximum size.";
    82 FENCED_INSTANCE_ID false "Another member with the same group.instance.id replaced this one.";
    83 ELIGIBLE_LEADERS_NOT_AVAILABLE true "No eligible leader is available.";
    84 ELECTION_NOT_NEEDED true "The leader election was not needed.";
    85 NO_REASSIGNMENT_IN_PROGRESS false "No partition reassignment is in progress.";
    86 GROUP_SUBSCRIBED_TO_TOPIC false "The group still subscribes to the topic.";
    87 INVALID_RECORD false "A record failed the broker's validation.";
    88 UNSTABLE_OFFSET_COMMIT true "An open transaction holds offsets for the partition.";
    89 THROTTLING_QUOTA_EXCEEDED true "The throttling quota was exceeded.";
    90 PRODUCER_FENCED false "A newer producer with the same transactional id fenced this one.";
    91 RESOURCE_NOT_FOUND false "The resource does not exist.";
    92 DUPLICATE_RESOURCE false "The request names a resource twice.";
    93 UNACCEPTABLE_CREDENTIAL false "The credential is not acceptable.";
    94 INCONSISTENT_VOTER_SET false "The voter set is inconsistent.";
    95 INVALID_UPDATE_VERSION false "The update version is invalid.";
    96 FEATURE_UPDATE_FAILED false "The feature update failed.";
    97 PRINCIPAL_DESERIALIZATION_FAILURE false "The principal could not be deserialized.";
    98 SNAPSHOT_NOT_FOUND false "The snapshot does not exist.";
    99 POSITION_OUT_OF_RANGE false "The position is outside the snapshot.";
    100 UNKNOWN_TOPIC_ID true "This server does not host a topic with this id.";
    101 DUPLICATE_BROKER_REGISTRATION false "The broker registration is a duplicate.";
    102 BROKER_ID_NOT_REGISTERED false "The broker id is not registered.";
    103 INCONSISTENT_TOPIC_ID true "The topic id does not match the topic name.";
    104 INCONSISTENT_CLUSTER_ID false "The cluster id does not match.";
    105 TRANSACTIONAL_ID_NOT_FOUND false "The transactional id does not exist.";
    106 FETCH_SESSION_TOPIC_ID_ERROR true "The fetch session met a topic id error.";
    107 INELIGIBLE_REPLICA false "The replica is not eligible to be leader.";
    108 NEW_LEADER_ELECTED false "A new leader was elected.";
    109 OFFSET_MOVED_TO_TIERED_STORAGE false "The offset moved to tiered storage.";
    110 FENCED_MEMBER_EPOCH false "The member epoch is fenced.";
    111 UNRELEASED_INSTANCE_ID false "The instance id is still in use.";
    112 UNSUPPORTED_ASSIGNOR false "The assignor is not supported.";
    113 STALE_MEMBER_EPOCH false "The member epoch is stale.";
    114 MISMATCHED_ENDPOINT_TYPE false "The endpoint type does not match.";
    115 UNSUPPORTED_ENDPOINT_TYPE false "The endpoint type is not supported.";
    116 UNKNOWN_CONTROLLER_ID false "The controller id is unknown.";
    117 UNKNOWN_SUBSCRIPTION_ID false "The telemetry subscription id is unknown.";
    118 TELEMETRY_TOO_LARGE false "The telemetry payload is too large.";
    119 INVALID_REGISTRATION false "The registration is invalid.";
    120 TRANSACTION_ABORTABLE false "The transaction must be aborted.";
    121 INVALID_RECORD_STATE false "The record state is invalid.";
    122 SHARE_SESSION_NOT_FOUND true "The share session does not exist.";
    123 INVALID_SHARE_SESSION_EPOCH true "The share session epoch is invalid.";
    124 FENCED_STATE_EPOCH false "The state epoch is fenced.";
    125 INVALID_VOTER_KEY false "The voter key is invalid.";
    126 DUPLICATE_VOTER false "The voter already exists.";
    127 VOTER_NOT_FOUND false "The voter does not exist.";
}

impl ErrorCode {
    /// The table row for this code, if the code is one we know.
    pub fn info(self) -> Option<&'static ErrorInfo> {
        // The table is sorted and dense from -1, so the row index is `code + 1`.
        let idx = usize::try_from(i32::from(self.0) + 1).ok()?;
        ERROR_TABLE.get(idx).filter(|row| row.code == self.0)
    }

    /// Kafka's name for the code, or `UNKNOWN` for codes newer than this table.
    pub fn name(self) -> &'static str {
        self.info().map_or("UNKNOWN", |row| row.name)
    }

    /// Whether the same request may succeed if retried. Unknown codes are not retriable.
    pub fn is_retriable(self) -> bool {
        self.info().is_some_and(|row| row.retriable)
    }

    /// A one-line explanation.
    pub fn description(self) -> &'static str {
        self.info()
            .map_or("An error code this client does not know.", |row| {
                row.description
            })
    }

    /// True for [`ErrorCode::NONE`].
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> i16 {
        code.0
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_dense_and_sorted() {
        for (i, row) in ERROR_TABLE.iter().enumerate() {
            assert_eq!(
                i32::from(row.code),
                i as i32 - 1,
                "row {} out of place",
                row.name
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.name(),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(!ErrorCode::PRODUCER_FENCED.is_retriable());
        assert_eq!(ErrorCode(-2).name(), "UNKNOWN");
        assert_eq!(ErrorCode(i16::MAX).info().map(|r| r.code), None);
        assert!(!ErrorCode(9999).is_retriable());
    }
}
