//! DescribeTransactions (key 65): DescribeTransactionsRequest and DescribeTransactionsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("TransactionalIds", since(0), Array(&String)),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("TransactionStates", since(0), Array(&Struct(TRANSACTION_STATE))),
    ],
};

const TRANSACTION_STATE: &[Field] = &[
    field("ErrorCode", since(0), I16),
    field("TransactionalId", since(0), String),
    field("TransactionState", since(0), String),
    field("TransactionTimeoutMs", since(0), I32),
    field("TransactionStartTimeMs", since(0), I64),
    field("ProducerId", since(0), I64),
    field("ProducerEpoch", since(0), I16),
    field("Topics", since(0), Array(&Struct(TOPIC_DATA))),
];

const TOPIC_DATA: &[Field] = &[
    field("Topic", since(0), String),
    field("Partitions", since(0), Array(&I32)),
];
