//! AddPartitionsToTxn (key 24): AddPartitionsToTxnRequest and AddPartitionsToTxnResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("Transactions", since(4), Array(&Struct(ADD_PARTITIONS_TO_TXN_TRANSACTION))),
        field("V3AndBelowTransactionalId", range(0, 3), String),
        field("V3AndBelowProducerId", range(0, 3), I64),
        field("V3AndBelowProducerEpoch", range(0, 3), I16),
        field("V3AndBelowTopics", range(0, 3), Array(&Struct(ADD_PARTITIONS_TO_TXN_TOPIC))),
    ],
};

const ADD_PARTITIONS_TO_TXN_TRANSACTION: &[Field] = &[
    field("TransactionalId", since(4), String),
    field("ProducerId", since(4), I64),
    field("ProducerEpoch", since(4), I16),
    field("VerifyOnly", since(4), Bool),
    field("Topics", since(4), Array(&Struct(ADD_PARTITIONS_TO_TXN_TOPIC))),
];

const ADD_PARTITIONS_TO_TXN_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&I32)),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(4), I16),
        field("ResultsByTransaction", since(4), Array(&Struct(ADD_PARTITIONS_TO_TXN_RESULT))),
        field("ResultsByTopicV3AndBelow", range(0, 3), Array(&Struct(ADD_PARTITIONS_TO_TXN_TOPIC_RESULT))),
    ],
};

const ADD_PARTITIONS_TO_TXN_RESULT: &[Field] = &[
    field("TransactionalId", since(4), String),
    field("TopicResults", since(4), Array(&Struct(ADD_PARTITIONS_TO_TXN_TOPIC_RESULT))),
];

const ADD_PARTITIONS_TO_TXN_TOPIC_RESULT: &[Field] = &[
    field("Name", since(0), String),
    field("ResultsByPartition", since(0), Array(&Struct(ADD_PARTITIONS_TO_TXN_PARTITION_RESULT))),
];

const ADD_PARTITIONS_TO_TXN_PARTITION_RESULT: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("PartitionErrorCode", since(0), I16),
];
