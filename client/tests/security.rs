//! Secured connections against the mini-broker: what goes wrong gets a clear error on the
//! client side and a counted close on the broker side, while the broker serves a good client
//! meanwhile; and KIP-368 re-authentication keeps one connection and a producer's order
//! across several short sessions.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokafka::kafka_protocol::messages::MetadataRequest;
use ferrokafka::producer::{ProducerConfig, ProducerRecord};
use ferrokafka::security::OAuthBearer;
use ferrokafka::{
    ClientConfig, Connection, Error, OAuthBearerToken, OAuthBearerTokenProvider, Producer, Secret,
};
use ferrokafka_mini_broker::{ConnectionStats, Mechanism, MiniBroker, SecurityProtocol};
use ferrokafka_protocol::sasl::oauthbearer;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

const BOUND: Duration = Duration::from_secs(20);

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrokafka-security-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A broker with SSL, SASL_SSL and SASL_PLAINTEXT listeners (and PLAINTEXT), a self-signed CA
/// and user alice; the CA's PEM file in a scratch directory.
async fn secured(
    configure: impl FnOnce(
        ferrokafka_mini_broker::MiniBrokerBuilder,
    ) -> ferrokafka_mini_broker::MiniBrokerBuilder,
) -> (MiniBroker, String) {
    let any = "127.0.0.1:0".parse().unwrap();
    let builder = MiniBroker::builder()
        .listener(SecurityProtocol::Plaintext, any)
        .listener(SecurityProtocol::Ssl, any)
        .listener(SecurityProtocol::SaslSsl, any)
        .listener(SecurityProtocol::SaslPlaintext, any)
        .tls_self_signed()
        .sasl_user("alice", "alice-secret");
    let broker = configure(builder).start().await.expect("broker");
    let ca = write(&scratch(), "ca.pem", broker.tls_ca_pem().expect("CA"));
    (broker, ca)
}

fn config(bootstrap: &str, pairs: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new(bootstrap).unwrap();
    c.set("request.timeout.ms", "5000").unwrap();
    c.set("socket.connection.setup.timeout.ms", "5000").unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    c
}

fn endpoint(broker: &MiniBroker, protocol: SecurityProtocol) -> String {
    broker.bootstrap_for(protocol).expect("listener")
}

/// `Connection::connect`, which must end (either way) well within [`BOUND`].
async fn connect(addr: &str, config: &ClientConfig) -> Result<Connection, Error> {
    tokio::time::timeout(BOUND, Connection::connect(addr, config))
        .await
        .unwrap_or_else(|_| panic!("connect to {addr} hung for {BOUND:?}"))
}

