//! Topics that come and go under a running ferrokafka consumer and producer, followed as
//! Java's clients follow them (issue 15, client part):
//!
//! - a group consumer subscribed to a topic that does not exist yet, with
//!   `allow.auto.create.topics=false`, does not create it, and reads it once our admin does;
//! - with `allow.auto.create.topics` (the default), subscribing creates a missing topic on a
//!   broker with `auto.create.topics.enable` (every target: the mini-broker's default,
//!   scripts/real-kafka.sh sets it);
//! - a subscribed topic deleted and created again with another partition count: the
//!   assignment follows to the new partitions and the new records are read;
//! - a mini-broker stopped and started empty on the same port under a running producer and a
//!   group consumer: the producer delivers again, the consumer gets partitions again and
//!   reads the new records;
//! - with auto-creation off on the restarted broker, the producer's records fail after
//!   `delivery.timeout.ms` naming UNKNOWN_TOPIC_OR_PARTITION, and the stall is said at warn;
//!   a consumer subscribed to a missing topic says so at warn too.
//!
//! The three scenarios run on every target; the restarts need an embedded broker.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use ferrokafka::producer::{Producer, ProducerConfig, ProducerRecord};
use ferrokafka::{
    Admin, AutoOffsetReset, Client, ClientConfig, Consumer, ConsumerConfig, ErrorCode, NewTopic,
};
use ferrokafka_interop_tests::{runtime, scenario, unique_topic, Target};
use ferrokafka_mini_broker::MiniBroker;
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(60);

// ---- log capture: the warn lines are part of the contract ----

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the client's info and warn lines to [`LOG`] (once per test binary).
fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("ferrokafka=info"))
        .with_ansi(false)
        .with_writer(|| Capture)
        .try_init();
}

/// The captured lines that contain every one of `parts`.
fn logged(parts: &[&str]) -> Vec<String> {
    let log = LOG.lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|line| parts.iter().all(|p| line.contains(p)))
        .map(str::to_owned)
        .collect()
}

// ---- clients ----

fn client_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("ferrokafka-topic-lifecycle")
        .build()
        .expect("client config")
}

/// A group consumer; `metadata.max.age.ms` stays at its 5 min default, so what it sees of
/// topics that come and go comes from the missing-topic refresh, not the periodic one.
fn consumer_config(bootstrap: &str, group: &str, auto_create: bool) -> ConsumerConfig {
    ConsumerConfig::builder()
        .client(client_config(bootstrap))
        .group_id(group)
        .enable_auto_commit(false)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .allow_auto_create_topics(auto_create)
        .fetch_max_wait(Duration::from_millis(100))
        // Real Kafka's minimum session timeout.
        .session_timeout(Duration::from_millis(6_000))
        .heartbeat_interval(Duration::from_millis(200))
        .build()
        .expect("consumer config")
}

async fn producer(bootstrap: &str, settings: &[(&str, &str)]) -> Producer {
    let mut config = ProducerConfig::new(bootstrap).expect("producer config");
    config.set("linger.ms", "0").expect("linger.ms");
    for (k, v) in settings {
        config.set(k, v).expect("producer setting");
    }
    Producer::connect(config).await.expect("producer")
}

/// Writes `per_partition` records to each of `partitions`, values `{tag}-{p}-{i}`; every one
/// must be delivered. Returns the values.
async fn produce(
    producer: &Producer,
    topic: &str,
    partitions: i32,
    per_partition: usize,
    tag: &str,
) -> BTreeSet<String> {
    let mut deliveries = Vec::new();
    let mut values = BTreeSet::new();
    for p in 0..partitions {
        for i in 0..per_partition {
            let value = format!("{tag}-{p}-{i}");
            let record = ProducerRecord::new(topic.to_owned())
                .partition(p)
                .value(value.clone());
            deliveries.push(producer.send(record).await.expect("send"));
            values.insert(value);
        }
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    values
}

/// Polls until every value in `want` was read, or panics at `WAIT` naming what is missing.
async fn read_all(consumer: &mut Consumer, want: &BTreeSet<String>) {
    let deadline = Instant::now() + WAIT;
    let mut seen = BTreeSet::new();
    while !want.is_subset(&seen) {
        assert!(
            Instant::now() < deadline,
            "read {} of {} records in {WAIT:?}; missing e.g. {:?}; assignment {:?}",
            want.intersection(&seen).count(),
            want.len(),
            want.difference(&seen).take(3).collect::<Vec<_>>(),
            consumer.assignment()
        );
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
        {
            if let Some(v) = r.value {
                seen.insert(String::from_utf8_lossy(&v).into_owned());
            }
        }
    }
}

/// Polls (so the consumer works) until its assignment has `partitions` partitions of
/// `topic`, or panics at `WAIT`.
async fn await_assignment(consumer: &mut Consumer, topic: &str, partitions: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mine = consumer
            .assignment()
            .into_iter()
            .filter(|tp| tp.topic == topic)
            .count();
        if mine == partitions {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "assignment {:?}, want {partitions} partitions of {topic}",
            consumer.assignment()
        );
        consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
    }
}

