//! DescribeUserScramCredentials (key 50): DescribeUserScramCredentialsRequest and
//! DescribeUserScramCredentialsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("Users", since(0), NullableArray(&Struct(USER_NAME))),
    ],
};

const USER_NAME: &[Field] = &[
    field("Name", since(0), String),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 0),
    flexible: since(0),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(0), I16),
        field("ErrorMessage", since(0), NullableString),
        field("Results", since(0), Array(&Struct(RESULT))),
    ],
};

const RESULT: &[Field] = &[
    field("User", since(0), String),
    field("ErrorCode", since(0), I16),
    field("ErrorMessage", since(0), NullableString),
    field("CredentialInfos", since(0), Array(&Struct(CREDENTIAL_INFO))),
];

const CREDENTIAL_INFO: &[Field] = &[
    field("Mechanism", since(0), I8),
    field("Iterations", since(0), I32),
];
