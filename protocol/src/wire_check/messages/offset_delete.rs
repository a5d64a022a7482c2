//! OffsetDelete (key 47): OffsetDeleteRequest and OffsetDeleteResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 0),
    flexible: NEVER,
    fields: &[
        field("GroupId", since(0), String),
        field("Topics", since(0), Array(&Struct(OFFSET_DELETE_REQUEST_TOPIC))),
    ],
};

const OFFSET_DELETE_REQUEST_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(OFFSET_DELETE_REQUEST_PARTITION))),
];

const OFFSET_DELETE_REQUEST_PARTITION: &[Field] = &[
    field("PartitionIndex", since(0), I32),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 0),
    flexible: NEVER,
    fields: &[
        field("ErrorCode", since(0), I16),
        field("ThrottleTimeMs", since(0), I32),
        field("Topics", since(0), Array(&Struct(OFFSET_DELETE_RESPONSE_TOPIC))),
    ],
};

const OFFSET_DELETE_RESPONSE_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(OFFSET_DELETE_RESPONSE_PARTITION))),
];

const OFFSET_DELETE_RESPONSE_PARTITION: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("ErrorCode", since(0), I16),
];
