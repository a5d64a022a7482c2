//! SaslHandshake (key 17): SaslHandshakeRequest and SaslHandshakeResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 1),
    flexible: NEVER,
    fields: &[
        field("Mechanism", since(0), String),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 1),
    flexible: NEVER,
    fields: &[
        field("ErrorCode", since(0), I16),
        field("Mechanisms", since(0), Array(&String)),
    ],
};
