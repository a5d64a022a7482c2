//! DescribeProducers (key 61): DescribeProducersRequest and DescribeProducersResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("Topics", since(0), Array(&Struct(TOPIC_REQUEST))),
    ],
};

const TOPIC_REQUEST: &[Field] = &[
    field("Name", since(0), String),
    field("PartitionIndexes", since(0), Array(&I32)),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("Topics", since(0), Array(&Struct(TOPIC_RESPONSE))),
    ],
};

const TOPIC_RESPONSE: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(PARTITION_RESPONSE))),
];

const PARTITION_RESPONSE: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("ErrorCode", since(0), I16),
    field("ErrorMessage", since(0), NullableString),
    field("ActiveProducers", since(0), Array(&Struct(PRODUCER_STATE))),
];

const PRODUCER_STATE: &[Field] = &[
    field("ProducerId", since(0), I64),
    field("ProducerEpoch", since(0), I32),
    field("LastSequence", since(0), I32),
    field("LastTimestamp", since(0), I64),
    field("CoordinatorEpoch", since(0), I32),
    field("CurrentTxnStartOffset", since(0), I64),
];
