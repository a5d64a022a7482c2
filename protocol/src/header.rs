//! Request and response headers, in every version.
//!
//! Request header v1 is `api_key, api_version, correlation_id, client_id` (a nullable string
//! with an i16 length even in flexible versions); v2 adds a tagged-field section. Response
//! header v0 is just the correlation id; v1 adds tagged fields. Which version applies depends on
//! the API and its version ([`request_header_version`]); ApiVersions responses always use v0 so
//! that a client can read them before it knows what the broker speaks.
//!
//! Parsing is our own rather than `kafka-protocol`'s so that every length is checked against the
//! bytes present and an unknown API key still yields a correlation id to log.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;

/// Why a header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer bytes than the header needs.
    #[error("header truncated: needed {needed} more bytes")]
    Truncated {
        /// How many bytes were missing at the point of failure.
        needed: usize,
    },
    /// The client id is not valid UTF-8.
    #[error("client id is not valid UTF-8")]
    BadClientId,
    /// A tagged-field section is malformed.
    #[error("malformed tagged fields in header")]
    BadTaggedFields,
}

/// A parsed request header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// API key (may be one we do not know).
    pub api_key: i16,
    /// API version requested.
    pub api_version: i16,
    /// Echoed back in the response.
    pub correlation_id: i32,
    /// The client's self-chosen name.
    pub client_id: Option<String>,
}

/// The request header version for an API key and version; 1 for keys we do not know.
pub fn request_header_version(api_key: i16, api_version: i16) -> i16 {
    ApiKey::try_from(api_key).map_or(1, |key| key.request_header_version(api_version))
}

/// The response header version for an API key and version; 0 for keys we do not know.
pub fn response_header_version(api_key: i16, api_version: i16) -> i16 {
    ApiKey::try_from(api_key).map_or(0, |key| key.response_header_version(api_version))
}

impl RequestHeader {
    /// Parses the header at the front of `frame`, leaving `frame` at the start of the body.
    ///
    /// On error, [`peek_correlation_id`] still tells which request it was, when 8 bytes exist.
    pub fn decode(frame: &mut Bytes) -> Result<Self, HeaderError> {
        need(frame, 8)?;
        let api_key = frame.get_i16();
        let api_version = frame.get_i16();
        let correlation_id = frame.get_i32();
        need(frame, 2)?;
        let client_id = match frame.get_i16() {
            len if len < 0 => None,
            len => {
                let len = len as usize;
                need(frame, len)?;
                let raw = frame.split_to(len);
                Some(String::from_utf8(raw.to_vec()).map_err(|_| HeaderError::BadClientId)?)
            }
        };
        if request_header_version(api_key, api_version) >= 2 {
            skip_tagged_fields(frame)?;
        }
        Ok(RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        })
    }

    /// Appends the header, in the version its API key and version call for, to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_i16(self.api_key);
        out.put_i16(self.api_version);
        out.put_i32(self.correlation_id);
        match &self.client_id {
            None => out.put_i16(-1),
            Some(id) => {
                // Client ids longer than i16::MAX bytes are cut: the field cannot say more.
                let bytes = id.as_bytes();
                let len = bytes.len().min(i16::MAX as usize);
                out.put_i16(len as i16);
                out.put_slice(bytes.get(..len).unwrap_or_default());
            }
        }
        if request_header_version(self.api_key, self.api_version) >= 2 {
            out.put_u8(0); // no tagged fields
        }
    }
}

/// The correlation id of a request frame, if it is long enough to have one.
pub fn peek_correlation_id(frame: &[u8]) -> Option<i32> {
    let b = frame.get(4..)?.first_chunk::<4>()?;
    Some(i32::from_be_bytes(*b))
}

/// Appends a response header of `header_version` (0 or 1) to `out`.
pub fn encode_response_header(correlation_id: i32, header_version: i16, out: &mut BytesMut) {
    out.put_i32(correlation_id);
    if header_version >= 1 {
        out.put_u8(0);
    }
}

/// Parses a response header of `header_version` from the front of `frame`; returns the
/// correlation id and leaves `frame` at the start of the body.
pub fn decode_response_header(frame: &mut Bytes, header_version: i16) -> Result<i32, HeaderError> {
    need(frame, 4)?;
    let correlation_id = frame.get_i32();
    if header_version >= 1 {
        skip_tagged_fields(frame)?;
    }
    Ok(correlation_id)
}

fn need(buf: &Bytes, n: usize) -> Result<(), HeaderError> {
    match n.checked_sub(buf.remaining()) {
        Some(missing) if missing > 0 => Err(HeaderError::Truncated { needed: missing }),
        _ => Ok(()),
    }
}

fn skip_tagged_fields(buf: &mut Bytes) -> Result<(), HeaderError> {
    let count = read_uvarint(buf)?;
    for _ in 0..count {
        let _tag = read_uvarint(buf)?;
        let size = read_uvarint(buf)? as usize;
        if size > buf.remaining() {
            return Err(HeaderError::BadTaggedFields);
        }
        buf.advance(size);
    }
    Ok(())
}

/// An unsigned varint of at most 5 bytes. The loop is bounded by the bytes present, so a
/// hostile count of tagged fields costs at most one iteration per byte.
fn read_uvarint(buf: &mut Bytes) -> Result<u32, HeaderError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        if !buf.has_remaining() {
            return Err(HeaderError::BadTaggedFields);
        }
        let byte = buf.get_u8();
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(HeaderError::BadTaggedFields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn theirs(api_key: i16, api_version: i16, client_id: Option<&str>) -> Bytes {
        let header = kafka_protocol::messages::RequestHeader::default()
            .with_request_api_key(api_key)
            .with_request_api_version(api_version)
            .with_correlation_id(42)
            .with_client_id(client_id.map(|s| StrBytes::from_string(s.to_owned())));
        let mut out = BytesMut::new();
        let hv = request_header_version(api_key, api_version);
        header.encode(&mut out, hv).unwrap();
        out.put_slice(b"body");
        out.freeze()
    }

    #[test]
    fn decodes_what_kafka_protocol_encodes_in_both_versions() {
        // Metadata v8 uses header v1; v9 is flexible and uses header v2.
        for version in [8, 9] {
            for id in [None, Some("ferro")] {
                let mut frame = theirs(3, version, id);
                let h = RequestHeader::decode(&mut frame).unwrap();
                assert_eq!(h.correlation_id, 42);
                assert_eq!(h.client_id.as_deref(), id);
                assert_eq!(&frame[..], b"body");

                let mut ours = BytesMut::new();
                h.encode(&mut ours);
                ours.put_slice(b"body");
                assert_eq!(ours.freeze(), theirs(3, version, id));
            }
        }
    }

    #[test]
    fn truncated_and_hostile_headers_are_errors() {
        let full = theirs(3, 9, Some("client"));
        for cut in 0..full.len() - 4 {
            let mut frame = full.slice(..cut);
            assert!(RequestHeader::decode(&mut frame).is_err(), "cut at {cut}");
        }
        let mut frame = Bytes::from_static(&[0, 3, 0, 9, 0, 0, 0, 1, 0x7f, 0xff]);
        assert_eq!(
            RequestHeader::decode(&mut frame),
            Err(HeaderError::Truncated { needed: 32767 })
        );
    }

    #[test]
    fn response_header_round_trip() {
        for hv in [0, 1] {
            let mut out = BytesMut::new();
            encode_response_header(7, hv, &mut out);
            let mut b = out.freeze();
            assert_eq!(decode_response_header(&mut b, hv), Ok(7));
            assert!(b.is_empty());
        }
    }
}
