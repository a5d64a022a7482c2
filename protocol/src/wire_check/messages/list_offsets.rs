//! ListOffsets (key 2): ListOffsetsRequest and ListOffsetsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(1, 10),
    flexible: since(6),
    fields: &[
        field("ReplicaId", since(1), I32),
        field("IsolationLevel", since(2), I8),
        field("Topics", since(1), Array(&Struct(LIST_OFFSETS_TOPIC))),
        field("TimeoutMs", since(10), I32),
    ],
};

const LIST_OFFSETS_TOPIC: &[Field] = &[
    field("Name", since(1), String),
    field("Partitions", since(1), Array(&Struct(LIST_OFFSETS_PARTITION))),
];

const LIST_OFFSETS_PARTITION: &[Field] = &[
    field("PartitionIndex", since(1), I32),
    field("CurrentLeaderEpoch", since(4), I32),
    field("Timestamp", since(1), I64),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(1, 10),
    flexible: since(6),
    fields: &[
        field("ThrottleTimeMs", since(2), I32),
        field("Topics", since(1), Array(&Struct(LIST_OFFSETS_TOPIC_RESPONSE))),
    ],
};

const LIST_OFFSETS_TOPIC_RESPONSE: &[Field] = &[
    field("Name", since(1), String),
    field("Partitions", since(1), Array(&Struct(LIST_OFFSETS_PARTITION_RESPONSE))),
];

const LIST_OFFSETS_PARTITION_RESPONSE: &[Field] = &[
    field("PartitionIndex", since(1), I32),
    field("ErrorCode", since(1), I16),
    field("Timestamp", since(1), I64),
    field("Offset", since(1), I64),
    field("LeaderEpoch", since(4), I32),
];
