//! DescribeConfigs (key 32): DescribeConfigsRequest and DescribeConfigsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(1, 4),
    flexible: since(4),
    fields: &[
        field("Resources", since(1), Array(&Struct(DESCRIBE_CONFIGS_RESOURCE))),
        field("IncludeSynonyms", since(1), Bool),
        field("IncludeDocumentation", since(3), Bool),
    ],
};

const DESCRIBE_CONFIGS_RESOURCE: &[Field] = &[
    field("ResourceType", since(1), I8),
    field("ResourceName", since(1), String),
    field("ConfigurationKeys", since(1), NullableArray(&String)),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(1, 4),
    flexible: since(4),
    fields: &[
        field("ThrottleTimeMs", since(1), I32),
        field("Results", since(1), Array(&Struct(DESCRIBE_CONFIGS_RESULT))),
    ],
};

const DESCRIBE_CONFIGS_RESULT: &[Field] = &[
    field("ErrorCode", since(1), I16),
    field("ErrorMessage", since(1), NullableString),
    field("ResourceType", since(1), I8),
    field("ResourceName", since(1), String),
    field("Configs", since(1), Array(&Struct(DESCRIBE_CONFIGS_RESOURCE_RESULT))),
];

const DESCRIBE_CONFIGS_RESOURCE_RESULT: &[Field] = &[
    field("Name", since(1), String),
    field("Value", since(1), NullableString),
    field("ReadOnly", since(1), Bool),
    field("ConfigSource", since(1), I8),
    field("IsSensitive", since(1), Bool),
    field("Synonyms", since(1), Array(&Struct(DESCRIBE_CONFIGS_SYNONYM))),
    field("ConfigType", since(3), I8),
    field("Documentation", since(3), NullableString),
];

const DESCRIBE_CONFIGS_SYNONYM: &[Field] = &[
    field("Name", since(1), String),
    field("Value", since(1), NullableString),
    field("Source", since(1), I8),
];
