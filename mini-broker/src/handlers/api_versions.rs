//! ApiVersions (key 18), versions 0–4.
//!
//! Lists every API of the broker's table (`apis.rs`), with the versions it serves (Produce from
//! v0, as Kafka 4.x lists it, though v0–2 are refused). A request for a
//! version above ours is answered in v0 with UNSUPPORTED_VERSION and the same list, so that a
//! newer client can retry with a version we speak. No feature flags are advertised (so clients
//! do not enable transaction protocol v2 or share groups).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::served;

pub(super) fn handle(_req: &ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(api_keys())
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
