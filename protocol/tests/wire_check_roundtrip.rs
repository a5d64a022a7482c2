//! Cross-checks the wire_check tables against kafka-protocol's own encoder and decoder.
//!
//! For every covered API key, both directions and every version: a populated sample (and its
//! all-nulls twin) encoded by kafka-protocol must pass the check, every strict prefix of it
//! must fail, and one extra byte must fail. A mismatch here is a mistake in a table. Then a
//! property test mutates samples and asks that whatever the check accepts, kafka-protocol
//! decodes without aborting and, when it succeeds, ends exactly where the check ended.

#[path = "wire_check_samples.rs"]
mod samples;

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::wire_check::{covered_apis, request_len, response_len, WireCheckError};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Message, Request, VersionRange};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// One message type: how to build, encode and decode it.
struct Case {
    api_key: i16,
    side: Side,
    name: &'static str,
    versions: VersionRange,
    sample: fn(i16, bool) -> Bytes,
    /// Decodes with kafka-protocol; `Ok` holds the bytes it left unread.
    decode: fn(Bytes, i16) -> Result<usize, String>,
}

impl Case {
    fn check(&self, version: i16, body: &[u8]) -> Result<(), WireCheckError> {
        self.len(version, body).map(drop)
    }

    fn len(&self, version: i16, body: &[u8]) -> Result<usize, WireCheckError> {
        match self.side {
            Side::Request => request_len(self.api_key, version, body),
            Side::Response => response_len(self.api_key, version, body),
        }
    }

    fn version_list(&self) -> impl Iterator<Item = i16> {
        self.versions.min..=self.versions.max
    }
}

macro_rules! case {
    ($key:expr, $side:expr, $ty:ty, $module:ident) => {
        Case {
            api_key: $key,
            side: $side,
            name: stringify!($ty),
            versions: <$ty as Message>::VERSIONS,
            sample: |version, nulls| {
                let mut buf = BytesMut::new();
                samples::$module::build(version, nulls)
                    .encode(&mut buf, version)
                    .unwrap_or_else(|e| {
                        panic!(
                            "{} v{version}: sample does not encode: {e}",
                            stringify!($ty)
                        )
                    });
                buf.freeze()
            },
            decode: |mut body, version| {
                <$ty as Decodable>::decode(&mut body, version)
                    .map(|_| body.len())
                    .map_err(|e| e.to_string())
            },
        }
    };
}

macro_rules! apis {
    ($($req:ident / $resp:ident = $req_mod:ident / $resp_mod:ident;)*) => {
        vec![$(
            case!(<$req as Request>::KEY, Side::Request, $req, $req_mod),
            case!(<$req as Request>::KEY, Side::Response, $resp, $resp_mod),
        )*]
    };
}

fn cases() -> Vec<Case> {
    apis! {
        ApiVersionsRequest / ApiVersionsResponse = api_versions_request / api_versions_response;
        MetadataRequest / MetadataResponse = metadata_request / metadata_response;
        ProduceRequest / ProduceResponse = produce_request / produce_response;
        FetchRequest / FetchResponse = fetch_request / fetch_response;
        ListOffsetsRequest / ListOffsetsResponse = list_offsets_request / list_offsets_response;
        CreateTopicsRequest / CreateTopicsResponse = create_topics_request / create_topics_response;
        DeleteTopicsRequest / DeleteTopicsResponse = delete_topics_request / delete_topics_response;
        CreatePartitionsRequest / CreatePartitionsResponse = create_partitions_request / create_partitions_response;
        DescribeConfigsRequest / DescribeConfigsResponse = describe_configs_request / describe_configs_response;
        DescribeClusterRequest / DescribeClusterResponse = describe_cluster_request / describe_cluster_response;
        InitProducerIdRequest / InitProducerIdResponse = init_producer_id_request / init_producer_id_response;
        FindCoordinatorRequest / FindCoordinatorResponse = find_coordinator_request / find_coordinator_response;
        JoinGroupRequest / JoinGroupResponse = join_group_request / join_group_response;
        SyncGroupRequest / SyncGroupResponse = sync_group_request / sync_group_response;
        HeartbeatRequest / HeartbeatResponse = heartbeat_request / heartbeat_response;
        LeaveGroupRequest / LeaveGroupResponse = leave_group_request / leave_group_response;
        OffsetCommitRequest / OffsetCommitResponse = offset_commit_request / offset_commit_response;
        OffsetFetchRequest / OffsetFetchResponse = offset_fetch_request / offset_fetch_response;
        DescribeGroupsRequest / DescribeGroupsResponse = describe_groups_request / describe_groups_response;
        ListGroupsRequest / ListGroupsResponse = list_groups_request / list_groups_response;
        DeleteGroupsRequest / DeleteGroupsResponse = delete_groups_request / delete_groups_response;
        OffsetDeleteRequest / OffsetDeleteResponse = offset_delete_request / offset_delete_response;
        OffsetForLeaderEpochRequest / OffsetForLeaderEpochResponse = offset_for_leader_epoch_request / offset_for_leader_epoch_response;
        AddPartitionsToTxnRequest / AddPartitionsToTxnResponse = add_partitions_to_txn_request / add_partitions_to_txn_response;
        AddOffsetsToTxnRequest / AddOffsetsToTxnResponse = add_offsets_to_txn_request / add_offsets_to_txn_response;
        TxnOffsetCommitRequest / TxnOffsetCommitResponse = txn_offset_commit_request / txn_offset_commit_response;
        EndTxnRequest / EndTxnResponse = end_txn_request / end_txn_response;
        DescribeTransactionsRequest / DescribeTransactionsResponse = describe_transactions_request / describe_transactions_response;
        ListTransactionsRequest / ListTransactionsResponse = list_transactions_request / list_transactions_response;
        SaslHandshakeRequest / SaslHandshakeResponse = sasl_handshake_request / sasl_handshake_response;
        SaslAuthenticateRequest / SaslAuthenticateResponse = sasl_authenticate_request / sasl_authenticate_response;
        DeleteRecordsRequest / DeleteRecordsResponse = delete_records_request / delete_records_response;
        IncrementalAlterConfigsRequest / IncrementalAlterConfigsResponse = incremental_alter_configs_request / incremental_alter_configs_response;
        AlterConfigsRequest / AlterConfigsResponse = alter_configs_request / alter_configs_response;
        DescribeProducersRequest / DescribeProducersResponse = describe_producers_request / describe_producers_response;
        DescribeLogDirsRequest / DescribeLogDirsResponse = describe_log_dirs_request / describe_log_dirs_response;
        ElectLeadersRequest / ElectLeadersResponse = elect_leaders_request / elect_leaders_response;
        DescribeUserScramCredentialsRequest / DescribeUserScramCredentialsResponse = describe_user_scram_credentials_request / describe_user_scram_credentials_response;
        AlterUserScramCredentialsRequest / AlterUserScramCredentialsResponse = alter_user_scram_credentials_request / alter_user_scram_credentials_response;
    }
}

