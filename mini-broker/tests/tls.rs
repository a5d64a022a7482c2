//! The SSL listener: a TLS client that trusts the broker's CA is served and told the TLS
//! listener's address; every failed handshake (plaintext client, garbage, a client that does
//! not trust us, a peer that never finishes) closes that one connection and is counted, while
//! other clients are served meanwhile. A TLS client on the plaintext port is closed by the
//! frame-size check.

mod common;

use std::time::Duration;

use common::{produces_and_fetches, tls, wait_until, RawConn};
use ferrokafka_mini_broker::{MiniBroker, SecurityProtocol};
use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
use tokio::io::AsyncWriteExt;

async fn broker_with_tls() -> MiniBroker {
    MiniBroker::builder()
        .listener(SecurityProtocol::Plaintext, "127.0.0.1:0".parse().unwrap())
        .listener(SecurityProtocol::Ssl, "127.0.0.1:0".parse().unwrap())
        .tls_self_signed()
        .tls_handshake_timeout(Duration::from_millis(300))
        .start()
        .await
        .expect("start broker")
}

fn ssl_bootstrap(broker: &MiniBroker) -> String {
    broker
        .bootstrap_for(SecurityProtocol::Ssl)
        .expect("SSL listener")
}

fn ca(broker: &MiniBroker) -> String {
    broker.tls_ca_pem().expect("self-signed CA").to_owned()
}

/// Proves a good TLS client is served while a bad connection is open.
async fn tls_client_is_served(broker: &MiniBroker, topic: &str) {
    let mut conn = tls::connect(&ssl_bootstrap(broker), &ca(broker)).await;
    produces_and_fetches(&mut conn, topic).await;
}

#[tokio::test]
async fn tls_round_trip_answers_with_the_tls_listeners_address() {
    let broker = broker_with_tls().await;
    let ssl = ssl_bootstrap(&broker);
    assert_ne!(ssl, broker.bootstrap());
    assert_eq!(
        broker.bootstrap_for(SecurityProtocol::Plaintext),
        Some(broker.bootstrap())
    );

    let mut conn = tls::connect(&ssl, &ca(&broker)).await;
    let versions = conn.request(3, &ApiVersionsRequest::default()).await;
    assert_eq!(versions.error_code, 0);
    let metadata = conn.request(12, &MetadataRequest::default()).await;
    let advertised: Vec<String> = metadata
        .brokers
        .iter()
        .map(|b| format!("{}:{}", b.host, b.port))
        .collect();
    assert_eq!(advertised, vec![ssl.clone()], "TLS listener's own address");
    produces_and_fetches(&mut conn, "over-tls").await;

    // The plaintext listener still names itself.
    let mut plain = RawConn::connect(&broker.bootstrap()).await;
    let metadata = plain.request(12, &MetadataRequest::default()).await;
    assert_eq!(
        format!("{}:{}", metadata.brokers[0].host, metadata.brokers[0].port),
        broker.bootstrap()
    );
    assert_eq!(broker.state().connection_stats().tls_failed, 0);
    broker.shutdown().await;
}

/// Opens a raw TCP connection to the TLS port and lets `misbehave` use it; meanwhile a good TLS
/// client is served; then the broker must have closed the raw connection (at most after a TLS
/// alert) and counted a failed handshake.
async fn refused_while_others_are_served<F, Fut>(topic: &str, misbehave: F)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = tokio::net::TcpStream>,
{
    let broker = broker_with_tls().await;
    let before = broker.state().connection_stats().tls_failed;
    let tcp = tokio::net::TcpStream::connect(ssl_bootstrap(&broker))
        .await
        .unwrap();
    let mut bad = misbehave(tcp).await;
    tls_client_is_served(&broker, topic).await;
    tls::expect_refused(&mut bad).await;
    wait_until("the failed handshake to be counted", || {
        broker.state().connection_stats().tls_failed == before + 1
    })
    .await;
    broker.shutdown().await;
}

#[tokio::test]
async fn plaintext_client_on_the_tls_port_is_closed() {
    refused_while_others_are_served("plaintext-on-tls", |mut tcp| async {
        // ApiVersions v0 in the clear: length 10, key 18, version 0, correlation 1, null client.
        tcp.write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff])
            .await
            .unwrap();
        tcp
    })
    .await;
}

#[tokio::test]
async fn garbage_on_the_tls_port_is_closed() {
    refused_while_others_are_served("garbage-on-tls", |mut tcp| async {
        tcp.write_all(b"\x16\x03\x01\x00\x05hello, this is not a ClientHello")
            .await
            .unwrap();
        tcp
    })
    .await;
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_closed_after_the_timeout() {
    // Connects and says nothing: the 300 ms handshake timeout closes it.
    refused_while_others_are_served("silent-on-tls", |tcp| async { tcp }).await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_is_closed() {
    let broker = broker_with_tls().await;
    let other = MiniBroker::builder()
        .listener(SecurityProtocol::Ssl, "127.0.0.1:0".parse().unwrap())
        .tls_self_signed()
        .start()
        .await
        .unwrap();
    let before = broker.state().connection_stats().tls_failed;
    // Trusts another broker's CA only.
    let refused = tls::try_connect(&ssl_bootstrap(&broker), &ca(&other)).await;
    assert!(refused.is_err(), "the handshake must fail on the client");
    tls_client_is_served(&broker, "untrusted").await;
    wait_until("the refused handshake to be counted", || {
        broker.state().connection_stats().tls_failed == before + 1
    })
    .await;
    other.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn tls_client_on_the_plaintext_port_is_closed_by_the_frame_size_check() {
    let broker = broker_with_tls().await;
    let before = broker.state().connection_stats().rejected;
    // The ClientHello's first bytes (0x16 0x03 ...) read as a length prefix of ~370 MB.
    let refused = tls::try_connect(&broker.bootstrap(), &ca(&broker)).await;
    assert!(
        refused.is_err(),
        "a plaintext listener cannot complete a TLS handshake"
    );
    wait_until("the TLS hello to be rejected", || {
        broker.state().connection_stats().rejected == before + 1
    })
    .await;
    tls_client_is_served(&broker, "tls-on-plaintext").await;
    common::still_serves(&broker.bootstrap(), "tls-on-plaintext").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_tls_listener_without_a_certificate_does_not_start() {
    let err = MiniBroker::builder()
        .listener(SecurityProtocol::SaslSsl, "127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .expect_err("no TLS settings");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("SASL_SSL"), "{err}");
}

#[tokio::test]
async fn only_named_listeners_are_opened() {
    let broker = MiniBroker::builder()
        .listener(SecurityProtocol::Ssl, "127.0.0.1:0".parse().unwrap())
        .tls_self_signed()
        .start()
        .await
        .unwrap();
    assert_eq!(broker.listeners().len(), 1);
    assert_eq!(broker.bootstrap_for(SecurityProtocol::Plaintext), None);
    // bootstrap() falls back to the first listener.
    assert_eq!(broker.bootstrap(), ssl_bootstrap(&broker));
    broker.shutdown().await;
}
