//! TxnOffsetCommit (key 28): TxnOffsetCommitRequest and TxnOffsetCommitResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("TransactionalId", since(0), String),
        field("GroupId", since(0), String),
        field("ProducerId", since(0), I64),
        field("ProducerEpoch", since(0), I16),
        field("GenerationId", since(3), I32),
        field("MemberId", since(3), String),
        field("GroupInstanceId", since(3), NullableString),
        field("Topics", since(0), Array(&Struct(TXN_OFFSET_COMMIT_REQUEST_TOPIC))),
    ],
};

const TXN_OFFSET_COMMIT_REQUEST_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(TXN_OFFSET_COMMIT_REQUEST_PARTITION))),
];

const TXN_OFFSET_COMMIT_REQUEST_PARTITION: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("CommittedOffset", since(0), I64),
    field("CommittedLeaderEpoch", since(2), I32),
    field("CommittedMetadata", since(0), NullableString),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("Topics", since(0), Array(&Struct(TXN_OFFSET_COMMIT_RESPONSE_TOPIC))),
    ],
};

const TXN_OFFSET_COMMIT_RESPONSE_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(TXN_OFFSET_COMMIT_RESPONSE_PARTITION))),
];

const TXN_OFFSET_COMMIT_RESPONSE_PARTITION: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("ErrorCode", since(0), I16),
];
