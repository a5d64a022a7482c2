//! The one table of the APIs this broker serves: each API's key, the versions served and
//! what docs/mini-broker.md says of it.
//!
//! ApiVersions answers from it, the dispatch refuses every API and version it does not list,
//! and the tests below hold the table, the dispatch (`super::dispatch`) and the docs together:
//! the docs' table is generated from this one (`FERROKAFKA_UPDATE_DOCS=1 cargo test -p
//! ferrokafka-mini-broker apis` rewrites it). Adding an API is a wire_check entry in the
//! protocol crate, a handler module, an arm in the dispatch and a row here.

use ferrokafka_protocol::versions::ApiRange;
use kafka_protocol::messages::ApiKey;

/// One served API.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// Its key.
    pub key: ApiKey,
    /// Lowest version served.
    pub min: i16,
    /// Highest version served.
    pub max: i16,
    /// What the docs say of it (Markdown, one table cell).
    pub notes: &'static str,
}

const fn api(key: ApiKey, min: i16, max: i16, notes: &'static str) -> Api {
    Api {
        key,
        min,
        max,
        notes,
    }
}

/// Every API this broker serves, in the order of the docs' table.
pub const APIS: &[Api] = &[
    api(
        ApiKey::Produce,
        3,
        12,
        "acks 0, 1, -1 (1 and -1 are the same: one replica); whole v2 batches only; CRC, \
         record count and `max.message.bytes` checked; keys required on compacted topics; \
         LogAppendTime stamped; all batches of \
         a partition or none; idempotent producers' sequences checked and retries \
         de-duplicated (below); transactional batches verified against their transaction, \
         v12 (transaction version 2) adding the partition to it (below)",
    ),
    api(
        ApiKey::Fetch,
        4,
        16,
        "long poll up to `max_wait_ms` (capped at 30 s) for `min_bytes`, woken by its own \
         partitions only; partition and response byte limits with at least one whole batch; topic ids from v13; \
         `last_stable_offset` always; read_committed stops at it and lists the aborted \
         transactions in the returned range",
    ),
    api(
        ApiKey::ListOffsets,
        1,
        10,
        "latest, earliest, max timestamp (first record with the largest timestamp), \
         earliest-local, latest-tiered (none), by timestamp (first record at or after it); \
         read_committed: latest is the last stable offset, lookups at or above it find \
         nothing",
    ),
    api(
        ApiKey::Metadata,
        0,
        12,
        "auto-creates when the broker and the request allow; topics by name or id; authorized \
         operations (every one) when asked",
    ),
    api(
        ApiKey::OffsetCommit,
        2,
        9,
        "checked against the member and generation (below); unknown partitions \
         UNKNOWN_TOPIC_OR_PARTITION; metadata up to 4096 bytes",
    ),
    api(
        ApiKey::OffsetFetch,
        1,
        9,
        "one group, or batched groups from v8; null topics = every committed partition; \
         nothing committed = offset -1; with `require_stable` (v7+), UNSTABLE_OFFSET_COMMIT \
         for partitions whose offsets an open transaction has staged",
    ),
    api(
        ApiKey::FindCoordinator,
        0,
        6,
        "this broker, for group (0) and transaction (1) keys; batched `coordinator_keys` from \
         v4; other key types INVALID_REQUEST",
    ),
    api(
        ApiKey::JoinGroup,
        0,
        9,
        "held until the rebalance completes; MEMBER_ID_REQUIRED from v4; static members from \
         v5; `skip_assignment` for a returning static leader in v9",
    ),
    api(
        ApiKey::Heartbeat,
        0,
        4,
        "REBALANCE_IN_PROGRESS tells members to rejoin",
    ),
    api(
        ApiKey::LeaveGroup,
        0,
        5,
        "one member up to v2, batched from v3 (also by `group.instance.id` alone)",
    ),
    api(
        ApiKey::SyncGroup,
        0,
        5,
        "followers held until the leader's assignment arrives; protocol type and name \
         required and checked from v5",
    ),
    api(
        ApiKey::DescribeGroups,
        0,
        6,
        "metadata and assignments of Stable groups; unknown groups Dead (and \
         GROUP_ID_NOT_FOUND from v6)",
    ),
    api(
        ApiKey::ListGroups,
        0,
        5,
        "states filter from v4, types filter from v5 (every group is `classic`)",
    ),
    api(
        ApiKey::DeleteGroups,
        0,
        2,
        "empty groups only, offsets included",
    ),
    api(
        ApiKey::OffsetDelete,
        0,
        0,
        "empty groups, or topics no member of a consumer group subscribes to",
    ),
    api(ApiKey::SaslHandshake, 0, 1, "see \"Secured listeners\""),
    api(
        ApiKey::ApiVersions,
        0,
        4,
        "built from the handlers that exist; a too-new version is answered in v0 with \
         UNSUPPORTED_VERSION and our list",
    ),
    api(
        ApiKey::CreateTopics,
        2,
        7,
        "replication factor -1 or 1; manual assignment on this broker only; `validate_only`; \
         at most 10,000 partitions per request and `--max-partitions` in all (see Limits)",
    ),
    api(ApiKey::DeleteTopics, 1, 6, "by name, or by id from v6"),
    api(
        ApiKey::DeleteRecords,
        0,
        2,
        "moves the log start offset (-1: to the high watermark) and answers the new low \
         watermark; above the high watermark OFFSET_OUT_OF_RANGE, `cleanup.policy` without \
         `delete` POLICY_VIOLATION; batches wholly below the start are freed",
    ),
    api(
        ApiKey::InitProducerId,
        0,
        5,
        "without a transactional id: always a new id with epoch 0, as Kafka (even when the \
         request names the current id and epoch); empty transactional id: INVALID_REQUEST; a \
         transactional id: the transaction coordinator (below)",
    ),
    api(
        ApiKey::OffsetForLeaderEpoch,
        2,
        4,
        "every partition is in leader epoch 0: epoch 0 ends at the log end offset, other \
         epochs are unknown (-1, -1); `current_leader_epoch` above 0 UNKNOWN_LEADER_EPOCH",
    ),
    api(
        ApiKey::AddPartitionsToTxn,
        0,
        5,
        "client form v0–3; batched form v4–5 with `verify_only`",
    ),
    api(
        ApiKey::AddOffsetsToTxn,
        0,
        4,
        "adds a group to the transaction",
    ),
    api(
        ApiKey::EndTxn,
        0,
        5,
        "markers written before the answer; v5 is transaction version 2: the epoch bumped \
         for commit and abort, markers with the new epoch, the new producer id and epoch \
         answered",
    ),
    api(
        ApiKey::TxnOffsetCommit,
        0,
        5,
        "offsets staged until the transaction ends; member checked (KIP-447); v5 \
         (transaction version 2) adds the group to the transaction",
    ),
    api(
        ApiKey::DescribeConfigs,
        1,
        4,
        "topic and broker resources; synonyms; config types from v3",
    ),
    api(
        ApiKey::AlterConfigs,
        0,
        2,
        "topics: replaces the explicitly set configs with the given ones; see \
         IncrementalAlterConfigs",
    ),
    api(
        ApiKey::IncrementalAlterConfigs,
        0,
        1,
        "topics: SET, DELETE, APPEND and SUBTRACT (list configs); each resource validated \
         and changed whole, `validate_only`; the broker acts on new values at once; broker \
         resources INVALID_REQUEST (settings fixed at start-up)",
    ),
    api(ApiKey::SaslAuthenticate, 0, 2, "see \"Secured listeners\""),
    api(
        ApiKey::CreatePartitions,
        0,
        3,
        "grow only; `validate_only`; the limits of CreateTopics",
    ),
    api(
        ApiKey::DescribeLogDirs,
        1,
        4,
        "one directory, `memory`: each partition's size is the record bytes held, offset lag \
         0; total and usable bytes -1",
    ),
    api(
        ApiKey::ElectLeaders,
        0,
        2,
        "never an election to hold: named partitions ELECTION_NOT_NEEDED; null (all): every \
         topic, no partition results",
    ),
    api(
        ApiKey::DescribeUserScramCredentials,
        0,
        0,
        "the live SASL users: every one with a credential, or those named (RESOURCE_NOT_FOUND \
         without one)",
    ),
    api(
        ApiKey::AlterUserScramCredentials,
        0,
        0,
        "deletions and upsertions (salted passwords) of the live SASL users, checked as Kafka \
         checks them; the next login uses them",
    ),
    api(
        ApiKey::DescribeCluster,
        0,
        1,
        "this broker, also the controller; authorized operations (every one) when asked",
    ),
    api(
        ApiKey::DescribeProducers,
        0,
        0,
        "id, epoch, last sequence and timestamp, open transaction's first offset; \
         coordinator epoch -1",
    ),
    api(
        ApiKey::DescribeTransactions,
        0,
        0,
        "state, producer id and epoch, timeout, start time, partitions",
    ),
    api(
        ApiKey::ListTransactions,
        0,
        1,
        "state, producer id and duration (v1) filters; v2's id pattern not served",
    ),
];