/// The partition count of `topic` as a client that never creates topics sees it; 0 when
/// it does not exist.
async fn partitions_of(observer: &Client, topic: &str) -> usize {
    let cluster = observer.metadata(&[topic]).await.expect("metadata");
    cluster
        .topics
        .get(topic)
        .filter(|t| t.error.is_ok())
        .map_or(0, |t| t.partitions.len())
}

/// Creates `topic`, retrying while the broker still finishes deleting an earlier one of the
/// same name (Kafka deletes asynchronously).
async fn create(admin: &Admin, topic: &str, partitions: i32) {
    let deadline = Instant::now() + WAIT;
    loop {
        let results = admin
            .create_topics(&[NewTopic::new(topic).partitions(partitions)])
            .await
            .expect("CreateTopics");
        match results.into_iter().next().map(|(_, r)| r) {
            Some(Ok(())) => return,
            Some(Err(err))
                if err.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS)
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("creating {topic}: {other:?}"),
        }
    }
}

/// A scenario's clients: an observer that never creates topics (and an admin on it), a
/// producer, and a group consumer subscribed to `topic`, which does not exist yet.
struct Scene {
    topic: String,
    observer: Client,
    admin: Admin,
    producer: Producer,
    consumer: Consumer,
}

impl Scene {
    async fn start(bootstrap: &str, prefix: &str, consumer_auto_create: bool) -> Scene {
        Scene::with_producer(bootstrap, prefix, consumer_auto_create, &[]).await
    }

    async fn with_producer(
        bootstrap: &str,
        prefix: &str,
        consumer_auto_create: bool,
        producer_settings: &[(&str, &str)],
    ) -> Scene {
        capture_logs();
        let topic = unique_topic(prefix);
        let observer = Client::connect(client_config(bootstrap))
            .await
            .expect("client");
        let group = unique_topic(&format!("g-{prefix}"));
        let mut consumer =
            Consumer::connect(consumer_config(bootstrap, &group, consumer_auto_create))
                .await
                .expect("consumer");
        consumer.subscribe([topic.as_str()]).expect("subscribe");
        Scene {
            admin: Admin::new(observer.clone()),
            producer: producer(bootstrap, producer_settings).await,
            topic,
            observer,
            consumer,
        }
    }

    async fn close(self) {
        let _ = self.producer.close().await;
        self.consumer.close().await.expect("close consumer");
        self.observer.close().await;
    }
}

// ---- on every target ----

scenario!(subscribed_before_the_topic_exists, |t: &Target| {
    runtime().block_on(async {
        let mut s = Scene::start(&t.bootstrap, "later", false).await;
        // The consumer joins and asks for the topic's metadata (without creation) meanwhile.
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            let got = s
                .consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll");
            assert!(got.is_empty(), "records of a topic that does not exist");
        }
        assert_eq!(
            partitions_of(&s.observer, &s.topic).await,
            0,
            "allow.auto.create.topics=false created the topic"
        );
        // Our admin creates it: not TOPIC_ALREADY_EXISTS, so nobody else did.
        create(&s.admin, &s.topic, 3).await;
        let want = produce(&s.producer, &s.topic, 3, 10, "new").await;
        read_all(&mut s.consumer, &want).await;
        await_assignment(&mut s.consumer, &s.topic, 3).await;
        s.close().await;
    });
});

scenario!(subscribing_creates_a_missing_topic, |t: &Target| {
    runtime().block_on(async {
        let mut s = Scene::start(&t.bootstrap, "auto", true).await;
        let deadline = Instant::now() + WAIT;
        let partitions = loop {
            let n = partitions_of(&s.observer, &s.topic).await;
            if n > 0 {
                break n;
            }
            assert!(
                Instant::now() < deadline,
                "subscribing did not create {} in {WAIT:?}",
                s.topic
            );
            s.consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll");
        };
        await_assignment(&mut s.consumer, &s.topic, partitions).await;
        let want = produce(&s.producer, &s.topic, 1, 5, "auto").await;
        read_all(&mut s.consumer, &want).await;
        s.close().await;
    });
});

scenario!(a_deleted_and_recreated_topic_is_followed, |t: &Target| {
    runtime().block_on(async {
        // No auto-creation: the topic must stay gone until our admin creates it again.
        let mut s = Scene::start(&t.bootstrap, "again", false).await;
        create(&s.admin, &s.topic, 2).await;
        let old = produce(&s.producer, &s.topic, 2, 5, "old").await;
        read_all(&mut s.consumer, &old).await;
        await_assignment(&mut s.consumer, &s.topic, 2).await;

        let deleted = s
            .admin
            .delete_topics(&[&s.topic])
            .await
            .expect("DeleteTopics");
        assert!(deleted.iter().all(|(_, r)| r.is_ok()), "{deleted:?}");
        // Recreated with a third partition: the assignment must take it on.
        create(&s.admin, &s.topic, 3).await;
        await_assignment(&mut s.consumer, &s.topic, 3).await;
        let new = produce(&s.producer, &s.topic, 3, 5, "new").await;
        read_all(&mut s.consumer, &new).await;
        s.close().await;
    });
});

