//! Property tests for the frame and header codecs: what we encode decodes back, and arbitrary
//! bytes never panic a decoder.

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::frame::{encode_frame, split_frame};
use ferrokafka_protocol::header::{
    decode_response_header, encode_response_header, request_header_version, RequestHeader,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn frames_round_trip(bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..8)) {
        let mut stream = BytesMut::new();
        for b in &bodies {
            encode_frame(b, &mut stream);
        }
        for b in &bodies {
            let got = split_frame(&mut stream, 1024).unwrap().unwrap();
            prop_assert_eq!(&got[..], &b[..]);
        }
        prop_assert!(stream.is_empty());
    }

    #[test]
    fn random_bytes_never_panic_frame_split(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 1usize..100) {
        let mut buf = BytesMut::from(&bytes[..]);
        // Either an error, a need for more bytes, or frames that fit within `max`.
        while let Ok(Some(frame)) = split_frame(&mut buf, max) {
            prop_assert!(!frame.is_empty() && frame.len() <= max);
        }
    }

    #[test]
    fn request_headers_round_trip(
        api_key in 0i16..80,
        api_version in 0i16..20,
        correlation_id in any::<i32>(),
        client_id in proptest::option::of("[ -~]{0,40}"),
    ) {
        let header = RequestHeader { api_key, api_version, correlation_id, client_id };
        let mut out = BytesMut::new();
        header.encode(&mut out);
        // The flexible form adds exactly one byte: an empty tagged-field section.
        let base = 10 + header.client_id.as_ref().map_or(0, String::len);
        let extra = usize::from(request_header_version(api_key, api_version) >= 2);
        prop_assert_eq!(out.len(), base + extra);
        let mut bytes = out.freeze();
        prop_assert_eq!(RequestHeader::decode(&mut bytes).unwrap(), header);
        prop_assert!(bytes.is_empty());
    }

    #[test]
    fn response_headers_round_trip(correlation_id in any::<i32>(), version in 0i16..2) {
        let mut out = BytesMut::new();
        encode_response_header(correlation_id, version, &mut out);
        let mut bytes = out.freeze();
        prop_assert_eq!(decode_response_header(&mut bytes, version), Ok(correlation_id));
    }

    #[test]
    fn random_bytes_never_panic_header_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = RequestHeader::decode(&mut Bytes::from(bytes.clone()));
        let _ = decode_response_header(&mut Bytes::from(bytes.clone()), 0);
        let _ = decode_response_header(&mut Bytes::from(bytes), 1);
    }
}