/// The table's row for `key`.
pub fn find(key: ApiKey) -> Option<&'static Api> {
    APIS.iter().find(|a| a.key == key)
}

/// The version ranges as ApiVersions lists them: the table's, except Produce, listed from
/// v0 as Kafka 4.x lists it (KAFKA-18659: older librdkafka gives up on a broker whose
/// Produce range lacks v0) though v0–2 are refused as the table says.
pub fn served() -> impl Iterator<Item = ApiRange> {
    APIS.iter().map(|a| ApiRange {
        key: a.key,
        min: if a.key == ApiKey::Produce { 0 } else { a.min },
        max: a.max,
    })
}

/// The Markdown table of docs/mini-broker.md's "APIs and versions".
pub fn docs_table() -> String {
    let mut out = String::from("| API (key) | versions | notes |\n|---|---|---|\n");
    for a in APIS {
        let versions = if a.min == a.max {
            a.min.to_string()
        } else {
            format!("{}–{}", a.min, a.max)
        };
        out.push_str(&format!(
            "| {:?} ({}) | {versions} | {} |\n",
            a.key, a.key as i16, a.notes
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::BytesMut;
    use ferrokafka_protocol::header::RequestHeader;
    use ferrokafka_protocol::security::SecurityProtocol;
    use kafka_protocol::messages::RequestKind;

    use super::*;
    use crate::connection::ConnectionContext;
    use crate::handlers::{dispatch, DispatchError};
    use crate::state::{BrokerState, Endpoint};
    use crate::BrokerConfig;

    #[test]
    fn every_range_is_within_kafka_protocol_and_wire_check() {
        for a in APIS {
            let theirs = a.key.valid_versions();
            assert!(a.min <= a.max, "{:?}", a.key);
            assert!(
                theirs.min <= a.min && a.max <= theirs.max,
                "{:?} {}..={} outside kafka-protocol's {theirs:?}",
                a.key,
                a.min,
                a.max
            );
            let covered = ferrokafka_protocol::wire_check::covered_apis()
                .find(|c| c.api_key == a.key as i16)
                .unwrap_or_else(|| panic!("{:?} has no wire_check table", a.key));
            for v in a.min..=a.max {
                assert!(
                    covered.request_versions.contains(&v),
                    "{:?} v{v} is not covered by wire_check",
                    a.key
                );
            }
        }
    }

    /// A request of every kind the table may list, with default fields.
    fn default_request(key: ApiKey) -> RequestKind {
        macro_rules! kinds {
            ($($kind:ident),* $(,)?) => {
                match key {
                    $(ApiKey::$kind => RequestKind::$kind(Default::default()),)*
                    other => panic!("{other:?}: add it to the test's list of request kinds"),
                }
            };
        }
        kinds!(
            Produce,
            Fetch,
            ListOffsets,
            Metadata,
            OffsetCommit,
            OffsetFetch,
            FindCoordinator,
            JoinGroup,
            Heartbeat,
            LeaveGroup,
            SyncGroup,
            DescribeGroups,
            ListGroups,
            SaslHandshake,
            ApiVersions,
            CreateTopics,
            DeleteTopics,
            DeleteRecords,
            InitProducerId,
            OffsetForLeaderEpoch,
            AddPartitionsToTxn,
            AddOffsetsToTxn,
            EndTxn,
            TxnOffsetCommit,
            DescribeConfigs,
            AlterConfigs,
            DescribeLogDirs,
            SaslAuthenticate,
            CreatePartitions,
            DeleteGroups,
            ElectLeaders,
            DescribeUserScramCredentials,
            AlterUserScramCredentials,
            IncrementalAlterConfigs,
            OffsetDelete,
            DescribeCluster,
            DescribeProducers,
            DescribeTransactions,
            ListTransactions,
        )
    }

    async fn send(
        state: &BrokerState,
        key: i16,
        version: i16,
        body: BytesMut,
    ) -> Result<(), DispatchError> {
        let mut conn = ConnectionContext::new(
            SecurityProtocol::Plaintext,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 9092,
            },
            "127.0.0.1:1".parse().expect("an address"),
            None,
        );
        let header = RequestHeader {
            api_key: key,
            api_version: version,
            correlation_id: 1,
            client_id: Some("apis-test".into()),
        };
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            dispatch(state, &mut conn, &header, body.freeze()),
        )
        .await
        .unwrap_or_else(|_| panic!("key {key} v{version}: no answer within 10 s"));
        answer.map(|_| ())
    }

    /// The dispatch answers every API of the table at its lowest and highest version, refuses
    /// the versions just outside (ApiVersions excepted: it answers those in v0), and refuses
    /// every API key the table does not list.
    #[tokio::test]
    async fn the_dispatch_serves_exactly_the_table() {
        let state = BrokerState::new(BrokerConfig::default());
        for a in APIS {
            for version in [a.min, a.max] {
                let mut body = BytesMut::new();
                default_request(a.key)
                    .encode(&mut body, version)
                    .unwrap_or_else(|e| panic!("{:?} v{version}: {e}", a.key));
                let answer = send(&state, a.key as i16, version, body).await;
                assert!(
                    answer.is_ok(),
                    "{:?} v{version} is in the table but got {answer:?}",
                    a.key
                );
            }
            if a.key != ApiKey::ApiVersions {
                for version in [a.min - 1, a.max + 1] {
                    let answer = send(&state, a.key as i16, version, BytesMut::new()).await;
                    assert!(
                        matches!(answer, Err(DispatchError::UnsupportedVersion { .. })),
                        "{:?} v{version} is outside the table but got {answer:?}",
                        a.key
                    );
                }
            }
        }
        for key in -1..=i16::from(u8::MAX) {
            if ApiKey::try_from(key).is_ok_and(|k| find(k).is_some()) {
                continue;
            }
            let answer = send(&state, key, 0, BytesMut::new()).await;
            assert!(
                matches!(answer, Err(DispatchError::UnknownApi)),
                "key {key} is not in the table but got {answer:?}"
            );
        }
    }

    /// docs/mini-broker.md's table is this one; `FERROKAFKA_UPDATE_DOCS=1` rewrites it.
    #[test]
    fn the_docs_table_is_this_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/mini-broker.md");
        let doc = std::fs::read_to_string(&path).expect("docs/mini-broker.md");
        let heading = "## APIs and versions\n\n";
        let start = doc.find(heading).expect("the APIs heading") + heading.len();
        let len = doc[start..]
            .find("\n\n")
            .expect("a blank line after the table")
            + 1;
        let table = docs_table();
        if std::env::var_os("FERROKAFKA_UPDATE_DOCS").is_some() {
            let updated = format!("{}{table}{}", &doc[..start], &doc[start + len..]);
            std::fs::write(&path, updated).expect("writing docs/mini-broker.md");
            return;
        }
        assert!(
            doc[start..start + len] == table,
            "docs/mini-broker.md's API table differs from handlers/apis.rs; run \
             FERROKAFKA_UPDATE_DOCS=1 cargo test -p ferrokafka-mini-broker apis"
        );
    }
}
