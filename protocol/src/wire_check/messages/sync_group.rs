//! SyncGroup (key 14): SyncGroupRequest and SyncGroupResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 5),
    flexible: since(4),
    fields: &[
        field("GroupId", since(0), String),
        field("GenerationId", since(0), I32),
        field("MemberId", since(0), String),
        field("GroupInstanceId", since(3), NullableString),
        field("ProtocolType", since(5), NullableString),
        field("ProtocolName", since(5), NullableString),
        field("Assignments", since(0), Array(&Struct(SYNC_GROUP_REQUEST_ASSIGNMENT))),
    ],
};

const SYNC_GROUP_REQUEST_ASSIGNMENT: &[Field] = &[
    field("MemberId", since(0), String),
    field("Assignment", since(0), Bytes),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 5),
    flexible: since(4),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("ErrorCode", since(0), I16),
        field("ProtocolType", since(5), NullableString),
        field("ProtocolName", since(5), NullableString),
        field("Assignment", since(0), Bytes),
    ],
};
