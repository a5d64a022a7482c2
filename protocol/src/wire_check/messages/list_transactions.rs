//! ListTransactions (key 66): ListTransactionsRequest and ListTransactionsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 2),
    flexible: since(0),
    fields: &[
        field("StateFilters", since(0), Array(&String)),
        field("ProducerIdFilters", since(0), Array(&I64)),
        field("DurationFilter", since(1), I64),
        field("TransactionalIdPattern", since(2), NullableString),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 2),
    flexible: since(0),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(0), I16),
        field("UnknownStateFilters", since(0), Array(&String)),
        field("TransactionStates", since(0), Array(&Struct(TRANSACTION_STATE))),
    ],
};

const TRANSACTION_STATE: &[Field] = &[
    field("TransactionalId", since(0), String),
    field("ProducerId", since(0), I64),
    field("TransactionState", since(0), String),
];
