//! InitProducerId (key 22): InitProducerIdRequest and InitProducerIdResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

// Enable2Pc: no version on the wire in kafka-protocol 0.18.
// KeepPreparedTxn: no version on the wire in kafka-protocol 0.18.
pub(crate) const REQUEST: Message = Message {
    versions: range(0, 5),
    flexible: since(2),
    fields: &[
        field("TransactionalId", since(0), NullableString),
        field("TransactionTimeoutMs", since(0), I32),
        field("ProducerId", since(3), I64),
        field("ProducerEpoch", since(3), I16),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 6),
    flexible: since(2),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(0), I16),
        field("ProducerId", since(0), I64),
        field("ProducerEpoch", since(0), I16),
        field("OngoingTxnProducerId", since(6), I64),
        field("OngoingTxnProducerEpoch", since(6), I16),
    ],
};