// ---- restarts of an embedded mini-broker ----

async fn start_broker(addr: SocketAddr, auto_create: bool) -> MiniBroker {
    // The old listener's port may take a moment to be free again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match MiniBroker::builder()
            .listen(addr)
            .default_partitions(2)
            .auto_create_topics(auto_create)
            .start()
            .await
        {
            Ok(broker) => return broker,
            Err(err) if Instant::now() < deadline => {
                eprintln!("binding {addr} again: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("restarting the broker on {addr}: {err}"),
        }
    }
}

/// The restart: the broker comes back empty; the producer delivers again and the
/// group consumer gets partitions again and reads what is written after the restart.
#[test]
fn a_broker_restarted_empty_is_followed_by_producer_and_consumer() {
    runtime().block_on(async {
        let broker = start_broker("127.0.0.1:0".parse().expect("addr"), true).await;
        let addr = broker.local_addr();
        let settings = [("delivery.timeout.ms", "60000")];
        let mut s = Scene::with_producer(&broker.bootstrap(), "restart", true, &settings).await;
        let before = produce(&s.producer, &s.topic, 2, 5, "before").await;
        read_all(&mut s.consumer, &before).await;
        await_assignment(&mut s.consumer, &s.topic, 2).await;

        broker.shutdown().await;
        let broker = start_broker(addr, true).await;
        assert!(broker.state().topics().is_empty(), "restarted empty");

        let after = produce(&s.producer, &s.topic, 2, 5, "after").await;
        read_all(&mut s.consumer, &after).await;
        await_assignment(&mut s.consumer, &s.topic, 2).await;
        s.close().await;
        broker.shutdown().await;
    });
}

/// A broker that comes back empty and will not create topics: the producer's record fails
/// after `delivery.timeout.ms` with UNKNOWN_TOPIC_OR_PARTITION as the reason, the stall is
/// said at warn, and a consumer subscribed to the missing topic says so at warn too, once.
#[test]
fn a_topic_that_stays_gone_is_said_at_warn_and_fails_delivery() {
    runtime().block_on(async {
        let broker = start_broker("127.0.0.1:0".parse().expect("addr"), true).await;
        let addr = broker.local_addr();
        let settings = [
            ("request.timeout.ms", "2000"),
            ("delivery.timeout.ms", "8000"),
        ];
        let mut s = Scene::with_producer(&broker.bootstrap(), "gone", false, &settings).await;
        let topic = s.topic.clone();
        produce(&s.producer, &topic, 1, 1, "before").await;

        broker.shutdown().await;
        let broker = start_broker(addr, false).await;

        let started = Instant::now();
        let record = ProducerRecord::new(topic.clone())
            .partition(0)
            .value("lost");
        let delivery = s.producer.send(record).await.expect("send");
        // The consumer polls while the record waits out its delivery timeout.
        let mut delivery = std::pin::pin!(delivery);
        let outcome = loop {
            tokio::select! {
                outcome = &mut delivery => break outcome,
                polled = s.consumer.poll(Duration::from_millis(200)) => {
                    assert!(polled.expect("poll").is_empty());
                }
            }
        };
        let err = outcome.expect_err("a record for a topic that is gone");
        let text = err.to_string();
        assert!(
            text.contains("UNKNOWN_TOPIC_OR_PARTITION") && text.contains(&topic),
            "the delivery error names neither the reason nor the topic: {text}"
        );
        assert!(started.elapsed() >= Duration::from_secs(7), "{text}");
        let producer_warned = logged(&[
            "WARN",
            &format!("no progress delivering to {topic} partition 0"),
            "UNKNOWN_TOPIC_OR_PARTITION",
        ]);
        assert!(!producer_warned.is_empty(), "no warn line for the producer");

        // The consumer: its warn line comes once the stall has lasted STALL_WARN_AFTER.
        let warned = [
            "WARN",
            &format!("no progress for subscribed topic {topic}"),
            "UNKNOWN_TOPIC_OR_PARTITION",
        ];
        let deadline = Instant::now() + WAIT;
        while logged(&warned).is_empty() {
            assert!(
                Instant::now() < deadline,
                "no warn line for the consumer's missing topic"
            );
            let polled = s.consumer.poll(Duration::from_millis(200)).await;
            assert!(polled.expect("poll").is_empty());
        }
        assert_eq!(
            logged(&warned).len(),
            1,
            "warned more than once per episode"
        );
        s.close().await;
        broker.shutdown().await;
    });
}
