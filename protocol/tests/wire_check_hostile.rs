//! Hostile bodies: huge counts, malformed varints, lying tagged fields, random bytes.
//!
//! kafka-protocol would reserve memory for the counts below before reading a single element;
//! the check must turn them away first, without allocating and without panicking.

use ferrokafka_protocol::wire_check::{
    check_request, check_response, covered_apis, WireCheckError,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const METADATA: i16 = 3;
const JOIN_GROUP: i16 = 11;
const API_VERSIONS: i16 = 18;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;

#[test]
fn int32_array_count_of_i32_max_is_rejected() {
    // MetadataRequest v0: the topics array is the whole body.
    let body = [0x7f, 0xff, 0xff, 0xff, 0x00, 0x01];
    assert_eq!(
        check_request(METADATA, 0, &body),
        Err(WireCheckError::TooLong {
            field: "Topics",
            offset: 0,
            claimed: i32::MAX as u64,
            remaining: 2,
        })
    );
}

#[test]
fn compact_array_count_in_a_five_byte_varint_is_rejected() {
    // MetadataRequest v9 (flexible): count + 1 = 2^32 - 1 in the widest legal varint.
    let body = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    assert_eq!(
        check_request(METADATA, 9, &body),
        Err(WireCheckError::TooLong {
            field: "Topics",
            offset: 0,
            claimed: u64::from(u32::MAX) - 1,
            remaining: 1,
        })
    );
}

#[test]
fn overlong_and_overwide_varints_are_malformed() {
    for body in [
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..], // six bytes
        &[0x80, 0x80, 0x80, 0x80, 0x10][..],       // a 33rd bit
    ] {
        assert_eq!(
            check_request(METADATA, 9, body),
            Err(WireCheckError::MalformedVarint {
                field: "Topics",
                offset: 0
            }),
            "{body:02x?}"
        );
    }
}

#[test]
fn bytes_length_beyond_the_body_is_rejected() {
    // JoinGroupRequest v0: group "g", session timeout, member "", protocol type "c", one
    // protocol named "p" whose metadata claims i32::MAX bytes.
    let mut body = Vec::new();
    body.extend_from_slice(&[0, 1, b'g']);
    body.extend_from_slice(&30_000i32.to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&[0, 1, b'c']);
    body.extend_from_slice(&1i32.to_be_bytes());
    body.extend_from_slice(&[0, 1, b'p']);
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        check_request(JOIN_GROUP, 0, &body),
        Err(WireCheckError::TooLong { field: "Metadata", claimed, .. }) if claimed == i32::MAX as u64
    ));
}

#[test]
fn sasl_auth_bytes_longer_than_the_body_are_rejected() {
    // SaslAuthenticateRequest v1: AuthBytes with an int32 length of i32::MAX.
    let mut body = i32::MAX.to_be_bytes().to_vec();
    body.extend_from_slice(b"n,,");
    assert_eq!(
        check_request(SASL_AUTHENTICATE, 1, &body),
        Err(WireCheckError::TooLong {
            field: "AuthBytes",
            offset: 0,
            claimed: i32::MAX as u64,
            remaining: 3,
        })
    );
    // v2 (flexible): compact bytes, length + 1 as a varint; 2^28 claimed, 3 present.
    let body = [0x81, 0x80, 0x80, 0x80, 0x01, b'n', b',', b','];
    assert!(matches!(
        check_request(SASL_AUTHENTICATE, 2, &body),
        Err(WireCheckError::TooLong {
            field: "AuthBytes",
            ..
        })
    ));
    // The response's AuthBytes, after a null error message, in v1.
    let mut body = vec![0, 0, 0xff, 0xff];
    body.extend_from_slice(&1000i32.to_be_bytes());
    assert!(matches!(
        check_response(SASL_AUTHENTICATE, 1, &body),
        Err(WireCheckError::TooLong {
            field: "AuthBytes",
            ..
        })
    ));
}

#[test]
fn negative_lengths_and_nulls_where_not_allowed_are_rejected() {
    // SaslHandshakeRequest: the mechanism is a non-nullable string.
    for (len, expected) in [(-1i16, -1i64), (-2, -2), (i16::MIN, i64::from(i16::MIN))] {
        assert_eq!(
            check_request(SASL_HANDSHAKE, 1, &len.to_be_bytes()),
            Err(WireCheckError::InvalidLength {
                field: "Mechanism",
                offset: 0,
                length: expected
            })
        );
    }
    // MetadataRequest v1: a null topic array is allowed.
    assert_eq!(
        check_request(METADATA, 1, &[0xff, 0xff, 0xff, 0xff]),
        Ok(())
    );
}

