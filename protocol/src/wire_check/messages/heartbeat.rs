//! Heartbeat (key 12): HeartbeatRequest and HeartbeatResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 4),
    flexible: since(4),
    fields: &[
        field("GroupId", since(0), String),
        field("GenerationId", since(0), I32),
        field("MemberId", since(0), String),
        field("GroupInstanceId", since(3), NullableString),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 4),
    flexible: since(4),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("ErrorCode", since(0), I16),
    ],
};
