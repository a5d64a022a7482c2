//! SASL on the SASL_PLAINTEXT and SASL_SSL listeners, as Kafka's broker behaves: each mechanism
//! logs in and then Produce and Fetch work; every refusal is answered as Kafka answers it and
//! then closes that one connection, is counted, and a good client is served meanwhile.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{produces_and_fetches, tls, wait_until, RawConn};
use ferrokafka_mini_broker::{
    ConnectionStats, Mechanism, MiniBroker, MiniBrokerBuilder, SecurityProtocol,
};
use ferrokafka_protocol::sasl::oauthbearer;
use ferrokafka_protocol::sasl::plain;
use ferrokafka_protocol::sasl::scram::{ScramClient, ScramHash};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, MetadataRequest, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const USER: &str = "alice";
const PASSWORD: &str = "alice-secret";
const LOOPBACK: &str = "127.0.0.1:0";

async fn broker_with(configure: impl FnOnce(MiniBrokerBuilder) -> MiniBrokerBuilder) -> MiniBroker {
    let builder = MiniBroker::builder()
        .listener(SecurityProtocol::Plaintext, LOOPBACK.parse().unwrap())
        .listener(SecurityProtocol::SaslPlaintext, LOOPBACK.parse().unwrap())
        .listener(SecurityProtocol::SaslSsl, LOOPBACK.parse().unwrap())
        .tls_self_signed()
        .sasl_user(USER, PASSWORD)
        .sasl_user("bob", "bob-secret");
    configure(builder).start().await.expect("start broker")
}

async fn broker() -> MiniBroker {
    broker_with(|b| b).await
}

fn sasl_plaintext(broker: &MiniBroker) -> String {
    broker
        .bootstrap_for(SecurityProtocol::SaslPlaintext)
        .expect("SASL_PLAINTEXT listener")
}

async fn connect(broker: &MiniBroker) -> RawConn {
    RawConn::connect(&sasl_plaintext(broker)).await
}

fn stats(broker: &MiniBroker) -> ConnectionStats {
    broker.state().connection_stats()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut RawConn<S>,
    mechanism: &str,
) -> SaslHandshakeResponse {
    let req =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into()));
    conn.request(1, &req).await
}

async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut RawConn<S>,
    token: Vec<u8>,
) -> SaslAuthenticateResponse {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
    conn.request(2, &req).await
}

fn scram_hash(mechanism: Mechanism) -> ScramHash {
    match mechanism {
        Mechanism::ScramSha512 => ScramHash::Sha512,
        _ => ScramHash::Sha256,
    }
}

/// Authenticates with `mechanism` (SaslHandshake v1, SaslAuthenticate v2); for OAUTHBEARER
/// `user` is the token's subject and the token lives an hour. Returns the last answer.
async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut RawConn<S>,
    mechanism: Mechanism,
    user: &str,
    password: &str,
) -> SaslAuthenticateResponse {
    let shake = handshake(conn, mechanism.name()).await;
    assert_eq!(shake.error_code, 0, "handshake for {mechanism}");
    match mechanism {
        Mechanism::Plain => authenticate(conn, plain::client_message("", user, password)).await,
        Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
            let mut client = ScramClient::new(scram_hash(mechanism), user, password);
            let first = authenticate(conn, client.client_first()).await;
            if first.error_code != 0 {
                return first;
            }
            let last = authenticate(conn, client.client_final(&first.auth_bytes).unwrap()).await;
            if last.error_code == 0 {
                client.verify_server_final(&last.auth_bytes).unwrap();
            }
            last
        }
        Mechanism::OAuthBearer => {
            let jwt = oauthbearer::unsecured_jwt(user, now_ms(), 3_600_000, &[]);
            authenticate(conn, oauthbearer::client_message(&jwt, None, &[])).await
        }
    }
}

/// A good client logs in and produces and fetches, on its own connection.
async fn good_client_is_served(broker: &MiniBroker, topic: &str) {
    let mut conn = connect(broker).await;
    let done = login(&mut conn, Mechanism::ScramSha256, USER, PASSWORD).await;
    assert_eq!(done.error_code, 0, "{:?}", done.error_message);
    produces_and_fetches(&mut conn, topic).await;
}

