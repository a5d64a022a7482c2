//! FindCoordinator (key 10): FindCoordinatorRequest and FindCoordinatorResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 6),
    flexible: since(3),
    fields: &[
        field("Key", range(0, 3), String),
        field("KeyType", since(1), I8),
        field("CoordinatorKeys", since(4), Array(&String)),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 6),
    flexible: since(3),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("ErrorCode", range(0, 3), I16),
        field("ErrorMessage", range(1, 3), NullableString),
        field("NodeId", range(0, 3), I32),
        field("Host", range(0, 3), String),
        field("Port", range(0, 3), I32),
        field("Coordinators", since(4), Array(&Struct(COORDINATOR))),
    ],
};

const COORDINATOR: &[Field] = &[
    field("Key", since(4), String),
    field("NodeId", since(4), I32),
    field("Host", since(4), String),
    field("Port", since(4), I32),
    field("ErrorCode", since(4), I16),
    field("ErrorMessage", since(4), NullableString),
];
