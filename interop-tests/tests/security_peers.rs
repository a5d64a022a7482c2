//! Third-party clients on secured listeners, unchanged: librdkafka (the `rdkafka` crate), the
//! Java client, kcat and kafka-python each produce records and read them back over SSL,
//! SASL_SSL with every mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER) and
//! SASL_PLAINTEXT with one mechanism per peer, configured with the settings
//! [`SecuredTarget::settings`] writes in that client's own key names.
//!
//! Targets: the in-process mini-broker, the mini-broker binary, and real Kafka
//! (scripts/real-kafka.sh), which proves the tests themselves. One broker per test; a test runs
//! one peer's cases one after the other.
//!
//! kcat cannot log in with SCRAM while it is built on librdkafka older than 2.6.1 (Debian's
//! kcat 1.7.1 has 2.0.2): see [`kcat_scram_works`].

use std::cell::RefCell;
use std::time::{Duration, Instant};

use ferrokafka_interop_tests::peers::rdkafka_group::{poll_until, GroupConsumer};
use ferrokafka_interop_tests::peers::{java, kcat, python, rdkafka as rd};
use ferrokafka_interop_tests::record::{assert_same, sample};
use ferrokafka_interop_tests::secured::{self, Dialect, Listener, SecuredTarget};
use ferrokafka_interop_tests::unique_topic;
use ferrokafka_protocol::sasl::Mechanism;

const RECORDS: usize = 6;
const WAIT: Duration = Duration::from_secs(30);

/// One listener × mechanism for one peer: where to connect, with what, and a fresh topic.
struct Case<'a> {
    what: String,
    listener: Listener,
    mechanism: Option<Mechanism>,
    bootstrap: &'a str,
    settings: Vec<(String, String)>,
    topic: String,
}

