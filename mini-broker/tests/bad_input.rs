//! Hostile and malformed input against a running broker. Each case must end in the right
//! Kafka error or in that one connection being closed (counted as rejected, with a log line),
//! and afterwards a fresh client must still produce and consume normally.

mod common;

use bytes::{BufMut, BytesMut};
use common::{batch, produce_request, produce_result, still_serves, RawConn};
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest};
use kafka_protocol::protocol::Decodable;

async fn broker() -> MiniBroker {
    MiniBroker::start().await.expect("start broker")
}

/// Sends `bytes`, expects the connection to be closed and counted, then checks the broker.
async fn expect_rejected(broker: &MiniBroker, bytes: &[u8]) {
    let before = broker.state().connection_stats().rejected;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    conn.write_raw(bytes).await;
    conn.expect_closed().await;
    assert_eq!(
        broker.state().connection_stats().rejected,
        before + 1,
        "not counted as rejected"
    );
    still_serves(&broker.bootstrap(), "after-bad-input").await;
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// A request header (v1 form) for `key`/`version` followed by `body`.
fn request(key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    let mut p = BytesMut::new();
    p.put_i16(key);
    p.put_i16(version);
    p.put_i32(77);
    p.put_i16(-1);
    if version >= 9 && key == ApiKey::Metadata as i16 {
        p.put_u8(0); // header v2 tagged fields
    }
    p.put_slice(body);
    frame(&p)
}

#[tokio::test]
async fn length_prefixes_negative_zero_and_huge() {
    let broker = broker().await;
    for prefix in [
        -1i32,
        0,
        i32::MIN, /* 2 GiB */
        i32::MAX,
        200 * 1024 * 1024,
    ] {
        expect_rejected(&broker, &prefix.to_be_bytes()).await;
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn truncated_frame_then_close() {
    let broker = broker().await;
    let before = broker.state().connection_stats().rejected;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let mut bytes = 100i32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0, 3, 0, 1, 0, 0]);
    conn.write_raw(&bytes).await;
    drop(conn); // the peer goes away mid-frame
    let deadline = tokio::time::Instant::now() + common::STEP;
    while broker.state().connection_stats().rejected == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "truncation was not noticed"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    still_serves(&broker.bootstrap(), "after-truncation").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn unknown_api_key_and_unsupported_version_close() {
    let broker = broker().await;
    expect_rejected(&broker, &request(9999, 0, &[])).await;
    expect_rejected(&broker, &request(ApiKey::Metadata as i16, 99, &[0, 0])).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn api_versions_too_new_gets_v0_error_with_our_list() {
    let broker = broker().await;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    conn.send_raw(ApiKey::ApiVersions as i16, 99, &[0, 0, 0])
        .await;
    let mut frame = conn.read_frame().await.expect("a response");
    let correlation = ferrokafka_protocol::header::decode_response_header(&mut frame, 0).unwrap();
    assert_eq!(correlation, 1);
    let resp = ApiVersionsResponse::decode(&mut frame, 0).expect("v0 body");
    assert_eq!(resp.error_code, ErrorCode::UNSUPPORTED_VERSION.0);
    let max = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
        .unwrap();
    assert_eq!(max.max_version, 4);
    // The client can now ask properly on the same connection.
    let ok: ApiVersionsResponse = conn.request(3, &ApiVersionsRequest::default()).await;
    assert_eq!(ok.error_code, 0);
    broker.shutdown().await;
}

#[tokio::test]
async fn garbage_body_and_huge_array_claims_close() {
    let broker = broker().await;
    // Metadata v1: the topics array claims i32::MAX entries with nothing behind it.
    expect_rejected(
        &broker,
        &request(ApiKey::Metadata as i16, 1, &i32::MAX.to_be_bytes()),
    )
    .await;
    // Metadata v12 (flexible): a compact array count of 2^32-1.
    let huge_compact = [0xff, 0xff, 0xff, 0xff, 0x0f];
    expect_rejected(
        &broker,
        &request(ApiKey::Metadata as i16, 12, &huge_compact),
    )
    .await;
    // Produce v3: transactional id null, acks, timeout, then a topic array claiming 2^31-1.
    let mut body = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0x75, 0x30];
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    expect_rejected(&broker, &request(ApiKey::Produce as i16, 3, &body)).await;
    // Random bytes as a Fetch v4 body.
    let garbage: Vec<u8> = (0..64u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    expect_rejected(&broker, &request(ApiKey::Fetch as i16, 4, &garbage)).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn bad_crc_is_corrupt_message() {
    let broker = broker().await;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let mut records = BytesMut::from(&batch(3)[..]);
    let last = records.len() - 1;
    records[last] ^= 0xff;
    let resp = conn
        .request(9, &produce_request("crc", 0, records.freeze()))
        .await;
    assert_eq!(produce_result(&resp).0, ErrorCode::CORRUPT_MESSAGE.0);
    still_serves(&broker.bootstrap(), "crc").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn record_count_larger_than_bytes_is_rejected() {
    let broker = broker().await;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let mut records = BytesMut::from(&batch(3)[..]);
    // Claim 2^31-1 records (count at byte 57) and a matching last offset delta (byte 23),
    // with a valid CRC so only the count check can catch it.
    records[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    records[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
    let crc = crc32c::crc32c(&records[21..]);
    records[17..21].copy_from_slice(&crc.to_be_bytes());
    let resp = conn
        .request(9, &produce_request("count", 0, records.freeze()))
        .await;
    let code = produce_result(&resp).0;
    assert!(
        code == ErrorCode::CORRUPT_MESSAGE.0 || code == ErrorCode::INVALID_RECORD.0,
        "got {code}"
    );
    still_serves(&broker.bootstrap(), "count").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn metadata_request_is_served_on_the_same_connection_after_an_error_response() {
    let broker = broker().await;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let mut records = BytesMut::from(&batch(1)[..]);
    records[30] ^= 1;
    let resp = conn
        .request(9, &produce_request("same-conn", 0, records.freeze()))
        .await;
    assert_eq!(produce_result(&resp).0, ErrorCode::CORRUPT_MESSAGE.0);
    let md = conn
        .request(12, &MetadataRequest::default().with_topics(None))
        .await;
    assert!(md
        .topics
        .iter()
        .any(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == "same-conn")));
    broker.shutdown().await;
}