/// A good SASL_SSL client is served: a Metadata answer naming the SASL_SSL listener.
async fn good_client_is_served(broker: &MiniBroker, ca: &str) {
    let addr = endpoint(broker, SecurityProtocol::SaslSsl);
    let c = config(
        &addr,
        &[
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", ca),
            ("sasl.mechanism", "SCRAM-SHA-256"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ],
    );
    let conn = connect(&addr, &c).await.expect("good client connects");
    let metadata = conn
        .send(MetadataRequest::default())
        .await
        .expect("metadata");
    let advertised: Vec<String> = metadata
        .brokers
        .iter()
        .map(|b| format!("{}:{}", b.host.as_str(), b.port))
        .collect();
    assert_eq!(advertised, [addr], "Metadata names the listener asked");
}

/// Waits until the broker's counters satisfy `check` (closes are counted as they happen).
async fn counted(broker: &MiniBroker, what: &str, check: impl Fn(&ConnectionStats) -> bool) {
    let deadline = Instant::now() + BOUND;
    loop {
        let stats = broker.state().connection_stats();
        if check(&stats) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} not counted: {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn assert_tls_error(result: Result<Connection, Error>, needle: &str) {
    match result {
        Err(Error::Tls { reason, .. }) => {
            assert!(reason.contains(needle), "expected `{needle}` in: {reason}")
        }
        Err(other) => panic!("expected a TLS error with `{needle}`, got {other}"),
        Ok(_) => panic!("expected a TLS error with `{needle}`, connected"),
    }
}

fn assert_auth_error(result: Result<Connection, Error>, needle: &str) {
    match result {
        Err(err @ Error::Authentication { .. }) => {
            assert!(!err.is_retriable());
            let text = err.to_string();
            assert!(text.contains(needle), "expected `{needle}` in: {text}");
            assert!(
                !text.contains("wrong-secret"),
                "the password leaked: {text}"
            );
        }
        Err(other) => panic!("expected an authentication error with `{needle}`, got {other}"),
        Ok(_) => panic!("expected an authentication error with `{needle}`, connected"),
    }
}

#[tokio::test]
async fn an_untrusted_ca_is_refused_and_the_broker_counts_the_failed_handshake() {
    let (broker, ca) = secured(|b| b).await;
    let (_other, other_ca) = secured(|b| b).await;
    let addr = endpoint(&broker, SecurityProtocol::Ssl);
    let c = config(
        &addr,
        &[("security.protocol", "SSL"), ("ssl.ca.location", &other_ca)],
    );
    assert_tls_error(connect(&addr, &c).await, "certificate was refused");
    counted(&broker, "the failed handshake", |s| s.tls_failed >= 1).await;
    good_client_is_served(&broker, &ca).await;
}

/// A CA, and a server certificate it signs for `names`, valid until `not_after` (year).
fn signed(names: &[&str], not_after: i32) -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca.self_signed(&ca_key).unwrap();
    let mut leaf =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    leaf.not_before = rcgen::date_time_ymd(2019, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(not_after, 1, 1);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

async fn broker_with_certificate(names: &[&str], not_after: i32) -> (MiniBroker, String) {
    let dir = scratch();
    let (ca, cert, key) = signed(names, not_after);
    let ca = write(&dir, "ca.pem", &ca);
    let cert = write(&dir, "cert.pem", &cert);
    let key = write(&dir, "key.pem", &key);
    let broker = MiniBroker::builder()
        .listener(SecurityProtocol::Ssl, "127.0.0.1:0".parse().unwrap())
        .tls_pem_files(cert, key)
        .start()
        .await
        .expect("broker");
    (broker, ca)
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_unless_endpoint_identification_is_off() {
    let (broker, ca) = broker_with_certificate(&["wrong.example"], 2099).await;
    let addr = endpoint(&broker, SecurityProtocol::Ssl);
    let strict = config(
        &addr,
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );
    assert_tls_error(connect(&addr, &strict).await, "NotValidForName");
    let relaxed = config(
        &addr,
        &[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", &ca),
            ("ssl.endpoint.identification.algorithm", ""),
        ],
    );
    let conn = connect(&addr, &relaxed)
        .await
        .expect("host name not checked");
    conn.send(MetadataRequest::default()).await.expect("served");
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let (broker, ca) = broker_with_certificate(&["127.0.0.1", "localhost"], 2020).await;
    let addr = endpoint(&broker, SecurityProtocol::Ssl);
    let c = config(
        &addr,
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );
    assert_tls_error(connect(&addr, &c).await, "Expired");
}

#[tokio::test]
async fn wrong_password_unknown_user_and_unknown_mechanism_are_authentication_errors() {
    let (broker, ca) = secured(|b| {
        b.sasl_enabled_mechanisms(SecurityProtocol::SaslPlaintext, &[Mechanism::ScramSha512])
    })
    .await;
    let addr = endpoint(&broker, SecurityProtocol::SaslSsl);
    let with = |mechanism: &str, user: &str, password: &str| {
        config(
            &addr,
            &[
                ("security.protocol", "SASL_SSL"),
                ("ssl.ca.location", &ca),
                ("sasl.mechanism", mechanism),
                ("sasl.username", user),
                ("sasl.password", password),
            ],
        )
    };
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let wrong = with(mechanism, "alice", "wrong-secret");
        assert_auth_error(connect(&addr, &wrong).await, "SASL_AUTHENTICATION_FAILED");
        let unknown = with(mechanism, "mallory", "wrong-secret");
        assert_auth_error(connect(&addr, &unknown).await, "SASL_AUTHENTICATION_FAILED");
    }
    counted(&broker, "six refused logins", |s| s.auth_failed >= 6).await;

    let plain_addr = endpoint(&broker, SecurityProtocol::SaslPlaintext);
    let plain = config(
        &plain_addr,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ],
    );
    assert_auth_error(
        connect(&plain_addr, &plain).await,
        "does not enable PLAIN; it enables [SCRAM-SHA-512]",
    );
    counted(&broker, "the unknown mechanism", |s| s.auth_failed >= 7).await;
    good_client_is_served(&broker, &ca).await;
}

#[tokio::test]
async fn the_wrong_kind_of_listener_fails_in_bounded_time() {
    let (broker, ca) = secured(|b| b).await;
    // Plaintext client on the TLS port: the broker's TLS layer refuses the bytes and closes.
    let tls_addr = endpoint(&broker, SecurityProtocol::Ssl);
    let plain = config(&tls_addr, &[]);
    let started = Instant::now();
    let err = connect(&tls_addr, &plain).await.expect_err("refused");
    assert!(
        matches!(err, Error::Disconnected { .. } | Error::Timeout { .. }),
        "{err}"
    );
    eprintln!("plaintext on TLS: {err} after {:?}", started.elapsed());
    counted(&broker, "the plaintext client", |s| s.tls_failed >= 1).await;

    // TLS client on the plaintext port: its hello is no Kafka frame; the broker closes.
    let plain_addr = endpoint(&broker, SecurityProtocol::Plaintext);
    let tls = config(
        &plain_addr,
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );
    assert_tls_error(connect(&plain_addr, &tls).await, "closed the connection");
    counted(&broker, "the TLS client", |s| s.rejected >= 1).await;
    good_client_is_served(&broker, &ca).await;
}

#[tokio::test]
async fn a_broker_that_never_answers_the_authentication_times_out() {
    // Accepts, reads, never answers: the client's request timeout ends the wait.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let mut c = config(
        &addr,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ],
    );
    c.set("request.timeout.ms", "500").unwrap();
    let err = connect(&addr, &c).await.expect_err("no answer");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    hold.abort();
}

/// A token provider that counts its calls and hands out unsecured tokens.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

impl OAuthBearerTokenProvider for Counting {
    fn token(&self) -> futures::future::BoxFuture<'_, Result<OAuthBearerToken, String>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            Ok(OAuthBearerToken {
                value: Secret::new(oauthbearer::unsecured_jwt("alice", now, 60_000, &[])),
                extensions: Vec::new(),
            })
        })
    }
}

