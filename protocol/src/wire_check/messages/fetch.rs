//! Fetch (key 1): FetchRequest and FetchResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(4, 18),
    flexible: since(12),
    fields: &[
        field("ReplicaId", range(4, 14), I32),
        field("MaxWaitMs", since(4), I32),
        field("MinBytes", since(4), I32),
        field("MaxBytes", since(4), I32),
        field("IsolationLevel", since(4), I8),
        field("SessionId", since(7), I32),
        field("SessionEpoch", since(7), I32),
        field("Topics", since(4), Array(&Struct(FETCH_TOPIC))),
        field("ForgottenTopicsData", since(7), Array(&Struct(FORGOTTEN_TOPIC))),
        field("RackId", since(11), String),
        tagged(0, "ClusterId", since(12), NullableString),
        tagged(1, "ReplicaState", since(15), Struct(REPLICA_STATE)),
    ],
};

const FETCH_TOPIC: &[Field] = &[
    field("Topic", range(4, 12), String),
    field("TopicId", since(13), Uuid),
    field("Partitions", since(4), Array(&Struct(FETCH_PARTITION))),
];

const FORGOTTEN_TOPIC: &[Field] = &[
    field("Topic", range(7, 12), String),
    field("TopicId", since(13), Uuid),
    field("Partitions", since(7), Array(&I32)),
];

const REPLICA_STATE: &[Field] = &[
    field("ReplicaId", since(15), I32),
    field("ReplicaEpoch", since(15), I64),
];

const FETCH_PARTITION: &[Field] = &[
    field("Partition", since(4), I32),
    field("CurrentLeaderEpoch", since(9), I32),
    field("FetchOffset", since(4), I64),
    field("LastFetchedEpoch", since(12), I32),
    field("LogStartOffset", since(5), I64),
    field("PartitionMaxBytes", since(4), I32),
    tagged(0, "ReplicaDirectoryId", since(17), Uuid),
    tagged(1, "HighWatermark", since(18), I64),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(4, 18),
    flexible: since(12),
    fields: &[
        field("ThrottleTimeMs", since(4), I32),
        field("ErrorCode", since(7), I16),
        field("SessionId", since(7), I32),
        field("Responses", since(4), Array(&Struct(FETCHABLE_TOPIC_RESPONSE))),
        tagged(0, "NodeEndpoints", since(16), Array(&Struct(NODE_ENDPOINT))),
    ],
};

const FETCHABLE_TOPIC_RESPONSE: &[Field] = &[
    field("Topic", range(4, 12), String),
    field("TopicId", since(13), Uuid),
    field("Partitions", since(4), Array(&Struct(PARTITION_DATA))),
];

const NODE_ENDPOINT: &[Field] = &[
    field("NodeId", since(16), I32),
    field("Host", since(16), String),
    field("Port", since(16), I32),
    field("Rack", since(16), NullableString),
];

const PARTITION_DATA: &[Field] = &[
    field("PartitionIndex", since(4), I32),
    field("ErrorCode", since(4), I16),
    field("HighWatermark", since(4), I64),
    field("LastStableOffset", since(4), I64),
    field("LogStartOffset", since(5), I64),
    field("AbortedTransactions", since(4), NullableArray(&Struct(ABORTED_TRANSACTION))),
    field("PreferredReadReplica", since(11), I32),
    field("Records", since(4), Records),
    tagged(0, "DivergingEpoch", since(12), Struct(EPOCH_END_OFFSET)),
    tagged(1, "CurrentLeader", since(12), Struct(LEADER_ID_AND_EPOCH)),
    tagged(2, "SnapshotId", since(12), Struct(SNAPSHOT_ID)),
];

const ABORTED_TRANSACTION: &[Field] = &[
    field("ProducerId", since(4), I64),
    field("FirstOffset", since(4), I64),
];

const EPOCH_END_OFFSET: &[Field] = &[
    field("Epoch", since(12), I32),
    field("EndOffset", since(12), I64),
];

const LEADER_ID_AND_EPOCH: &[Field] = &[
    field("LeaderId", since(12), I32),
    field("LeaderEpoch", since(12), I32),
];

const SNAPSHOT_ID: &[Field] = &[
    field("EndOffset", since(4), I64),
    field("Epoch", since(4), I32),
];
