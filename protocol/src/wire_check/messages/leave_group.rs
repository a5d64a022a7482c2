//! LeaveGroup (key 13): LeaveGroupRequest and LeaveGroupResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 5),
    flexible: since(4),
    fields: &[
        field("GroupId", since(0), String),
        field("MemberId", range(0, 2), String),
        field("Members", since(3), Array(&Struct(MEMBER_IDENTITY))),
    ],
};

const MEMBER_IDENTITY: &[Field] = &[
    field("MemberId", since(3), String),
    field("GroupInstanceId", since(3), NullableString),
    field("Reason", since(5), NullableString),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 5),
    flexible: since(4),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("ErrorCode", since(0), I16),
        field("Members", since(3), Array(&Struct(MEMBER_RESPONSE))),
    ],
};

const MEMBER_RESPONSE: &[Field] = &[
    field("MemberId", since(3), String),
    field("GroupInstanceId", since(3), NullableString),
    field("ErrorCode", since(3), I16),
];