#[tokio::test]
async fn re_authentication_keeps_the_connection_and_asks_the_token_provider_again() {
    // Kafka refuses to re-authenticate more than once a second; sessions must be longer.
    let lifetime = Duration::from_millis(1500);
    let (broker, ca) = secured(|b| b.connections_max_reauth(lifetime)).await;
    let addr = endpoint(&broker, SecurityProtocol::SaslSsl);
    let provider = Arc::new(Counting::default());
    let mut c = config(
        &addr,
        &[("security.protocol", "SASL_SSL"), ("ssl.ca.location", &ca)],
    );
    c.security.sasl.mechanism = Some(Mechanism::OAuthBearer);
    c.security.sasl.oauthbearer = Some(OAuthBearer::Provider(provider.clone()));
    let conn = Arc::new(connect(&addr, &c).await.expect("connect"));
    let until = Instant::now() + lifetime * 4;
    let mut answered = 0;
    while Instant::now() < until {
        let batch = (0..5).map(|_| {
            let conn = Arc::clone(&conn);
            async move { conn.send(MetadataRequest::default()).await }
        });
        for result in futures::future::join_all(batch).await {
            result.unwrap_or_else(|e| panic!("request {answered}: {e}"));
            answered += 1;
        }
    }
    assert!(!conn.is_dead());
    let calls = provider.0.load(Ordering::SeqCst);
    assert!(
        calls >= 4,
        "the provider was asked {calls} times in 4 sessions"
    );
    let stats = broker.state().connection_stats();
    assert_eq!(stats.sessions_expired, 0, "{stats:?}");
    assert!(stats.authenticated >= 4, "{stats:?}");
}

#[tokio::test]
async fn an_idempotent_producer_keeps_its_order_across_re_authentications() {
    let lifetime = Duration::from_millis(1500);
    let (broker, ca) = secured(|b| b.connections_max_reauth(lifetime)).await;
    let addr = endpoint(&broker, SecurityProtocol::SaslSsl);
    let mut config = ProducerConfig::new(&addr).unwrap();
    for (k, v) in [
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "alice"),
        ("sasl.password", "alice-secret"),
        ("linger.ms", "1"),
        ("batch.size", "2000"),
        ("max.in.flight.requests.per.connection", "5"),
    ] {
        config.set(k, v).unwrap();
    }
    let producer = Producer::connect(config).await.expect("producer");
    let topic = format!("reauth-{}", uuid::Uuid::new_v4().simple());
    let until = Instant::now() + lifetime * 5;
    let mut deliveries = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        let record = ProducerRecord::new(topic.clone())
            .partition(0)
            .value(n.to_be_bytes().to_vec());
        deliveries.push(producer.send(record).await.expect("send"));
        n += 1;
        if n % 200 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let mut offsets = Vec::new();
    for d in deliveries {
        offsets.push(d.await.expect("delivered").offset);
    }
    producer.close().await.expect("close");
    let expected: Vec<Option<i64>> = (0..n as i64).map(Some).collect();
    assert_eq!(offsets, expected, "every record once, in the order sent");
    let stats = broker.state().connection_stats();
    assert!(stats.authenticated >= 5, "{stats:?}");
    assert_eq!(stats.sessions_expired, 0, "{stats:?}");
    eprintln!(
        "{n} records over {:?} of {lifetime:?} sessions: {stats:?}",
        lifetime * 5
    );
}

#[tokio::test]
async fn a_producer_with_a_wrong_password_fails_fast_with_the_brokers_reason() {
    let (broker, ca) = secured(|b| b).await;
    let addr = endpoint(&broker, SecurityProtocol::SaslSsl);
    let mut config = ProducerConfig::new(&addr).unwrap();
    for (k, v) in [
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", ca.as_str()),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", "alice"),
        ("sasl.password", "wrong-secret"),
    ] {
        config.set(k, v).unwrap();
    }
    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, async {
        let producer = Producer::connect(config).await?;
        let delivery = producer
            .send(ProducerRecord::new("refused").partition(0).value("x"))
            .await?;
        delivery.await.map(drop)
    })
    .await
    .expect("bounded");
    let err = result.expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("SASL_AUTHENTICATION_FAILED"), "{text}");
    eprintln!("refused after {:?}: {text}", started.elapsed());
}
