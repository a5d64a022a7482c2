//! ApiVersions (key 18): ApiVersionsRequest and ApiVersionsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(0, 4),
    flexible: since(3),
    fields: &[
        field("ClientSoftwareName", since(3), String),
        field("ClientSoftwareVersion", since(3), String),
    ],
};

pub(crate) const RESPONSE: Message = Message {
    versions: range(0, 4),
    flexible: since(3),
    fields: &[
        field("ErrorCode", since(0), I16),
        field("ApiKeys", since(0), Array(&Struct(API_VERSION))),
        field("ThrottleTimeMs", since(1), I32),
        tagged(0, "SupportedFeatures", since(3), Array(&Struct(SUPPORTED_FEATURE_KEY))),
        tagged(1, "FinalizedFeaturesEpoch", since(3), I64),
        tagged(2, "FinalizedFeatures", since(3), Array(&Struct(FINALIZED_FEATURE_KEY))),
        tagged(3, "ZkMigrationReady", since(3), Bool),
    ],
};

const API_VERSION: &[Field] = &[
    field("ApiKey", since(0), I16),
    field("MinVersion", since(0), I16),
    field("MaxVersion", since(0), I16),
];

const SUPPORTED_FEATURE_KEY: &[Field] = &[
    field("Name", since(3), String),
    field("MinVersion", since(3), I16),
    field("MaxVersion", since(3), I16),
];

const FINALIZED_FEATURE_KEY: &[Field] = &[
    field("Name", since(3), String),
    field("MaxVersionLevel", since(3), I16),
    field("MinVersionLevel", since(3), I16),
];
