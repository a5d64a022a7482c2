//! DescribeLogDirs (key 35): DescribeLogDirsRequest and DescribeLogDirsResponse.

use crate::wire_check::schema::Ty::*;
use crate::wire_check::schema::*;

pub(crate) const REQUEST: Message = Message {
    versions: range(1, 4),
    flexible: since(2),
    fields: &[
        field("Topics", since(0), NullableArray(&Struct(DESCRIBABLE_LOG_DIR_TOPIC))),
    ],
};

const DESCRIBABLE_LOG_DIR_TOPIC: &[Field] = &[
    field("Topic", since(0), String),
    field("Partitions", since(0), Array(&I32)),
];

pub(crate) const RESPONSE: Message = Message {
    versions: range(1, 4),
    flexible: since(2),
    fields: &[
        field("ThrottleTimeMs", since(0), I32),
        field("ErrorCode", since(3), I16),
        field("Results", since(0), Array(&Struct(DESCRIBE_LOG_DIRS_RESULT))),
    ],
};

const DESCRIBE_LOG_DIRS_RESULT: &[Field] = &[
    field("ErrorCode", since(0), I16),
    field("LogDir", since(0), String),
    field("Topics", since(0), Array(&Struct(DESCRIBE_LOG_DIRS_TOPIC))),
    field("TotalBytes", since(4), I64),
    field("UsableBytes", since(4), I64),
];

const DESCRIBE_LOG_DIRS_TOPIC: &[Field] = &[
    field("Name", since(0), String),
    field("Partitions", since(0), Array(&Struct(DESCRIBE_LOG_DIRS_PARTITION))),
];

const DESCRIBE_LOG_DIRS_PARTITION: &[Field] = &[
    field("PartitionIndex", since(0), I32),
    field("PartitionSize", since(0), I64),
    field("OffsetLag", since(0), I64),
    field("IsFutureKey", since(0), Bool),
];
