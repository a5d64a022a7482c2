//! Produce (key 0): ProduceRequest and ProduceResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(3, 13),
    flexible: since(9),
    fields: &[
        field("TransactionalId", since(3), NullableString),
        field("Acks", since(3), I16),
        field("TimeoutMs", since(3), I32),
        field("TopicData", since(3), Array(&Struct(TOPIC_PRODUCE_DATA))),
    ],
};

const TOPIC_PRODUCE_DATA: &[Field] = &[
    field("Name", range(3, 12), String),
    field("TopicId", since(13), Uuid),
    field("PartitionData", since(3), Array(&Struct(PARTITION_PRODUCE_DATA))),
];

const PARTITION_PRODUCE_DATA: &[Field] = &[
    field("Index", since(3), I32),
    field("Records", since(3), Records),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(3, 13),
    flexible: since(9),
    fields: &[
        field("Responses", since(3), Array(&Struct(TOPIC_PRODUCE_RESPONSE))),
        field("ThrottleTimeMs", since(3), I32),
        tagged(0, "NodeEndpoints", since(10), Array(&Struct(NODE_ENDPOINT))),
    ],
};

const TOPIC_PRODUCE_RESPONSE: &[Field] = &[
    field("Name", range(3, 12), String),
    field("TopicId", since(13), Uuid),
    field("PartitionResponses", since(3), Array(&Struct(PARTITION_PRODUCE_RESPONSE))),
];

const NODE_ENDPOINT: &[Field] = &[
    field("NodeId", since(10), I32),
    field("Host", since(10), String),
    field("Port", since(10), I32),
    field("Rack", since(10), NullableString),
];

const PARTITION_PRODUCE_RESPONSE: &[Field] = &[
    field("Index", since(3), I32),
    field("ErrorCode", since(3), I16),
    field("BaseOffset", since(3), I64),
    field("LogAppendTimeMs", since(3), I64),
    field("LogStartOffset", since(5), I64),
    field("RecordErrors", since(8), Array(&Struct(BATCH_INDEX_AND_ERROR_MESSAGE))),
    field("ErrorMessage", since(8), NullableString),
    tagged(0, "CurrentLeader", since(10), Struct(LEADER_ID_AND_EPOCH)),
];

const BATCH_INDEX_AND_ERROR_MESSAGE: &[Field] = &[
    field("BatchIndex", since(8), I32),
    field("BatchIndexErrorMessage", since(8), NullableString),
];

const LEADER_ID_AND_EPOCH: &[Field] = &[
    field("LeaderId", since(10), I32),
    field("LeaderEpoch", since(10), I32),
];
