//! Secured listeners with ferrokafka: every listener and SASL mechanism a target serves carries
//! a produce, a group consume and a committed transaction, with settings written once in the
//! Java client's key names and once in librdkafka's; and a SASL connection outlives several of
//! the broker's session lifetimes by re-authenticating (KIP-368) with requests in flight.
//!
//! Targets: real Kafka (scripts/real-kafka.sh), the in-process mini-broker and the mini-broker
//! binary, each with SSL, SASL_SSL and SASL_PLAINTEXT listeners.

use std::time::{Duration, Instant};

use ferrokafka::consumer::{ConsumerConfig, IsolationLevel};
use ferrokafka::kafka_protocol::messages::MetadataRequest;
use ferrokafka::producer::{ProducerConfig, ProducerRecord};
use ferrokafka::{ClientConfig, Connection, Consumer, Producer, TransactionalProducer};
use ferrokafka_interop_tests::runtime;
use ferrokafka_interop_tests::secured::{self, Dialect, Listener, SecuredTarget};
use ferrokafka_interop_tests::unique_topic;
use ferrokafka_protocol::sasl::Mechanism;

const WAIT: Duration = Duration::from_secs(30);
const RECORDS: usize = 10;
const IN_TRANSACTION: usize = 5;

fn apply<C>(
    mut config: C,
    settings: &[(String, String)],
    set: impl Fn(&mut C, &str, &str) -> Result<(), ferrokafka::Error>,
) -> C {
    for (k, v) in settings {
        set(&mut config, k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    config
}

fn producer_config(bootstrap: &str, settings: &[(String, String)]) -> ProducerConfig {
    apply(
        ProducerConfig::new(bootstrap).unwrap(),
        settings,
        |c, k, v| c.set(k, v).map(drop),
    )
}

fn consumer_config(bootstrap: &str, settings: &[(String, String)]) -> ConsumerConfig {
    apply(
        ConsumerConfig::new(bootstrap).unwrap(),
        settings,
        |c, k, v| c.set(k, v).map(drop),
    )
}

/// Reads `count` records of `topic` (partition 0) with `consumer`, bounded by [`WAIT`].
async fn read(consumer: &mut Consumer, count: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + WAIT;
    let mut values = Vec::new();
    while values.len() < count && Instant::now() < deadline {
        for r in consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
        {
            values.push(r.value.map(|v| v.to_vec()).unwrap_or_default());
        }
    }
    values
}

/// Produce, group consume with a commit, and a committed transaction read back with
/// read_committed, all through one listener with one mechanism.
async fn round_trip(bootstrap: &str, settings: &[(String, String)], what: &str) {
    let topic = unique_topic("secured");
    let producer = Producer::connect(producer_config(bootstrap, settings))
        .await
        .unwrap_or_else(|e| panic!("{what}: producer: {e}"));
    let sent: Vec<Vec<u8>> = (0..RECORDS)
        .map(|i| format!("{what} #{i}").into_bytes())
        .collect();
    for value in &sent {
        let delivery = producer
            .send(
                ProducerRecord::new(topic.clone())
                    .partition(0)
                    .value(value.clone()),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: send: {e}"));
        delivery
            .await
            .unwrap_or_else(|e| panic!("{what}: delivery: {e}"));
    }
    producer
        .close()
        .await
        .unwrap_or_else(|e| panic!("{what}: close: {e}"));

    let group = unique_topic("secured-group");
    let mut config = consumer_config(bootstrap, settings);
    config.set("group.id", &group).unwrap();
    config.set("auto.offset.reset", "earliest").unwrap();
    config.set("enable.auto.commit", "false").unwrap();
    let mut consumer = Consumer::new(config)
        .await
        .unwrap_or_else(|e| panic!("{what}: consumer: {e}"));
    consumer.subscribe([topic.clone()]).unwrap();
    let got = read(&mut consumer, RECORDS).await;
    assert_eq!(
        got, sent,
        "{what}: the group consumer read back what was sent"
    );
    consumer
        .commit()
        .await
        .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
    consumer.close().await.expect("close");

    let mut config = producer_config(bootstrap, settings);
    config
        .set("transactional.id", &unique_topic("secured-txn"))
        .unwrap();
    let mut transactional = TransactionalProducer::connect(config)
        .await
        .unwrap_or_else(|e| panic!("{what}: transactional producer: {e}"));
    transactional
        .init_transactions()
        .await
        .unwrap_or_else(|e| panic!("{what}: init_transactions: {e}"));
    let in_txn: Vec<Vec<u8>> = (0..IN_TRANSACTION)
        .map(|i| format!("{what} txn #{i}").into_bytes())
        .collect();
    let mut txn = transactional.begin().await.expect("begin");
    for value in &in_txn {
        txn.send(
            ProducerRecord::new(topic.clone())
                .partition(0)
                .value(value.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: transactional send: {e}"));
    }
    txn.commit()
        .await
        .unwrap_or_else(|e| panic!("{what}: commit transaction: {e}"));
    transactional
        .close()
        .await
        .unwrap_or_else(|e| panic!("{what}: close: {e}"));

    let mut config = consumer_config(bootstrap, settings);
    config.isolation_level = IsolationLevel::ReadCommitted;
    let mut reader = Consumer::new(config).await.expect("reader");
    reader
        .assign([ferrokafka::TopicPartition::new(topic.clone(), 0)])
        .unwrap();
    reader
        .seek(&ferrokafka::TopicPartition::new(topic.clone(), 0), 0)
        .unwrap();
    let all = read(&mut reader, RECORDS + IN_TRANSACTION).await;
    let expected: Vec<Vec<u8>> = sent.iter().chain(&in_txn).cloned().collect();
    assert_eq!(all, expected, "{what}: read_committed sees both, in order");
    reader.close().await.expect("close");
}

/// Every listener × mechanism of `target`, the dialects taking turns.
fn every_combination(target: &SecuredTarget) {
    let rt = runtime();
    for (i, (listener, mechanism)) in target.combinations().into_iter().enumerate() {
        let dialect = if i % 2 == 0 {
            Dialect::Java
        } else {
            Dialect::Librdkafka
        };
        let bootstrap = target.endpoint(listener).expect("listed endpoint");
        let settings = target.settings(listener, mechanism, dialect);
        let what = format!(
            "{} {listener:?} {} ({dialect:?} keys)",
            target.name,
            mechanism.map_or("no SASL", Mechanism::name)
        );
        let started = Instant::now();
        rt.block_on(round_trip(bootstrap, &settings, &what));
        eprintln!("{what}: ok in {:?}", started.elapsed());
    }
}

/// One SASL_SSL connection kept busy with pipelined requests across three session
/// lifetimes: every request is answered and the connection never dies, which it would at the
/// first request after an expiry it had not renewed.
fn outlives_sessions(target: &SecuredTarget, mechanism: Mechanism) {
    let Some(lifetime) = target.reauth else {
        panic!(
            "{}: no connections.max.reauth.ms to test against",
            target.name
        );
    };
    let bootstrap = target
        .endpoint(Listener::SaslSsl)
        .expect("SASL_SSL listener")
        .to_owned();
    let settings = target.settings(Listener::SaslSsl, Some(mechanism), Dialect::Librdkafka);
    let config = apply(
        ClientConfig::new(&bootstrap).unwrap(),
        &settings,
        |c, k, v| c.set(k, v).map(drop),
    );
    runtime().block_on(async {
        let conn = std::sync::Arc::new(
            Connection::connect(&bootstrap, &config)
                .await
                .expect("connect"),
        );
        let until = Instant::now() + lifetime * 3 + lifetime / 2;
        let mut answered = 0u64;
        while Instant::now() < until {
            // Five in flight at a time, so re-authentication meets queued requests.
            let batch = (0..5).map(|_| {
                let conn = std::sync::Arc::clone(&conn);
                async move { conn.send(MetadataRequest::default()).await }
            });
            for result in futures::future::join_all(batch).await {
                result
                    .unwrap_or_else(|e| panic!("{}: request {answered} failed: {e}", target.name));
                answered += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!conn.is_dead(), "{}: the connection died", target.name);
        eprintln!(
            "{}: one connection, {answered} requests over {:?} with {lifetime:?} sessions",
            target.name,
            lifetime * 3 + lifetime / 2
        );
    });
}

/// SCRAM credentials over the wire (DescribeUserScramCredentials, AlterUserScramCredentials):
/// a user added with a salted password logs in at once, is described with its mechanism and
/// iterations, and cannot log in once deleted; bad requests get Kafka's codes and messages.
/// On real Kafka a change reaches the broker a moment after the controller took it: logins
/// and describes are retried within a bound there.
fn scram_credentials_over_the_wire(target: &SecuredTarget) {
    use ferrokafka::kafka_protocol::messages::alter_user_scram_credentials_request::{
        ScramCredentialDeletion, ScramCredentialUpsertion,
    };
    use ferrokafka::kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
    use ferrokafka::kafka_protocol::messages::{
        AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
    };
    use ferrokafka::kafka_protocol::protocol::StrBytes;
    use ferrokafka::Client;
    use ferrokafka_protocol::sasl::scram::ScramHash;

    let Some(bootstrap) = target.endpoint(Listener::SaslSsl) else {
        return;
    };
    let admin_settings = target.settings(
        Listener::SaslSsl,
        Some(Mechanism::ScramSha512),
        Dialect::Librdkafka,
    );
    let user = unique_topic("bob");
    let password = "bob-secret";
    let as_user = |name: &str, password: &str| -> Vec<(String, String)> {
        admin_settings
            .iter()
            .map(|(k, v)| match k.as_str() {
                "sasl.username" => (k.clone(), name.to_owned()),
                "sasl.password" => (k.clone(), password.to_owned()),
                _ => (k.clone(), v.clone()),
            })
            .collect()
    };
    let config = |settings: &[(String, String)]| {
        apply(
            ClientConfig::new(bootstrap).unwrap(),
            settings,
            |c, k, v| c.set(k, v).map(drop),
        )
    };
    let name = |s: &str| StrBytes::from_string(s.to_owned());
    let upsert = |user: &str, mechanism: i8, iterations: i32| {
        let salt = b"pepper-and-salt".to_vec();
        let salted = ScramHash::Sha512.salted_password(
            password,
            &salt,
            u32::try_from(iterations.clamp(4096, 16384)).unwrap(),
        );
        ScramCredentialUpsertion::default()
            .with_name(name(user))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(salt.into())
            .with_salted_password(salted.into())
    };
    let rt = runtime();
    rt.block_on(async {
        let admin = Client::connect(config(&admin_settings))
            .await
            .unwrap_or_else(|e| panic!("{}: admin: {e}", target.name));
        let altered = admin
            .send_to_any(
                AlterUserScramCredentialsRequest::default()
                    .with_upsertions(vec![upsert(&user, 2, 8192)]),
            )
            .await
            .expect("AlterUserScramCredentials");
        assert_eq!(
            altered
                .results
                .iter()
                .map(|r| (r.user.to_string(), r.error_code))
                .collect::<Vec<_>>(),
            vec![(user.clone(), 0)],
            "{}",
            target.name
        );

        // The new user logs in (a bounded wait for Kafka's broker to learn of it).
        let deadline = Instant::now() + WAIT;
        let client = loop {
            match Client::connect(config(&as_user(&user, password))).await {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("{}: {user} not yet accepted: {e}", target.name);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{}: {user} cannot log in: {e}", target.name),
            }
        };
        client.close().await;
        // Client::connect names every bootstrap server it tried; the refusal is among them.
        let auth_refused = |r: &Result<Client, ferrokafka::Error>| {
            r.as_ref()
                .is_err_and(|e| e.to_string().contains("SASL_AUTHENTICATION_FAILED"))
        };
        let wrong = Client::connect(config(&as_user(&user, "not-the-password"))).await;
        assert!(auth_refused(&wrong), "{}: {wrong:?}", target.name);

        let describe = |users: Option<Vec<&str>>| {
            DescribeUserScramCredentialsRequest::default().with_users(users.map(|u| {
                u.into_iter()
                    .map(|n| UserName::default().with_name(name(n)))
                    .collect()
            }))
        };
        let described = admin
            .send_to_any(describe(Some(vec![
                &user,
                "nobody-at-all",
                "twice",
                "twice",
            ])))
            .await
            .expect("DescribeUserScramCredentials");
        // (user, error code, message, (mechanism, iterations) per credential)
        type Described = (String, i16, Option<String>, Vec<(i8, i32)>);
        let mut got: Vec<Described> = described
            .results
            .iter()
            .map(|r| {
                (
                    r.user.to_string(),
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.to_string()),
                    r.credential_infos
                        .iter()
                        .map(|c| (c.mechanism, c.iterations))
                        .collect(),
                )
            })
            .collect();
        got.sort();
        let mut want = vec![
            // Kafka leaves the message of a found user empty, not null.
            (user.clone(), 0, Some(String::new()), vec![(2, 8192)]),
            (
                "nobody-at-all".to_owned(),
                91,
                Some(
                    "Attempt to describe a user credential that does not exist: nobody-at-all"
                        .to_owned(),
                ),
                vec![],
            ),
            (
                "twice".to_owned(),
                92,
                Some(
                    "Cannot describe SCRAM credentials for the same user twice in a single \
                     request: twice"
                        .to_owned(),
                ),
                vec![],
            ),
        ];
        want.sort();
        assert_eq!(got, want, "{}", target.name);

        // Refusals, one per user, and nothing changed for those users.
        let refused = admin
            .send_to_any(
                AlterUserScramCredentialsRequest::default()
                    .with_deletions(vec![ScramCredentialDeletion::default()
                        .with_name(name("ghost"))
                        .with_mechanism(1)])
                    .with_upsertions(vec![
                        upsert("", 2, 8192),
                        upsert("few", 2, 1000),
                        upsert("many", 2, 20000),
                        upsert("mech", 0, 8192),
                        upsert("dup", 1, 8192),
                        upsert("dup", 2, 8192),
                    ]),
            )
            .await
            .expect("AlterUserScramCredentials");
        let mut got: Vec<(String, i16, Option<String>)> = refused
            .results
            .iter()
            .map(|r| {
                (
                    r.user.to_string(),
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.to_string()),
                )
            })
            .collect();
        got.sort();
        let refusal = |user: &str, code: i16, message: &str| {
            (user.to_owned(), code, Some(message.to_owned()))
        };
        assert_eq!(
            got,
            vec![
                refusal("", 93, "Username must not be empty"),
                refusal(
                    "dup",
                    92,
                    "A user credential cannot be altered twice in the same request"
                ),
                refusal("few", 93, "Too few iterations"),
                refusal(
                    "ghost",
                    91,
                    "Attempt to delete a user credential that does not exist"
                ),
                refusal("many", 93, "Too many iterations"),
                refusal("mech", 33, "Unknown SCRAM mechanism"),
            ],
            "{}",
            target.name
        );

        // Deleted, the user can no longer log in.
        let deleted = admin
            .send_to_any(
                AlterUserScramCredentialsRequest::default().with_deletions(vec![
                    ScramCredentialDeletion::default()
                        .with_name(name(&user))
                        .with_mechanism(2),
                ]),
            )
            .await
            .expect("AlterUserScramCredentials");
        assert_eq!(deleted.results[0].error_code, 0, "{deleted:?}");
        let deadline = Instant::now() + WAIT;
        loop {
            match Client::connect(config(&as_user(&user, password))).await {
                r if auth_refused(&r) => break,
                Ok(client) if Instant::now() < deadline => {
                    client.close().await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => panic!("{}: {user} after deletion: {other:?}", target.name),
            }
        }
        admin.close().await;
    });
}

/// The same tests on each target.
macro_rules! on_target {
    ($module:ident, $start:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn every_listener_and_mechanism_carries_produce_groups_and_transactions() {
                if let Some(target) = $start {
                    every_combination(&target);
                }
            }

            #[test]
            fn a_connection_outlives_its_sessions_by_reauthenticating_scram() {
                if let Some(target) = $start {
                    outlives_sessions(&target, Mechanism::ScramSha512);
                }
            }

            #[test]
            fn scram_credentials_can_be_managed_over_the_wire() {
                if let Some(target) = $start {
                    scram_credentials_over_the_wire(&target);
                }
            }

            #[test]
            fn a_connection_outlives_its_sessions_by_reauthenticating_oauthbearer() {
                if let Some(target) = $start {
                    outlives_sessions(&target, Mechanism::OAuthBearer);
                }
            }
        }
    };
}

on_target!(real_kafka, secured::real_kafka());
on_target!(in_process, Some(secured::in_process()));
on_target!(binary, secured::binary());
