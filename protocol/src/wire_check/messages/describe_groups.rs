//! DescribeGroups (key 15): DescribeGroupsRequest and DescribeGroupsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 6),
    flexible: since(5),
    fields: &[
        field("Groups", since(0), Array(&String)),
        field("IncludeAuthorizedOperations", since(3), Bool),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 6),
    flexible: since(5),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("Groups", since(0), Array(&Struct(DESCRIBED_GROUP))),
    ],
};

const DESCRIBED_GROUP: &[Field] = &[
    field("ErrorCode", since(0), I16),
    field("ErrorMessage", since(6), NullableString),
    field("GroupId", since(0), String),
    field("GroupState", since(0), String),
    field("ProtocolType", since(0), String),
    field("ProtocolData", since(0), String),
    field("Members", since(0), Array(&Struct(DESCRIBED_GROUP_MEMBER))),
    field("AuthorizedOperations", since(3), I32),
];

const DESCRIBED_GROUP_MEMBER: &[Field] = &[
    field("MemberId", since(0), String),
    field("GroupInstanceId", since(4), NullableString),
    field("ClientId", since(0), String),
    field("ClientHost", since(0), String),
    field("MemberMetadata", since(0), Bytes),
    field("MemberAssignment", since(0), Bytes),
];
