//! AddOffsetsToTxn (key 25): AddOffsetsToTxnRequest and AddOffsetsToTxnResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 4),
    flexible: since(3),
    fields: &[
        field("TransactionalId", since(0), String),
        field("ProducerId", since(0), I64),
        field("ProducerEpoch", since(0), I16),
        field("GroupId", since(0), String),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 4),
    flexible: since(3),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(0), I16),
    ],
};
