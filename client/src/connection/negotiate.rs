//! ApiVersions on connect: learn what the broker speaks and settle on one version per API.
//!
//! We ask at our highest ApiVersions version. A broker that does not speak it answers in v0
//! with UNSUPPORTED_VERSION and its own list (KIP-511); we then ask again at the highest
//! version both sides speak. The result is [`versions::negotiate`] over the broker's list.
//!
//! Finalized features (KIP-584) are kept as the broker states them (`transaction.version`
//! decides the transaction protocol); a broker that sends an epoch of -1 states none.
//!
//! What not: no re-negotiation on a live connection.

use ferrokafka_protocol::versions::{self, ApiRange};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::pipeline::{Gate, Pipeline};
use crate::error::Error;

/// What was settled with one broker: per API, the version both sides speak, highest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedVersions {
    chosen: Vec<(ApiKey, i16)>,
    broker: Vec<(i16, i16, i16)>,
    /// Finalized features: name and max version level.
    finalized: Vec<(String, i16)>,
}

impl NegotiatedVersions {
    /// The version to use for `api`, or `None` when the broker speaks no version we speak.
    pub fn get(&self, api: ApiKey) -> Option<i16> {
        self.chosen
            .iter()
            .find(|(key, _)| *key == api)
            .map(|(_, version)| *version)
    }

    /// Every API with its chosen version, in the order of our version table.
    pub fn iter(&self) -> impl Iterator<Item = (ApiKey, i16)> + '_ {
        self.chosen.iter().copied()
    }

    /// The level of a finalized feature (e.g. `transaction.version`), when the broker
    /// stated one.
    pub fn finalized_feature(&self, name: &str) -> Option<i16> {
        self.finalized
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, level)| *level)
    }

    /// The `(min, max)` the broker advertised for `api_key`, including APIs we do not speak.
    pub fn broker_range(&self, api_key: i16) -> Option<(i16, i16)> {
        self.broker
            .iter()
            .find(|(key, _, _)| *key == api_key)
            .map(|(_, min, max)| (*min, *max))
    }
}

/// Runs the ApiVersions exchange on a fresh pipeline.
pub(super) async fn negotiate(pipeline: &Pipeline) -> Result<NegotiatedVersions, Error> {
    let ours = versions::supported(ApiKey::ApiVersions).ok_or_else(|| unsupported(pipeline))?;
    let first = ask(pipeline, ours.max).await?;
    let response = if first.error_code == ErrorCode::UNSUPPORTED_VERSION.0 {
        let version = retry_version(&ours, &first).ok_or_else(|| unsupported(pipeline))?;
        ask(pipeline, version).await?
    } else {
        first
    };
    Error::check(response.error_code, None)?;
    let broker: Vec<(i16, i16, i16)> = response
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    let chosen = versions::negotiate(&broker);
    let finalized = if response.finalized_features_epoch >= 0 {
        response
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.max_version_level))
            .collect()
    } else {
        Vec::new()
    };
    Ok(NegotiatedVersions {
        chosen,
        broker,
        finalized,
    })
}

/// The highest ApiVersions version both speak, from the broker's UNSUPPORTED_VERSION answer;
/// v0 when the broker lists none (as the Java client assumes).
fn retry_version(ours: &ApiRange, answer: &ApiVersionsResponse) -> Option<i16> {
    match answer
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
    {
        Some(theirs) => ours.highest_common(theirs.min_version, theirs.max_version),
        None => ours.contains(0).then_some(0),
    }
}

async fn ask(pipeline: &Pipeline, version: i16) -> Result<ApiVersionsResponse, Error> {
    let mut request = ApiVersionsRequest::default();
    if version >= 3 {
        request.client_software_name = StrBytes::from_static_str("ferrokafka");
        request.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
    }
    let frame = pipeline.encode(ApiKey::ApiVersions, version, &request)?;
    // Not `Pipeline::call`: the answer may come in v0 (KIP-511), whatever we asked in.
    let response = pipeline
        .round_trip(ApiKey::ApiVersions, version, frame, Gate::Pass)
        .await?;
    pipeline.decode(ApiKey::ApiVersions, response)
}

fn unsupported(pipeline: &Pipeline) -> Error {
    Error::UnsupportedApi {
        broker: pipeline.broker().to_owned(),
        api: "ApiVersions".to_owned(),
    }
}