/// `conn` is closed by the broker and `counter` went up by one; a good client was served
/// while `conn` was still open.
async fn closed_and_counted(
    broker: &MiniBroker,
    conn: &mut RawConn,
    counter: fn(&ConnectionStats) -> u64,
    before: u64,
    topic: &str,
) {
    good_client_is_served(broker, topic).await;
    conn.expect_closed().await;
    wait_until("the close to be counted", || {
        counter(&stats(broker)) == before + 1
    })
    .await;
}

fn auth_failed(s: &ConnectionStats) -> u64 {
    s.auth_failed
}

#[tokio::test]
async fn each_mechanism_authenticates_then_produce_and_fetch_work() {
    let broker = broker().await;
    for (i, mechanism) in Mechanism::ALL.into_iter().enumerate() {
        let mut conn = connect(&broker).await;
        let versions = conn.request(3, &ApiVersionsRequest::default()).await;
        for key in [ApiKey::SaslHandshake, ApiKey::SaslAuthenticate] {
            assert!(
                versions.api_keys.iter().any(|k| k.api_key == key as i16),
                "ApiVersions lists {key:?}"
            );
        }
        let shake = handshake(&mut conn, mechanism.name()).await;
        let listed: Vec<String> = shake.mechanisms.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            listed,
            ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
        );
        // A fresh connection for the login itself (one handshake per connection).
        let mut conn = connect(&broker).await;
        let done = login(&mut conn, mechanism, USER, PASSWORD).await;
        assert_eq!(done.error_code, 0, "{mechanism}: {:?}", done.error_message);
        assert_eq!(
            done.session_lifetime_ms == 0,
            mechanism != Mechanism::OAuthBearer
        );
        produces_and_fetches(&mut conn, &format!("sasl-{i}")).await;
        assert_eq!(stats(&broker).authenticated, i as u64 + 1);
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn sasl_ssl_authenticates_over_tls_and_names_its_own_address() {
    let broker = broker().await;
    let addr = broker.bootstrap_for(SecurityProtocol::SaslSsl).unwrap();
    let mut conn = tls::connect(&addr, broker.tls_ca_pem().unwrap()).await;
    let done = login(&mut conn, Mechanism::ScramSha512, USER, PASSWORD).await;
    assert_eq!(done.error_code, 0, "{:?}", done.error_message);
    let metadata = conn.request(12, &MetadataRequest::default()).await;
    let b = &metadata.brokers[0];
    assert_eq!(format!("{}:{}", b.host, b.port), addr);
    produces_and_fetches(&mut conn, "over-sasl-ssl").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_request_before_authentication_closes_the_connection() {
    let broker = broker().await;
    // Before the handshake.
    let before = stats(&broker).auth_failed;
    let mut conn = connect(&broker).await;
    conn.send_raw(3, 12, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
        .await; // Metadata v12
    closed_and_counted(&broker, &mut conn, auth_failed, before, "before-handshake").await;
    // After the handshake, before the token.
    let before = stats(&broker).auth_failed;
    let mut conn = connect(&broker).await;
    assert_eq!(handshake(&mut conn, "PLAIN").await.error_code, 0);
    conn.send_raw(3, 12, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
        .await;
    closed_and_counted(&broker, &mut conn, auth_failed, before, "before-token").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn wrong_passwords_get_sasl_authentication_failed_then_close() {
    let broker = broker().await;
    let cases = [
        (Mechanism::Plain, "Authentication failed: Invalid username or password"),
        (
            Mechanism::ScramSha256,
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256",
        ),
        (
            Mechanism::ScramSha512,
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
        ),
    ];
    for (mechanism, message) in cases {
        let before = stats(&broker).auth_failed;
        let mut conn = connect(&broker).await;
        let refused = login(&mut conn, mechanism, USER, "not-the-password").await;
        assert_eq!(refused.error_code, 58, "{mechanism}");
        assert_eq!(refused.error_message.as_deref(), Some(message));
        closed_and_counted(&broker, &mut conn, auth_failed, before, "wrong-password").await;
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn unknown_users_are_refused_like_wrong_passwords() {
    let broker = broker().await;
    for mechanism in [Mechanism::Plain, Mechanism::ScramSha256] {
        let before = stats(&broker).auth_failed;
        let mut conn = connect(&broker).await;
        let refused = login(&mut conn, mechanism, "mallory", PASSWORD).await;
        assert_eq!(refused.error_code, 58, "{mechanism}");
        let message = refused.error_message.unwrap().to_string();
        assert!(message.starts_with("Authentication failed"), "{message}");
        assert!(!message.contains("mallory"), "{message}");
        closed_and_counted(&broker, &mut conn, auth_failed, before, "unknown-user").await;
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn a_mechanism_not_enabled_gets_the_enabled_list_then_close() {
    let broker = broker_with(|b| {
        b.sasl_enabled_mechanisms(SecurityProtocol::SaslPlaintext, &[Mechanism::ScramSha256])
    })
    .await;
    for asked in ["PLAIN", "GSSAPI"] {
        let before = stats(&broker).auth_failed;
        let mut conn = connect(&broker).await;
        let refused = handshake(&mut conn, asked).await;
        assert_eq!(
            refused.error_code, 33,
            "UNSUPPORTED_SASL_MECHANISM for {asked}"
        );
        let listed: Vec<String> = refused.mechanisms.iter().map(|m| m.to_string()).collect();
        assert_eq!(listed, ["SCRAM-SHA-256"]);
        closed_and_counted(&broker, &mut conn, auth_failed, before, "unknown-mechanism").await;
    }
    // The SASL_SSL listener keeps all four.
    let addr = broker.bootstrap_for(SecurityProtocol::SaslSsl).unwrap();
    let mut conn = tls::connect(&addr, broker.tls_ca_pem().unwrap()).await;
    assert_eq!(handshake(&mut conn, "PLAIN").await.mechanisms.len(), 4);
    broker.shutdown().await;
}

#[tokio::test]
async fn a_garbage_token_is_refused_then_closed() {
    let broker = broker().await;
    for mechanism in [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::OAuthBearer,
    ] {
        let before = stats(&broker).auth_failed;
        let mut conn = connect(&broker).await;
        assert_eq!(handshake(&mut conn, mechanism.name()).await.error_code, 0);
        let refused =
            authenticate(&mut conn, b"\xff\xfegarbage, not a SASL message".to_vec()).await;
        assert_eq!(refused.error_code, 58, "{mechanism}");
        let expected = format!(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
        );
        assert_eq!(refused.error_message.as_deref(), Some(expected.as_str()));
        closed_and_counted(&broker, &mut conn, auth_failed, before, "garbage-token").await;
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn an_oversized_frame_before_authentication_is_closed_unanswered() {
    let broker = broker().await;
    let before = stats(&broker).auth_failed;
    let mut conn = connect(&broker).await;
    assert_eq!(handshake(&mut conn, "PLAIN").await.error_code, 0);
    // Kafka's sasl.server.max.receive.size is 524288: announce one byte more.
    conn.write_raw(&(524_289i32).to_be_bytes()).await;
    closed_and_counted(&broker, &mut conn, auth_failed, before, "oversized").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn an_expired_oauthbearer_token_gets_the_error_challenge_then_failed() {
    let broker = broker().await;
    let before = stats(&broker).auth_failed;
    let mut conn = connect(&broker).await;
    assert_eq!(handshake(&mut conn, "OAUTHBEARER").await.error_code, 0);
    let expired = oauthbearer::unsecured_jwt(USER, now_ms() - 120_000, 60_000, &[]);
    let challenge = authenticate(&mut conn, oauthbearer::client_message(&expired, None, &[])).await;
    assert_eq!(
        challenge.error_code, 0,
        "the refusal comes as a challenge first"
    );
    assert_eq!(&challenge.auth_bytes[..], br#"{"status":"invalid_token"}"#);
    let refused = authenticate(&mut conn, oauthbearer::ERROR_ACKNOWLEDGEMENT.to_vec()).await;
    assert_eq!(refused.error_code, 58);
    assert_eq!(
        refused.error_message.as_deref(),
        Some(r#"{"status":"invalid_token"}"#)
    );
    closed_and_counted(&broker, &mut conn, auth_failed, before, "expired-token").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn authentication_that_never_finishes_is_closed_at_the_deadline() {
    // Long enough for the good client's login in a debug build, short for a test.
    let broker = broker_with(|b| b.sasl_auth_timeout(Duration::from_millis(1_500))).await;
    let before = stats(&broker).auth_timed_out;
    let mut conn = connect(&broker).await;
    assert_eq!(handshake(&mut conn, "SCRAM-SHA-256").await.error_code, 0);
    // ... and never sends a token. Another client still gets in within the deadline.
    closed_and_counted(
        &broker,
        &mut conn,
        |s| s.auth_timed_out,
        before,
        "slow-login",
    )
    .await;
    broker.shutdown().await;
}

#[tokio::test]
async fn sasl_requests_elsewhere_get_illegal_sasl_state_and_the_connection_stays() {
    let broker = broker().await;
    // On the PLAINTEXT listener.
    let mut plain = RawConn::connect(&broker.bootstrap()).await;
    assert_eq!(handshake(&mut plain, "PLAIN").await.error_code, 34);
    let again = authenticate(&mut plain, vec![]).await;
    assert_eq!(again.error_code, 34);
    produces_and_fetches(&mut plain, "plain-listener").await;
    // On an authenticated connection whose session does not expire.
    let mut conn = connect(&broker).await;
    assert_eq!(
        login(&mut conn, Mechanism::Plain, USER, PASSWORD)
            .await
            .error_code,
        0
    );
    assert_eq!(handshake(&mut conn, "PLAIN").await.error_code, 34);
    let again = authenticate(&mut conn, plain::client_message("", USER, PASSWORD)).await;
    assert_eq!(again.error_code, 34);
    assert_eq!(
        again.error_message.as_deref(),
        Some("SaslAuthenticate request received after successful authentication")
    );
    produces_and_fetches(&mut conn, "after-login").await;
    broker.shutdown().await;
}

/// librdkafka 2.0 (Debian's kcat 1.7.1) answers server-first with a nonce of its own nonce
/// followed by the agreed one. Kafka 3.x accepted any client-final nonce that ended with the
/// agreed one; Kafka 4.x wants the agreed nonce exactly (RFC 5802), so that kcat's SCRAM fails
/// against it, and against us. The same hand-made exchange with the exact nonce passes, so the
/// refusal is the nonce's alone.
#[tokio::test]
async fn a_client_final_nonce_other_than_the_agreed_one_is_refused_as_kafka_4_refuses_it() {
    assert_eq!(scram_with_nonce_prefix(false).await, 0, "exact nonce");
    assert_eq!(
        scram_with_nonce_prefix(true).await,
        58,
        "librdkafka 2.0's nonce"
    );
}

/// A SCRAM-SHA-256 login made by hand; `prefix` puts our nonce before the agreed one in
/// client-final, as librdkafka 2.0 does. Returns the final SaslAuthenticate's error code.
async fn scram_with_nonce_prefix(prefix: bool) -> i16 {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };

    let broker = broker().await;
    let mut conn = connect(&broker).await;
    assert_eq!(handshake(&mut conn, "SCRAM-SHA-256").await.error_code, 0);
    let client_nonce = "rdkafkaStyleNonce0123";
    let first_bare = format!("n={USER},r={client_nonce}");
    let server_first = authenticate(&mut conn, format!("n,,{first_bare}").into_bytes()).await;
    assert_eq!(server_first.error_code, 0);
    let server_first = String::from_utf8(server_first.auth_bytes.to_vec()).unwrap();
    let attr = |name: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let (nonce, salt, iterations) = (attr("r="), B64.decode(attr("s=")).unwrap(), attr("i="));
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        PASSWORD.as_bytes(),
        &salt,
        iterations.parse().unwrap(),
        &mut salted,
    );
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let sent_nonce = if prefix {
        format!("{client_nonce}{nonce}")
    } else {
        nonce
    };
    let without_proof = format!("c=biws,r={sent_nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let client_final = format!("{without_proof},p={}", B64.encode(proof));
    let done = authenticate(&mut conn, client_final.into_bytes()).await;
    if done.error_code == 0 {
        produces_and_fetches(&mut conn, "hand-made-scram").await;
    }
    broker.shutdown().await;
    done.error_code
}

/// Reads one bare frame (a v0 SASL token); an empty token has length 0.
async fn read_bare_token(conn: &mut RawConn) -> Vec<u8> {
    let stream = conn.stream_mut();
    let len = tokio::time::timeout(common::STEP, stream.read_u32())
        .await
        .unwrap()
        .unwrap();
    let mut token = vec![0; len as usize];
    stream.read_exact(&mut token).await.unwrap();
    token
}

async fn write_bare_token(conn: &mut RawConn, token: &[u8]) {
    let stream = conn.stream_mut();
    stream
        .write_all(&(token.len() as u32).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(token).await.unwrap();
}

#[tokio::test]
async fn a_v0_handshake_takes_bare_tokens() {
    let broker = broker().await;
    // PLAIN: one token, an empty answer.
    let mut conn = connect(&broker).await;
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    assert_eq!(conn.request(0, &req).await.error_code, 0);
    write_bare_token(&mut conn, &plain::client_message("", USER, PASSWORD)).await;
    assert!(read_bare_token(&mut conn).await.is_empty());
    produces_and_fetches(&mut conn, "v0-plain").await;
    // SCRAM: two rounds.
    let mut conn = connect(&broker).await;
    let req =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("SCRAM-SHA-512"));
    assert_eq!(conn.request(0, &req).await.error_code, 0);
    let mut client = ScramClient::new(ScramHash::Sha512, USER, PASSWORD);
    write_bare_token(&mut conn, &client.client_first()).await;
    let server_first = read_bare_token(&mut conn).await;
    write_bare_token(&mut conn, &client.client_final(&server_first).unwrap()).await;
    client
        .verify_server_final(&read_bare_token(&mut conn).await)
        .unwrap();
    produces_and_fetches(&mut conn, "v0-scram").await;
    // A wrong password: no way to say so in v0, so the connection just closes.
    let before = stats(&broker).auth_failed;
    let mut conn = connect(&broker).await;
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    assert_eq!(conn.request(0, &req).await.error_code, 0);
    write_bare_token(&mut conn, &plain::client_message("", USER, "wrong")).await;
    closed_and_counted(&broker, &mut conn, auth_failed, before, "v0-wrong").await;
    broker.shutdown().await;
}

mod reauthentication {
    use super::*;
    use tokio::time::{sleep_until, Instant};

    const MAX_REAUTH: Duration = Duration::from_millis(500);

    async fn broker() -> MiniBroker {
        broker_with(|b| b.connections_max_reauth(MAX_REAUTH)).await
    }

    #[tokio::test]
    async fn a_request_after_the_session_expired_closes_the_connection() {
        let broker = broker().await;
        let before = stats(&broker).sessions_expired;
        let mut conn = connect(&broker).await;
        let done = login(&mut conn, Mechanism::Plain, USER, PASSWORD).await;
        let authenticated_at = Instant::now();
        assert_eq!(done.error_code, 0);
        assert!(
            done.session_lifetime_ms > 0 && done.session_lifetime_ms <= 500,
            "lifetime {}",
            done.session_lifetime_ms
        );
        produces_and_fetches(&mut conn, "before-expiry").await;
        // Past the expiry (measured from after the broker's, so surely past it).
        let lifetime = Duration::from_millis(done.session_lifetime_ms as u64);
        sleep_until(authenticated_at + lifetime + Duration::from_millis(20)).await;
        conn.send_raw(3, 12, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
            .await;
        closed_and_counted(
            &broker,
            &mut conn,
            |s| s.sessions_expired,
            before,
            "expired",
        )
        .await;
        broker.shutdown().await;
    }

    #[tokio::test]
    async fn re_authenticating_before_expiry_keeps_the_connection() {
        let broker = broker().await;
        let mut conn = connect(&broker).await;
        let first = login(&mut conn, Mechanism::ScramSha256, USER, PASSWORD).await;
        let first_at = Instant::now();
        assert_eq!(first.error_code, 0);
        let lifetime = Duration::from_millis(first.session_lifetime_ms as u64);
        // Half-way through, as clients do (KIP-368: at 85-95 %).
        sleep_until(first_at + lifetime / 2).await;
        let again = login(&mut conn, Mechanism::ScramSha256, USER, PASSWORD).await;
        assert_eq!(again.error_code, 0, "{:?}", again.error_message);
        assert!(again.session_lifetime_ms > 0 && again.session_lifetime_ms <= 500);
        // Past the first session's end, well inside the second's.
        sleep_until(first_at + lifetime + Duration::from_millis(20)).await;
        produces_and_fetches(&mut conn, "after-reauth").await;
        assert_eq!(stats(&broker).authenticated, 2);
        assert_eq!(stats(&broker).sessions_expired, 0);
        broker.shutdown().await;
    }

    #[tokio::test]
    async fn re_authentication_must_keep_the_mechanism_and_the_principal() {
        let broker = broker().await;
        // Another principal.
        let before = stats(&broker).auth_failed;
        let mut conn = connect(&broker).await;
        assert_eq!(
            login(&mut conn, Mechanism::Plain, USER, PASSWORD)
                .await
                .error_code,
            0
        );
        let refused = login(&mut conn, Mechanism::Plain, "bob", "bob-secret").await;
        assert_eq!(refused.error_code, 58);
        assert_eq!(
            refused.error_message.as_deref(),
            Some("Cannot change principals during re-authentication from User.alice: User.bob")
        );
        closed_and_counted(&broker, &mut conn, auth_failed, before, "other-principal").await;
        // Another mechanism.
        let before = stats(&broker).auth_failed;
        let mut conn = connect(&broker).await;
        assert_eq!(
            login(&mut conn, Mechanism::Plain, USER, PASSWORD)
                .await
                .error_code,
            0
        );
        let refused = login(&mut conn, Mechanism::ScramSha512, USER, PASSWORD).await;
        assert_eq!(refused.error_code, 58);
        let message = refused.error_message.unwrap().to_string();
        assert!(
            message.contains("not supported for re-authentication"),
            "{message}"
        );
        closed_and_counted(&broker, &mut conn, auth_failed, before, "other-mechanism").await;
        broker.shutdown().await;
    }

    #[tokio::test]
    async fn an_oauthbearer_session_ends_with_its_token() {
        // No connections.max.reauth.ms: the token's expiry alone bounds the session.
        let broker = super::broker().await;
        let mut conn = connect(&broker).await;
        assert_eq!(handshake(&mut conn, "OAUTHBEARER").await.error_code, 0);
        let jwt = oauthbearer::unsecured_jwt(USER, now_ms(), 2_000, &[]);
        let done = authenticate(&mut conn, oauthbearer::client_message(&jwt, None, &[])).await;
        assert_eq!(done.error_code, 0);
        assert!(
            done.session_lifetime_ms > 0 && done.session_lifetime_ms <= 2_000,
            "lifetime {}",
            done.session_lifetime_ms
        );
        broker.shutdown().await;
        // A shorter connections.max.reauth.ms wins over an hour-long token.
        let broker = self::broker().await;
        let mut conn = connect(&broker).await;
        let done = login(&mut conn, Mechanism::OAuthBearer, USER, "").await;
        assert_eq!(done.error_code, 0);
        assert!(done.session_lifetime_ms > 0 && done.session_lifetime_ms <= 500);
        broker.shutdown().await;
    }
}