/// ApiVersionsResponse v3 up to its tagged fields: no error, no api keys, no throttle.
fn api_versions_v3_prefix() -> Vec<u8> {
    let mut body = vec![0, 0, 1];
    body.extend_from_slice(&0i32.to_be_bytes());
    body
}

#[test]
fn tagged_section_count_beyond_the_body_is_rejected() {
    let mut body = api_versions_v3_prefix();
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        check_response(API_VERSIONS, 3, &body),
        Err(WireCheckError::TooLong {
            field: "tagged fields",
            ..
        })
    ));
}

#[test]
fn tagged_field_size_beyond_the_body_is_rejected() {
    let mut body = api_versions_v3_prefix();
    body.extend_from_slice(&[1, 9, 0xff, 0xff, 0xff, 0xff, 0x07, 1, 2, 3]); // tag 9, unknown
    assert!(matches!(
        check_response(API_VERSIONS, 3, &body),
        Err(WireCheckError::TooLong {
            field: "tagged fields",
            ..
        })
    ));
}

#[test]
fn unknown_tagged_fields_are_skipped_by_size() {
    let mut body = api_versions_v3_prefix();
    body.extend_from_slice(&[2, 9, 3, 0xde, 0xad, 0xff, 10, 0]);
    assert_eq!(check_response(API_VERSIONS, 3, &body), Ok(()));
}

#[test]
fn known_tagged_field_is_checked_inside_its_size() {
    // SupportedFeatures (tag 0) is a compact array; its count must fit in the field's 6 bytes,
    // not in whatever follows.
    let mut body = api_versions_v3_prefix();
    body.extend_from_slice(&[1, 0, 6, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
    body.extend_from_slice(&[0; 64]);
    assert!(matches!(
        check_response(API_VERSIONS, 3, &body),
        Err(WireCheckError::TooLong {
            field: "SupportedFeatures",
            remaining: 1,
            ..
        })
    ));
}

#[test]
fn known_tagged_field_must_fill_its_size() {
    // FinalizedFeaturesEpoch (tag 1) is an int64 but claims 10 bytes. kafka-protocol would read
    // 8 and take the last 2 as the next fields, which nothing checked.
    let mut body = api_versions_v3_prefix();
    body.extend_from_slice(&[1, 1, 10]);
    body.extend_from_slice(&[0; 10]);
    assert!(matches!(
        check_response(API_VERSIONS, 3, &body),
        Err(WireCheckError::TaggedFieldSize {
            tag: 1,
            size: 10,
            used: 8,
            ..
        })
    ));
}

#[test]
fn unknown_api_keys_and_versions_are_unsupported() {
    for (key, version) in [(-1, 0), (9999, 0), (0, 0), (METADATA, 14), (METADATA, -1)] {
        assert_eq!(
            check_request(key, version, &[]),
            Err(WireCheckError::UnsupportedVersion {
                api_key: key,
                version
            })
        );
        assert_eq!(
            check_response(key, version, &[]),
            Err(WireCheckError::UnsupportedVersion {
                api_key: key,
                version
            })
        );
    }
}

/// The "allocates nothing" promise, kept honest: the walker's source names no allocating API.
/// (A counting global allocator would need `unsafe`, which the workspace forbids.)
#[test]
fn the_walker_has_no_allocating_calls() {
    let walker = include_str!("../src/wire_check/walk.rs");
    for word in [
        "Vec<",
        "Vec::",
        "vec!",
        "Box",
        "String::",
        "to_string",
        "to_vec",
        "to_owned",
        "format!",
        "collect",
    ] {
        assert!(!walker.contains(word), "walk.rs mentions {word}");
    }
}

#[test]
fn random_bytes_never_panic_for_any_key_or_version() {
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    let bodies = prop::collection::vec(any::<u8>(), 0..256);
    for api in covered_apis() {
        for version in api.request_versions.clone() {
            runner
                .run(&bodies, |body| {
                    let _ = check_request(api.api_key, version, &body);
                    Ok(())
                })
                .expect("no panic");
        }
        for version in api.response_versions.clone() {
            runner
                .run(&bodies, |body| {
                    let _ = check_response(api.api_key, version, &body);
                    Ok(())
                })
                .expect("no panic");
        }
    }
}

proptest! {
    /// Random bodies under random keys and versions, supported or not.
    #[test]
    fn random_keys_versions_and_bytes_never_panic(
        key in -2i16..80,
        version in -2i16..20,
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = check_request(key, version, &body);
        let _ = check_response(key, version, &body);
    }
}
