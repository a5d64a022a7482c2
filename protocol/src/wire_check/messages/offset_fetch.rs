//! OffsetFetch (key 9): OffsetFetchRequest and OffsetFetchResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(1, 9),
    flexible: since(6),
    fields: &[
        field("GroupId", range(1, 7), String),
        field("Topics", range(1, 7), NullableArray(&Struct(OFFSET_FETCH_REQUEST_TOPIC))),
        field("Groups", since(8), Array(&Struct(OFFSET_FETCH_REQUEST_GROUP))),
        field("RequireStable", since(7), Bool),
    ],
};

const OFFSET_FETCH_REQUEST_TOPIC: &[Field] = &[
    field("Name", range(1, 7), String),
    field("PartitionIndexes", range(1, 7), Array(&I32)),
];

const OFFSET_FETCH_REQUEST_GROUP: &[Field] = &[
    field("GroupId", since(8), String),
    field("MemberId", since(9), NullableString),
    field("MemberEpoch", since(9), I32),
    field("Topics", since(8), NullableArray(&Struct(OFFSET_FETCH_REQUEST_TOPICS))),
];

// TopicId: no version on the wire in kafka-protocol 0.18.
const OFFSET_FETCH_REQUEST_TOPICS: &[Field] = &[
    field("Name", since(8), String),
    field("PartitionIndexes", since(8), Array(&I32)),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(1, 10),
    flexible: since(6),
    fields: &[
        field("ThrottleTimeMs", since(3), I32),
        field("Topics", range(1, 7), Array(&Struct(OFFSET_FETCH_RESPONSE_TOPIC))),
        field("ErrorCode", range(2, 7), I16),
        field("Groups", since(8), Array(&Struct(OFFSET_FETCH_RESPONSE_GROUP))),
    ],
};

const OFFSET_FETCH_RESPONSE_TOPIC: &[Field] = &[
    field("Name", range(1, 7), String),
    field("Partitions", range(1, 7), Array(&Struct(OFFSET_FETCH_RESPONSE_PARTITION))),
];

const OFFSET_FETCH_RESPONSE_GROUP: &[Field] = &[
    field("GroupId", since(8), String),
    field("Topics", since(8), Array(&Struct(OFFSET_FETCH_RESPONSE_TOPICS))),
    field("ErrorCode", since(8), I16),
];

const OFFSET_FETCH_RESPONSE_PARTITION: &[Field] = &[
    field("PartitionIndex", range(1, 7), I32),
    field("CommittedOffset", range(1, 7), I64),
    field("CommittedLeaderEpoch", range(5, 7), I32),
    field("Metadata", range(1, 7), NullableString),
    field("ErrorCode", range(1, 7), I16),
];

const OFFSET_FETCH_RESPONSE_TOPICS: &[Field] = &[
    field("Name", range(8, 9), String),
    field("TopicId", since(10), Uuid),
    field("Partitions", since(8), Array(&Struct(OFFSET_FETCH_RESPONSE_PARTITIONS))),
];

const OFFSET_FETCH_RESPONSE_PARTITIONS: &[Field] = &[
    field("PartitionIndex", since(8), I32),
    field("CommittedOffset", since(8), I64),
    field("CommittedLeaderEpoch", since(8), I32),
    field("Metadata", since(8), NullableString),
    field("ErrorCode", since(8), I16),
];
