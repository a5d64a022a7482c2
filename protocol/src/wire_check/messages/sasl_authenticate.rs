//! SaslAuthenticate (key 36): SaslAuthenticateRequest and SaslAuthenticateResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("AuthBytes", since(0), Bytes),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 2),
    flexible: since(2),
    fields: &[
        field("ErrorCode", since(0), I16),
        field("ErrorMessage", since(0), NullableString),
        field("AuthBytes", since(0), Bytes),
        field("SessionLifetimeMs", since(1), I64),
    ],
};
