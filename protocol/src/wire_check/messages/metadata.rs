//! Metadata (key 3): MetadataRequest and MetadataResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 13),
    flexible: since(9),
    fields: &[
        field("Topics", since(0), NullableArray(&Struct(METADATA_REQUEST_TOPIC))),
        field("AllowAutoTopicCreation", since(4), Bool),
        field("IncludeClusterAuthorizedOperations", range(8, 10), Bool),
        field("IncludeTopicAuthorizedOperations", since(8), Bool),
    ],
};

const METADATA_REQUEST_TOPIC: &[Field] = &[
    field("TopicId", since(10), Uuid),
    field("Name", since(0), NullableString),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 13),
    flexible: since(9),
    fields: &[
        field("ThrottleTimeMs", since(3), I32),
        field("Brokers", since(0), Array(&Struct(METADATA_RESPONSE_BROKER))),
        field("ClusterId", since(2), NullableString),
        field("ControllerId", since(1), I32),
        field("Topics", since(0), Array(&Struct(METADATA_RESPONSE_TOPIC))),
        field("ClusterAuthorizedOperations", range(8, 10), I32),
        field("ErrorCode", since(13), I16),
    ],
};

const METADATA_RESPONSE_BROKER: &[Field] = &[
    field("NodeId", since(0), I32),
    field("Host", since(0), String),
    field("Port", since(0), I32),
    field("Rack", since(1), NullableString),
];

const METADATA_RESPONSE_TOPIC: &[Field] = &[
    field("ErrorCode", since(0), I16),
    field("Name", since(0), NullableString),
    field("TopicId", since(10), Uuid),
    field("IsInternal", since(1), Bool),
    field("Partitions", since(0), Array(&Struct(METADATA_RESPONSE_PARTITION))),
    field("TopicAuthorizedOperations", since(8), I32),
];

const METADATA_RESPONSE_PARTITION: &[Field] = &[
    field("ErrorCode", since(0), I16),
    field("PartitionIndex", since(0), I32),
    field("LeaderId", since(0), I32),
    field("LeaderEpoch", since(7), I32),
    field("ReplicaNodes", since(0), Array(&I32)),
    field("IsrNodes", since(0), Array(&I32)),
    field("OfflineReplicas", since(5), Array(&I32)),
];
