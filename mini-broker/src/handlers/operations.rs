//! The ACL operations each resource type supports, as bit sets, for the `authorized_operations`
//! fields: with no authorizer every operation a resource supports is allowed, and Kafka
//! reports exactly those (bit n is Kafka's AclOperation code n). Fields a client did not ask
//! for stay at Kafka's "not requested" value, `i32::MIN`.

/// READ (3), WRITE (4), CREATE (5), DELETE (6), ALTER (7), DESCRIBE (8), DESCRIBE_CONFIGS (10),
/// ALTER_CONFIGS (11).
pub(super) const TOPIC: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

/// CREATE (5), ALTER (7), DESCRIBE (8), CLUSTER_ACTION (9), DESCRIBE_CONFIGS (10),
/// ALTER_CONFIGS (11), IDEMPOTENT_WRITE (12).
pub(super) const CLUSTER: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// READ (3), DELETE (6), DESCRIBE (8), DESCRIBE_CONFIGS (10), ALTER_CONFIGS (11).
pub(super) const GROUP: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

/// What an `authorized_operations` field holds: `all` when asked for, else "not requested".
pub(super) fn reported(asked: bool, all: i32) -> i32 {
    if asked {
        all
    } else {
        i32::MIN
    }
}
