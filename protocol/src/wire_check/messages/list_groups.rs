//! ListGroups (key 16): ListGroupsRequest and ListGroupsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("StatesFilter", since(4), Array(&String)),
        field("TypesFilter", since(5), Array(&String)),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("ErrorCode", since(0), I16),
        field("Groups", since(0), Array(&Struct(LISTED_GROUP))),
    ],
};

const LISTED_GROUP: &[Field] = &[
    field("GroupId", since(0), String),
    field("ProtocolType", since(0), String),
    field("GroupState", since(4), String),
    field("GroupType", since(5), String),
];
