//! A cheap shape check of request and response bodies, before kafka-protocol decodes them.
//!
//! Why: kafka-protocol's array decoders reserve `Vec::with_capacity(n)` with `n` straight from
//! the wire, so a frame claiming 2^31 structs aborts the process on allocation failure. Our
//! broker must never die on network input, and a client must survive a hostile broker. So every
//! body is first walked, field by field, following a declarative table of the Kafka message
//! schema (the `messages` tables); every array count, string or bytes length and tagged-field size is
//! compared with the bytes actually present before anything trusts it. The walk allocates
//! nothing and cannot panic.
//!
//! What not: no semantics (error codes, UTF-8, null in a version before the field became
//! nullable, known tags outside their versions are all left to the decoder, which reports them
//! as errors, not aborts), no record batches (`Records` is opaque bytes here), no headers: the
//! body starts after the request or response header. Bytes after the last field are allowed,
//! as Kafka's own parsers allow them (librdkafka 2.12 sends some); [`request_len`] and
//! [`response_len`] say where the message ended.

mod error;
// One field per line, as in the Kafka JSON, however short or long the line.
#[rustfmt::skip]
mod messages;
mod schema;
mod walk;

use std::ops::RangeInclusive;

pub use error::WireCheckError;

use schema::{Api, Message};

/// Checks a request body (the bytes after the request header) for `api_key` at `version`.
///
/// `Ok` means kafka-protocol can decode it without sizing anything beyond the bytes present.
pub fn check_request(api_key: i16, version: i16, body: &[u8]) -> Result<(), WireCheckError> {
    request_len(api_key, version, body).map(drop)
}

/// Checks a response body (the bytes after the response header) for `api_key` at `version`.
pub fn check_response(api_key: i16, version: i16, body: &[u8]) -> Result<(), WireCheckError> {
    response_len(api_key, version, body).map(drop)
}

/// Like [`check_request`], returning how many bytes of `body` the request took.
pub fn request_len(api_key: i16, version: i16, body: &[u8]) -> Result<usize, WireCheckError> {
    check(api_key, version, body, |api| api.request)
}

/// Like [`check_response`], returning how many bytes of `body` the response took.
pub fn response_len(api_key: i16, version: i16, body: &[u8]) -> Result<usize, WireCheckError> {
    check(api_key, version, body, |api| api.response)
}

/// One API key the checker has tables for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveredApi {
    /// The API key.
    pub api_key: i16,
    /// The Kafka name of the API, e.g. `Fetch`.
    pub name: &'static str,
    /// The request versions checked; others are [`WireCheckError::UnsupportedVersion`].
    pub request_versions: RangeInclusive<i16>,
    /// The response versions checked.
    pub response_versions: RangeInclusive<i16>,
}

/// The API keys and versions [`check_request`] and [`check_response`] know.
pub fn covered_apis() -> impl Iterator<Item = CoveredApi> {
    messages::APIS.iter().map(|api| CoveredApi {
        api_key: api.key,
        name: api.name,
        request_versions: api.request.versions.min..=api.request.versions.max,
        response_versions: api.response.versions.min..=api.response.versions.max,
    })
}

fn check(
    api_key: i16,
    version: i16,
    body: &[u8],
    side: fn(&Api) -> &'static Message,
) -> Result<usize, WireCheckError> {
    let message = messages::APIS
        .iter()
        .find(|api| api.key == api_key)
        .map(side)
        .filter(|message| message.versions.contains(version))
        .ok_or(WireCheckError::UnsupportedVersion { api_key, version })?;
    walk::walk_message(message, version, body)
}
