//! AlterUserScramCredentials (key 51): AlterUserScramCredentialsRequest and
//! AlterUserScramCredentialsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("Deletions", since(0), Array(&Struct(DELETION))),
        field("Upsertions", since(0), Array(&Struct(UPSERTION))),
    ],
};

const DELETION: &[Field] = &[
    field("Name", since(0), String),
    field("Mechanism", since(0), I8),
];

const UPSERTION: &[Field] = &[
    field("Name", since(0), String),
    field("Mechanism", since(0), I8),
    field("Iterations", since(0), I32),
    field("Salt", since(0), Bytes),
    field("SaltedPassword", since(0), Bytes),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("Results", since(0), Array(&Struct(RESULT))),
    ],
};

const RESULT: &[Field] = &[
    field("User", since(0), String),
    field("ErrorCode", since(0), I16),
    field("ErrorMessage", since(0), NullableString),
];