/// The API keys the broker needs, first the ten needed now.
const WANTED: [i16; 39] = [
    18, 3, 0, 1, 2, 19, 20, 37, 32, 60, 22, 10, 11, 14, 12, 13, 8, 9, 15, 16, 42, 47, 24, 25, 28,
    26, 65, 66, 17, 23, 36, 21, 44, 33, 61, 35, 43, 50, 51,
];

#[test]
fn covers_the_wanted_keys_with_kafka_protocols_versions() {
    let covered: Vec<_> = covered_apis().collect();
    let keys: BTreeSet<i16> = covered.iter().map(|api| api.api_key).collect();
    assert_eq!(keys, WANTED.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!(covered.len(), WANTED.len(), "one entry per key");

    let cases = cases();
    for api in &covered {
        for case in cases.iter().filter(|case| case.api_key == api.api_key) {
            let ours = match case.side {
                Side::Request => &api.request_versions,
                Side::Response => &api.response_versions,
            };
            assert_eq!(
                (*ours.start(), *ours.end()),
                (case.versions.min, case.versions.max),
                "{} versions",
                case.name
            );
            // The message type never goes beyond what the API key advertises.
            let key = ApiKey::try_from(api.api_key).expect("a known key");
            let advertised = key.valid_versions();
            assert!(advertised.min <= case.versions.min && case.versions.max <= advertised.max);
        }
    }
}

#[test]
fn accepts_every_sample_and_rejects_every_prefix() {
    for case in cases() {
        for version in case.version_list() {
            for nulls in [false, true] {
                let body = (case.sample)(version, nulls);
                let what = format!("{} v{version} nulls={nulls}", case.name);
                assert_eq!(
                    (case.decode)(body.clone(), version),
                    Ok(0),
                    "{what}: sample decodes"
                );
                if let Err(e) = case.check(version, &body) {
                    panic!(
                        "{what}: rejected its own encoding ({} bytes): {e}",
                        body.len()
                    );
                }
                for len in 0..body.len() {
                    let prefix = body.get(..len).expect("len < body.len()");
                    let verdict = case.check(version, prefix);
                    assert!(
                        matches!(
                            verdict,
                            Err(WireCheckError::Truncated { .. } | WireCheckError::TooLong { .. })
                        ),
                        "{what}: prefix of {len}/{} bytes: {verdict:?}",
                        body.len()
                    );
                }
                let mut longer = body.to_vec();
                longer.push(0);
                assert_eq!(
                    case.len(version, &longer).ok(),
                    Some(body.len()),
                    "{what}: the message must end where kafka-protocol's encoding ends"
                );
            }
        }
    }
}

#[test]
fn versions_outside_the_table_are_unsupported() {
    for case in cases() {
        for version in [case.versions.min - 1, case.versions.max + 1, -1, i16::MAX] {
            if (case.versions.min..=case.versions.max).contains(&version) {
                continue;
            }
            assert_eq!(
                case.check(version, &[]),
                Err(WireCheckError::UnsupportedVersion {
                    api_key: case.api_key,
                    version
                }),
                "{} v{version}",
                case.name
            );
        }
    }
}

/// A sample, picked by index, with a few bytes overwritten and maybe cut short.
fn mutated() -> impl Strategy<
    Value = (
        usize,
        i16,
        bool,
        Vec<(prop::sample::Index, u8)>,
        prop::sample::Index,
    ),
> {
    (
        any::<usize>(),
        any::<u16>(),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(case, version, nulls, edits, cut)| (case, version as i16, nulls, edits, cut))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn whatever_the_check_accepts_kafka_protocol_reads_to_the_same_end(
        (case, version, nulls, edits, cut) in mutated()
    ) {
        let cases = cases();
        let case = &cases[case % cases.len()];
        let span = (case.versions.max - case.versions.min) as u16 + 1;
        let version = case.versions.min + (version as u16 % span) as i16;
        let mut body = (case.sample)(version, nulls).to_vec();
        if body.is_empty() {
            return Ok(());
        }
        for (at, byte) in edits {
            let at = at.index(body.len());
            body[at] = byte;
        }
        // Half the time, also cut the body somewhere.
        if cut.index(2) == 0 {
            body.truncate(cut.index(body.len() + 1));
        }
        if let Ok(used) = case.len(version, &body) {
            let total = body.len();
            if let Ok(left) = (case.decode)(Bytes::from(body), version) {
                prop_assert_eq!(total - left, used, "{} v{}: decoder and check disagree on the end", case.name, version);
            }
        }
    }
}
