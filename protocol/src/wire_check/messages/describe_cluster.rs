//! DescribeCluster (key 60): DescribeClusterRequest and DescribeClusterResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 2),
    flexible: since(0),
    fields: &[
        field("IncludeClusterAuthorizedOperations", since(0), Bool),
        field("EndpointType", since(1), I8),
        field("IncludeFencedBrokers", since(2), Bool),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 2),
    flexible: since(0),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(0), I16),
        field("ErrorMessage", since(0), NullableString),
        field("EndpointType", since(1), I8),
        field("ClusterId", since(0), String),
        field("ControllerId", since(0), I32),
        field("Brokers", since(0), Array(&Struct(DESCRIBE_CLUSTER_BROKER))),
        field("ClusterAuthorizedOperations", since(0), I32),
    ],
};

const DESCRIBE_CLUSTER_BROKER: &[Field] = &[
    field("BrokerId", since(0), I32),
    field("Host", since(0), String),
    field("Port", since(0), I32),
    field("Rack", since(0), NullableString),
    field("IsFenced", since(2), Bool),
];
