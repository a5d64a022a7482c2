//! DeleteRecords (key 21): DeleteRecordsRequest and DeleteRecordsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("Topics", since(0), Array(&Struct(DELETE_RECORDS_TOPIC))),
        field("TimeoutMs", since(0), I32),
    ],
};

const DELETE_RECORDS_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(DELETE_RECORDS_PARTITION))),
];

const DELETE_RECORDS_PARTITION: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("Offset", since(0), I64),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("Topics", since(0), Array(&Struct(DELETE_RECORDS_TOPIC_RESULT))),
    ],
};

const DELETE_RECORDS_TOPIC_RESULT: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(DELETE_RECORDS_PARTITION_RESULT))),
];

const DELETE_RECORDS_PARTITION_RESULT: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("LowWatermark", since(0), I64),
    field("ErrorCode", since(0), I16),
];
