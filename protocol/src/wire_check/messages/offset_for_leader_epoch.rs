//! OffsetForLeaderEpoch (key 23): OffsetForLeaderEpochRequest and OffsetForLeaderEpochResponse.
//! Consumers validate their position after a leader change with it (KIP-320).

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(2, 4),
    flexible: since(4),
    fields: &[
        field("ReplicaId", since(3), I32),
        field("Topics", since(0), Array(&Struct(OFFSET_FOR_LEADER_TOPIC))),
    ],
};

const OFFSET_FOR_LEADER_TOPIC: &[Field] = &[
    field("Topic", since(0), String),
    field("Partitions", since(0), Array(&Struct(OFFSET_FOR_LEADER_PARTITION))),
];

const OFFSET_FOR_LEADER_PARTITION: &[Field] = &[
    field("Partition", since(0), I32),
    field("CurrentLeaderEpoch", since(2), I32),
    field("LeaderEpoch", since(0), I32),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(2, 4),
    flexible: since(4),
    fields: &[
        field("ThrottleTimeMs", since(2), I32),
        field("Topics", since(0), Array(&Struct(OFFSET_FOR_LEADER_TOPIC_RESULT))),
    ],
};

const OFFSET_FOR_LEADER_TOPIC_RESULT: &[Field] = &[
    field("Topic", since(0), String),
    field("Partitions", since(0), Array(&Struct(EPOCH_END_OFFSET))),
];

const EPOCH_END_OFFSET: &[Field] = &[
    field("ErrorCode", since(0), I16),
    field("Partition", since(0), I32),
    field("LeaderEpoch", since(1), I32),
    field("EndOffset", since(0), I64),
];
