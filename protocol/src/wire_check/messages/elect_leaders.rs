//! ElectLeaders (key 43): ElectLeadersRequest and ElectLeadersResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("ElectionType", since(1), I8),
        field("TopicPartitions", since(0), NullableArray(&Struct(TOPIC_PARTITIONS))),
        field("TimeoutMs", since(0), I32),
    ],
};

const TOPIC_PARTITIONS: &[Field] = &[
    field("Topic", since(0), String),
    field("Partitions", since(0), Array(&I32)),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(1), I16),
        field("ReplicaElectionResults", since(0), Array(&Struct(REPLICA_ELECTION_RESULT))),
    ],
};

const REPLICA_ELECTION_RESULT: &[Field] = &[
    field("Topic", since(0), String),
    field("PartitionResult", since(0), Array(&Struct(PARTITION_RESULT))),
];

const PARTITION_RESULT: &[Field] = &[
    field("PartitionId", since(0), I32),
    field("ErrorCode", since(0), I16),
    field("ErrorMessage", since(0), NullableString),
];
