//! JoinGroup (key 11): JoinGroupRequest and JoinGroupResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 9),
    flexible: since(6),
    fields: &[
        field("GroupId", since(0), String),
        field("SessionTimeoutMs", since(0), I32),
        field("RebalanceTimeoutMs", since(1), I32),
        field("MemberId", since(0), String),
        field("GroupInstanceId", since(5), NullableString),
        field("ProtocolType", since(0), String),
        field("Protocols", since(0), Array(&Struct(JOIN_GROUP_REQUEST_PROTOCOL))),
        field("Reason", since(8), NullableString),
    ],
};

const JOIN_GROUP_REQUEST_PROTOCOL: &[Field] = &[
    field("Name", since(0), String),
    field("Metadata", since(0), Bytes),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 9),
    flexible: since(6),
    fields: &[
        field("ThrottleTimeMs", since(2), I32),
        field("ErrorCode", since(0), I16),
        field("GenerationId", since(0), I32),
        field("ProtocolType", since(7), NullableString),
        field("ProtocolName", since(0), NullableString),
        field("Leader", since(0), String),
        field("SkipAssignment", since(9), Bool),
        field("MemberId", since(0), String),
        field("Members", since(0), Array(&Struct(JOIN_GROUP_RESPONSE_MEMBER))),
    ],
};

const JOIN_GROUP_RESPONSE_MEMBER: &[Field] = &[
    field("MemberId", since(0), String),
    field("GroupInstanceId", since(5), NullableString),
    field("Metadata", since(0), Bytes),
];
