//! ApiVersions (key 18), versions 0–4.
//!
//! Lists every API of the broker's table (`apis.rs`), with the versions it serves (Produce from
//! v0, as Kafka 4.x lists it, though v0–2 are refused). A request for a version above ours is
//! answered in v0 with UNSUPPORTED_VERSION and the same list, so that a newer client can retry
//! with a version we speak.
//!
//! From v3 the answer carries feature flags ([`FEATURES`]), as a Kafka 4.1 broker does, but
//! only those whose finalized level this broker honours: `transaction.version` 2 (KIP-890, so
//! the Java client uses transaction version 2) and `metadata.version`, which every real broker
//! lists. The finalized features' epoch is a fixed non-negative number (the features never
//! change while the broker runs); -1 would tell the Java client to ignore them. As Kafka
//! (KAFKA-17492), a v3 answer leaves out supported features whose minimum is 0, which v3
//! clients could not parse; finalized features at level 0 are never listed.
//!
//! Not here: `group.version` (its level 1 means KIP-848's consumer groups, which this broker
//! does not serve), `share.version`, `eligible.leader.replicas.version` and `kraft.version`
//! (share groups, and replication and quorum features that a single in-memory node has no
//! use for); feature updates (UpdateFeatures is not served).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::served;

/// One feature flag: the levels this broker's software supports and the finalized one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// The feature's name.
    pub name: &'static str,
    /// Lowest supported level.
    pub min: i16,
    /// Highest supported level.
    pub max: i16,
    /// The finalized level the broker acts on (0: listed as supported only).
    pub finalized: i16,
}

/// The features advertised, with Kafka 4.1's ranges.
pub const FEATURES: &[Feature] = &[
    // Kafka 4.1's range (3.3-IV3 to 4.1-IV1); informational here, there is no metadata log.
    Feature {
        name: "metadata.version",
        min: 7,
        max: 27,
        finalized: 27,
    },
    // Both transaction versions are served, chosen per request (state/transactions.rs).
    Feature {
        name: "transaction.version",
        min: 0,
        max: 2,
        finalized: 2,
    },
];

/// The finalized features' epoch: any value >= 0 makes clients read them.
const FINALIZED_FEATURES_EPOCH: i64 = 1;

/// The answer; `transaction_version` is the finalized level of that feature (the broker's
/// setting, see `BrokerConfig::transaction_version`).
pub(super) fn handle(
    version: i16,
    _req: &ApiVersionsRequest,
    transaction_version: i16,
) -> ApiVersionsResponse {
    let response = ApiVersionsResponse::default().with_api_keys(api_keys());
    if version < 3 {
        return response;
    }
    let supported = FEATURES
        .iter()
        .filter(|f| version >= 4 || f.min > 0)
        .map(|f| {
            SupportedFeatureKey::default()
                .with_name(StrBytes::from_static_str(f.name))
                .with_min_version(f.min)
                .with_max_version(f.max)
        })
        .collect();
    let finalized = FEATURES
        .iter()
        .map(|f| match f.name {
            "transaction.version" => (f.name, transaction_version.clamp(f.min, f.max)),
            _ => (f.name, f.finalized),
        })
        .filter(|(_, level)| *level > 0)
        .map(|(name, level)| {
            FinalizedFeatureKey::default()
                .with_name(StrBytes::from_static_str(name))
                .with_min_version_level(level)
                .with_max_version_level(level)
        })
        .collect();
    response
        .with_supported_features(supported)
        .with_finalized_features_epoch(FINALIZED_FEATURES_EPOCH)
        .with_finalized_features(finalized)
}

pub(super) fn unsupported() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ErrorCode::UNSUPPORTED_VERSION.0)
        .with_api_keys(api_keys())
}

fn api_keys() -> Vec<ApiVersion> {
    served()
        .map(|r| {
            ApiVersion::default()
                .with_api_key(r.key as i16)
                .with_min_version(r.min)
                .with_max_version(r.max)
        })
        .collect()
}
