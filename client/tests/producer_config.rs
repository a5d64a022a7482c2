//! Configuration mistakes are refused before any I/O, each naming the setting; records too
//! big for the limits are refused at `send`.

mod producer_support;

use std::time::Duration;

use ferrokafka::producer::{Acks, ProducerConfig, ProducerRecord};
use ferrokafka::{Error, ErrorCode, Producer};
use producer_support::{broker, config, producer};

fn key_of(err: &Error) -> String {
    match err {
        Error::InvalidConfig { key, .. } => key.clone(),
        other => panic!("not a config error: {other}"),
    }
}

#[tokio::test]
async fn connect_refuses_bad_combinations_naming_the_key() {
    // Nothing listens here; validation must fail first.
    let base = || ProducerConfig::builder().bootstrap_servers(["127.0.0.1:1"]);
    let cases = [
        (base().enable_idempotence(true).acks(Acks::Leader), "acks"),
        (
            base().enable_idempotence(true).max_in_flight(6),
            "max.in.flight.requests.per.connection",
        ),
        (base().enable_idempotence(true).retries(0), "retries"),
        (
            base()
                .linger(Duration::from_millis(10))
                .request_timeout(Duration::from_secs(30))
                .delivery_timeout(Duration::from_secs(30)),
            "delivery.timeout.ms",
        ),
        (base().buffer_memory(0), "buffer.memory"),
        (base().max_request_size(0), "max.request.size"),
        (ProducerConfig::builder(), "bootstrap.servers"),
    ];
    for (builder, key) in cases {
        let err = builder.clone().build().unwrap_err();
        assert_eq!(key_of(&err), key, "{err}");
        assert!(err.to_string().contains(key), "{err}");
    }
    // A config assembled by `set` (no build()) is refused by connect.
    let mut c = ProducerConfig::new("127.0.0.1:1").unwrap();
    c.set("enable.idempotence", "true").unwrap();
    c.set("acks", "1").unwrap();
    let err = Producer::connect(c).await.unwrap_err();
    assert_eq!(key_of(&err), "acks");
}

#[test]
fn java_names_set_the_typed_fields() {
    let mut c = ProducerConfig::new("h:9092").unwrap();
    for (k, v) in [
        ("acks", "0"),
        ("linger.ms", "20"),
        ("batch.size", "65536"),
        ("compression.type", "zstd"),
        ("enable.idempotence", "false"),
        ("max.in.flight.requests.per.connection", "10"),
        ("retries", "3"),
        ("delivery.timeout.ms", "90000"),
        ("request.timeout.ms", "15000"),
        ("buffer.memory", "1048576"),
        ("partitioner", "murmur2_random"),
        ("retry.backoff.ms", "250"),
        ("max.block.ms", "1000"),
    ] {
        c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    assert_eq!(c.acks, Acks::None);
    assert_eq!(c.linger, Duration::from_millis(20));
    assert_eq!(c.batch_size, 65536);
    assert_eq!(
        c.compression,
        ferrokafka_protocol::record::Compression::Zstd
    );
    assert_eq!(c.enable_idempotence, Some(false));
    assert_eq!(c.client.max_in_flight_per_connection, 10);
    assert_eq!(c.retries, 3);
    assert_eq!(c.delivery_timeout, Some(Duration::from_secs(90)));
    assert_eq!(c.client.request_timeout, Duration::from_secs(15));
    assert_eq!(c.buffer_memory, 1 << 20);
    assert_eq!(c.retry_backoff, Duration::from_millis(250));
    assert_eq!(c.max_block, Duration::from_secs(1));
    c.validate().unwrap();
    let err = c.set("no.such.setting", "1").unwrap_err();
    assert!(matches!(err, Error::UnknownConfig { ref key, .. } if key == "no.such.setting"));
    let err = c.set("acks", "2").unwrap_err();
    assert_eq!(key_of(&err), "acks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_beyond_the_limits_are_refused_at_send() {
    let broker = broker(1).await;
    let p = producer(config(&broker.bootstrap()).max_request_size(10_000)).await;
    let err = p
        .send(ProducerRecord::new("big").value(vec![0u8; 20_000]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MESSAGE_TOO_LARGE), "{err}");
    assert!(err.to_string().contains("max.request.size"), "{err}");
    assert!(!err.may_be_written());
    // Just under the limit is fine.
    let d = p
        .send(ProducerRecord::new("big").value(vec![0u8; 9_000]))
        .await
        .expect("send");
    d.await.expect("delivered");
    p.close().await.expect("close");
    broker.shutdown().await;
}
