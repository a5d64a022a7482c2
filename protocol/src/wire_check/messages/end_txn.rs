//! EndTxn (key 26): EndTxnRequest and EndTxnResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("TransactionalId", since(0), String),
        field("ProducerId", since(0), I64),
        field("ProducerEpoch", since(0), I16),
        field("Committed", since(0), Bool),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 5),
    flexible: since(3),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(0), I16),
        field("ProducerId", since(5), I64),
        field("ProducerEpoch", since(5), I16),
    ],
};
