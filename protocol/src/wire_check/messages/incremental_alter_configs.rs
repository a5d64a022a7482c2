//! IncrementalAlterConfigs (key 44): IncrementalAlterConfigsRequest and
//! IncrementalAlterConfigsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 1),
    flexible: since(1),
    fields: &[
        field("Resources", since(0), Array(&Struct(ALTER_CONFIGS_RESOURCE))),
        field("ValidateOnly", since(0), Bool),
    ],
};

const ALTER_CONFIGS_RESOURCE: &[Field] = &[
    field("ResourceType", since(0), I8),
    field("ResourceName", since(0), String),
    field("Configs", since(0), Array(&Struct(ALTERABLE_CONFIG))),
];

const ALTERABLE_CONFIG: &[Field] = &[
    field("Name", since(0), String),
    field("ConfigOperation", since(0), I8),
    field("Value", since(0), NullableString),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 1),
    flexible: since(1),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("Responses", since(0), Array(&Struct(ALTER_CONFIGS_RESOURCE_RESPONSE))),
    ],
};

const ALTER_CONFIGS_RESOURCE_RESPONSE: &[Field] = &[
    field("ErrorCode", since(0), I16),
    field("ErrorMessage", since(0), NullableString),
    field("ResourceType", since(0), I8),
    field("ResourceName", since(0), String),
];
