//! OffsetCommit (key 8): OffsetCommitRequest and OffsetCommitResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(2, 9),
    flexible: since(8),
    fields: &[
        field("GroupId", since(2), String),
        field("GenerationIdOrMemberEpoch", since(2), I32),
        field("MemberId", since(2), String),
        field("GroupInstanceId", since(7), NullableString),
        field("RetentionTimeMs", range(2, 4), I64),
        field("Topics", since(2), Array(&Struct(OFFSET_COMMIT_REQUEST_TOPIC))),
    ],
};

// TopicId: no version on the wire in kafka-protocol 0.18.
const OFFSET_COMMIT_REQUEST_TOPIC: &[Field] = &[
    field("Name", since(2), String),
    field("Partitions", since(2), Array(&Struct(OFFSET_COMMIT_REQUEST_PARTITION))),
];

const OFFSET_COMMIT_REQUEST_PARTITION: &[Field] = &[
    field("PartitionIndex", since(2), I32),
    field("CommittedOffset", since(2), I64),
    field("CommittedLeaderEpoch", since(6), I32),
    field("CommittedMetadata", since(2), NullableString),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(2, 10),
    flexible: since(8),
    fields: &[
        field("ThrottleTimeMs", since(3), I32),
        field("Topics", since(2), Array(&Struct(OFFSET_COMMIT_RESPONSE_TOPIC))),
    ],
};

const OFFSET_COMMIT_RESPONSE_TOPIC: &[Field] = &[
    field("Name", range(2, 9), String),
    field("TopicId", since(10), Uuid),
    field("Partitions", since(2), Array(&Struct(OFFSET_COMMIT_RESPONSE_PARTITION))),
];

const OFFSET_COMMIT_RESPONSE_PARTITION: &[Field] = &[
    field("PartitionIndex", since(2), I32),
    field("ErrorCode", since(2), I16),
];
