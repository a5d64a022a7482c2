//! DeleteGroups (key 42): DeleteGroupsRequest and DeleteGroupsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("GroupsNames", since(0), Array(&String)),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("Results", since(0), Array(&Struct(DELETABLE_GROUP_RESULT))),
    ],
};

const DELETABLE_GROUP_RESULT: &[Field] = &[
    field("GroupId", since(0), String),
    field("ErrorCode", since(0), I16),
];