impl Case<'_> {
    fn settings(&self) -> Vec<(&str, &str)> {
        self.settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// Runs `check` for SSL, SASL_SSL with each mechanism of `target`, and SASL_PLAINTEXT with
/// `on_sasl_plaintext` (a different one per peer, so that together they cover several),
/// with settings in `dialect`.
fn each_case(
    target: &SecuredTarget,
    peer: &str,
    dialect: Dialect,
    on_sasl_plaintext: Mechanism,
    mut check: impl FnMut(&Case<'_>),
) {
    let cases = target
        .combinations()
        .into_iter()
        .filter(|(listener, mechanism)| match listener {
            Listener::Ssl | Listener::SaslSsl => true,
            Listener::SaslPlaintext => *mechanism == Some(on_sasl_plaintext),
            Listener::Mtls => false,
        });
    for (listener, mechanism) in cases {
        let case = Case {
            what: format!(
                "{peer} on {} {} {}",
                target.name,
                listener.protocol(),
                mechanism.map_or("(no SASL)", Mechanism::name)
            ),
            listener,
            mechanism,
            bootstrap: target.endpoint(listener).expect("listed endpoint"),
            settings: target.settings(listener, mechanism, dialect),
            topic: unique_topic("secured-peer"),
        };
        let started = Instant::now();
        check(&case);
        eprintln!("{}: ok in {:?}", case.what, started.elapsed());
    }
}

/// Values no two cases share, so a record read from the wrong place cannot pass.
fn values(case: &Case<'_>) -> Vec<String> {
    (0..RECORDS)
        .map(|i| format!("{} #{i}", case.what))
        .collect()
}

/// librdkafka: a `BaseProducer` writes the sample records (keys, null values, headers); on
/// SASL_SSL a group consumer reads them back (FindCoordinator, JoinGroup, SyncGroup, Heartbeat
/// and Fetch over the secured listener), elsewhere a consumer with a manual assignment.
fn with_librdkafka(target: &SecuredTarget) {
    each_case(
        target,
        "librdkafka",
        Dialect::Librdkafka,
        Mechanism::ScramSha512,
        |case| {
            let settings = case.settings();
            let sent = sample(RECORDS, 1);
            let delivered = rd::produce(case.bootstrap, &case.topic, &sent, &settings);
            let at: Vec<(i32, i64)> = (0..RECORDS as i64).map(|o| (0, o)).collect();
            assert_eq!(delivered, at, "{}: where the records landed", case.what);
            if case.listener != Listener::SaslSsl {
                let got = rd::consume(case.bootstrap, &case.topic, 0, 0, RECORDS, WAIT, &settings);
                assert_same(&sent, &got, &case.what);
                return;
            }
            let group = unique_topic("secured-peer-group");
            let member = GroupConsumer::subscribe(case.bootstrap, &group, &case.topic, &settings);
            let got = RefCell::new(Vec::new());
            poll_until(
                &[&member],
                &format!("{}: the group consumer's records", case.what),
                WAIT,
                |r| got.borrow_mut().push((r.partition, r.offset, r.value)),
                |_| got.borrow().len() >= RECORDS,
            );
            let got = got.into_inner();
            member.commit();
            let want: Vec<(i32, i64, Vec<u8>)> = sent
                .iter()
                .zip(&delivered)
                .map(|(r, (p, o))| (*p, *o, r.value.clone().unwrap_or_default()))
                .collect();
            assert_eq!(got, want, "{}: what the group consumer read", case.what);
            let committed = member.committed(1);
            assert_eq!(
                committed.get(&0),
                Some(&(RECORDS as i64)),
                "{}: the group's committed offset",
                case.what
            );
        },
    );
}

/// The Java client: a `KafkaProducer`, then a `KafkaConsumer` with a manual assignment, in one
/// JVM; `ssl.truststore.type=PEM` and `sasl.jaas.config`. Its OAUTHBEARER login needs Jackson
/// on the classpath, which scripts/kafka-jars.sh puts beside kafka-clients.
fn with_java(target: &SecuredTarget) {
    each_case(
        target,
        "Java client",
        Dialect::Java,
        Mechanism::ScramSha256,
        |case| {
            let sent = sample(RECORDS, 1);
            let (delivered, got) =
                java::round_trip(case.bootstrap, &case.topic, &sent, &case.settings());
            let at: Vec<(i32, i64)> = (0..RECORDS as i64).map(|o| (0, o)).collect();
            assert_eq!(delivered, at, "{}: where the records landed", case.what);
            assert_same(&sent, &got, &case.what);
        },
    );
}

/// Whether kcat's librdkafka can log in with SCRAM against a broker that checks the nonce.
///
/// librdkafka before 2.6.1 writes the client-final-message's nonce as its own nonce followed
/// by the server-first-message's nonce, which already begins with the client's (RFC 5802):
/// the client nonce comes twice (confluentinc/librdkafka#4895, fixed in 2.6.1). Kafka 4.x
/// compares the nonce exactly and refuses the login as invalid credentials; so does the
/// mini-broker (its warn log: "the nonce in client-final is not the one agreed"). Debian's
/// kcat 1.7.1 is built on librdkafka 2.0.2; the `rdkafka` crate brings a newer one.
fn kcat_scram_works() -> bool {
    kcat::librdkafka_version() >= (2, 6, 1)
}

/// kcat: `-P` then `-C` with `-X` settings; SCRAM where its librdkafka cannot do it is a
/// refused login, asserted as such.
fn with_kcat(target: &SecuredTarget) {
    let scram_works = kcat_scram_works();
    each_case(
        target,
        "kcat",
        Dialect::Librdkafka,
        Mechanism::Plain,
        |case| {
            let settings = case.settings();
            let pairs: Vec<(String, String)> = values(case)
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("key-{i}"), v))
                .collect();
            let scram = matches!(
                case.mechanism,
                Some(Mechanism::ScramSha256 | Mechanism::ScramSha512)
            );
            if scram && !scram_works {
                let refused = kcat::produce(case.bootstrap, &case.topic, 0, &pairs, &[], &settings)
                    .expect_err("kcat's librdkafka repeats the client nonce in SCRAM");
                let mechanism = case.mechanism.map_or("", Mechanism::name);
                assert!(
                    refused.contains(&format!(
                        "invalid credentials with SASL mechanism {mechanism}"
                    )),
                    "{}: refused for another reason: {refused}",
                    case.what
                );
                return;
            }
            kcat::produce(case.bootstrap, &case.topic, 0, &pairs, &[], &settings)
                .unwrap_or_else(|e| panic!("{}: kcat produce failed with {e}", case.what));
            let got = kcat::consume(case.bootstrap, &case.topic, 0, 0, RECORDS, &settings);
            let got: Vec<(i64, String, String)> = got
                .into_iter()
                .map(|c| {
                    let text = |b: Option<Vec<u8>>| String::from_utf8(b.unwrap_or_default());
                    let key = text(c.record.key).expect("key");
                    (c.offset, key, text(c.record.value).expect("value"))
                })
                .collect();
            let want: Vec<(i64, String, String)> = (0..)
                .zip(pairs)
                .map(|(offset, (key, value))| (offset, key, value))
                .collect();
            assert_eq!(got, want, "{}: what kcat read back", case.what);
        },
    );
}

/// kafka-python: `KafkaProducer` then `KafkaConsumer` in one process (interop-tests/python/
/// peer.py), OAUTHBEARER through a token provider of unsecured JWTs.
fn with_kafka_python(target: &SecuredTarget, version: &str) {
    each_case(
        target,
        &format!("kafka-python {version}"),
        Dialect::KafkaPython,
        Mechanism::OAuthBearer,
        |case| {
            let sent = values(case);
            let got = python::round_trip(case.bootstrap, &case.topic, &sent, &case.settings, WAIT);
            let want: Vec<(i64, String)> = (0..).zip(sent).collect();
            assert_eq!(got, want, "{}: what kafka-python read back", case.what);
        },
    );
}

/// One test per peer on each target; a missing peer skips before a broker starts.
macro_rules! on_target {
    ($module:ident, $start:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn librdkafka() {
                if let Some(target) = $start {
                    with_librdkafka(&target);
                }
            }

            #[test]
            fn java_client() {
                if java::available() {
                    if let Some(target) = $start {
                        with_java(&target);
                    }
                }
            }

            #[test]
            fn kcat() {
                if kcat::available() {
                    if let Some(target) = $start {
                        with_kcat(&target);
                    }
                }
            }

            #[test]
            fn kafka_python() {
                if let Some(version) = python::available() {
                    if let Some(target) = $start {
                        with_kafka_python(&target, version);
                    }
                }
            }
        }
    };
}

on_target!(in_process, Some(secured::in_process()));
on_target!(binary, secured::binary());
on_target!(real_kafka, secured::real_kafka());
