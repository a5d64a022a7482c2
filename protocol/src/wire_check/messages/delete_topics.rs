//! DeleteTopics (key 20): DeleteTopicsRequest and DeleteTopicsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(1, 6),
    flexible: since(4),
    fields: &[
        field("Topics", since(6), Array(&Struct(DELETE_TOPIC_STATE))),
        field("TopicNames", range(1, 5), Array(&String)),
        field("TimeoutMs", since(1), I32),
    ],
};

const DELETE_TOPIC_STATE: &[Field] = &[
    field("Name", since(6), NullableString),
    field("TopicId", since(6), Uuid),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(1, 6),
    flexible: since(4),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("Responses", since(1), Array(&Struct(DELETABLE_TOPIC_RESULT))),
    ],
};

const DELETABLE_TOPIC_RESULT: &[Field] = &[
    field("Name", since(1), NullableString),
    field("TopicId", since(6), Uuid),
    field("ErrorCode", since(1), I16),
    field("ErrorMessage", since(5), NullableString),
];
