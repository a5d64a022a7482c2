//! CreatePartitions (key 37): CreatePartitionsRequest and CreatePartitionsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 3),
    flexible: since(2),
    fields: &[
        field("Topics", since(0), Array(&Struct(CREATE_PARTITIONS_TOPIC))),
        field("TimeoutMs", since(0), I32),
        field("ValidateOnly", since(0), Bool),
    ],
};

const CREATE_PARTITIONS_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Count", since(0), I32),
    field("Assignments", since(0), NullableArray(&Struct(CREATE_PARTITIONS_ASSIGNMENT))),
];

const CREATE_PARTITIONS_ASSIGNMENT: &[Field] = &[
    field("BrokerIds", since(0), Array(&I32)),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 3),
    flexible: since(2),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("Results", since(0), Array(&Struct(CREATE_PARTITIONS_TOPIC_RESULT))),
    ],
};

const CREATE_PARTITIONS_TOPIC_RESULT: &[Field] = &[
    field("Name", since(0), String),
    field("ErrorCode", since(0), I16),
    field("ErrorMessage", since(0), NullableString),
];
