//! CreateTopics (key 19): CreateTopicsRequest and CreateTopicsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(2, 7),
    flexible: since(5),
    fields: &[
        field("Topics", since(2), Array(&Struct(CREATABLE_TOPIC))),
        field("TimeoutMs", since(2), I32),
        field("ValidateOnly", since(2), Bool),
    ],
};

const CREATABLE_TOPIC: &[Field] = &[
    field("Name", since(2), String),
    field("NumPartitions", since(2), I32),
    field("ReplicationFactor", since(2), I16),
    field("Assignments", since(2), Array(&Struct(CREATABLE_REPLICA_ASSIGNMENT))),
    field("Configs", since(2), Array(&Struct(CREATABLE_TOPIC_CONFIG))),
];

const CREATABLE_REPLICA_ASSIGNMENT: &[Field] = &[
    field("PartitionIndex", since(2), I32),
    field("BrokerIds", since(2), Array(&I32)),
];

const CREATABLE_TOPIC_CONFIG: &[Field] = &[
    field("Name", since(2), String),
    field("Value", since(2), NullableString),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(2, 7),
    flexible: since(5),
    fields: &[
        field("ThrottleTimeMs", since(2), I32),
        field("Topics", since(2), Array(&Struct(CREATABLE_TOPIC_RESULT))),
    ],
};

const CREATABLE_TOPIC_RESULT: &[Field] = &[
    field("Name", since(2), String),
    field("TopicId", since(7), Uuid),
    field("ErrorCode", since(2), I16),
    field("ErrorMessage", since(2), NullableString),
    field("NumPartitions", since(5), I32),
    field("ReplicationFactor", since(5), I16),
    field("Configs", since(5), NullableArray(&Struct(CREATABLE_TOPIC_CONFIGS))),
    tagged(0, "TopicConfigErrorCode", since(5), I16),
];

const CREATABLE_TOPIC_CONFIGS: &[Field] = &[
    field("Name", since(5), String),
    field("Value", since(5), NullableString),
    field("ReadOnly", since(5), Bool),
    field("ConfigSource", since(5), I8),
    field("IsSensitive", since(5), Bool),
];
