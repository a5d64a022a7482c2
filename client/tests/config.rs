//! `ClientConfig` through its public surface: Java names, typed builder, defaults, errors that
//! name the key and the value.

use std::time::Duration;

use ferrokafka::config::KEYS;
use ferrokafka::{ClientConfig, Error};

#[test]
fn unknown_keys_are_errors_naming_key_and_value() {
    let mut config = ClientConfig::default();
    let err = config.set("linger.msec", "5").unwrap_err();
    match &err {
        Error::UnknownConfig { key, value, .. } => {
            assert_eq!(key, "linger.msec");
            assert_eq!(value, "5");
        }
        other => panic!("expected UnknownConfig, got {other}"),
    }
    assert!(err.to_string().contains("linger.msec") && err.to_string().contains('5'));
    assert!(!err.is_retriable());
}

#[test]
fn bad_values_are_errors_naming_key_and_value() {
    let cases = [
        ("request.timeout.ms", "soon"),
        ("request.timeout.ms", "0"),
        ("request.timeout.ms", "-1"),
        ("metadata.max.age.ms", "1.5"),
        ("reconnect.backoff.ms", ""),
        ("reconnect.backoff.max.ms", "18446744073709551616"),
        ("socket.connection.setup.timeout.ms", "0"),
        ("max.in.flight.requests.per.connection", "0"),
        ("max.in.flight.requests.per.connection", "five"),
        ("bootstrap.servers", "localhost"),
        ("bootstrap.servers", " , "),
    ];
    for (k, v) in cases {
        let mut config = ClientConfig::default();
        let before = config.clone();
        let err = config.set(k, v).unwrap_err();
        match &err {
            Error::InvalidConfig { key, value, .. } => {
                assert_eq!(key, k);
                assert!(v.contains(value.as_str()), "{k}={v}: value {value}");
            }
            other => panic!("{k}={v}: expected InvalidConfig, got {other}"),
        }
        assert!(err.to_string().contains(k), "{err}");
        assert_eq!(config, before, "{k}={v}: a failed set changes nothing");
    }
}

#[test]
fn defaults_match_the_java_client() {
    let c = ClientConfig::default();
    assert!(c.bootstrap_servers.is_empty());
    assert_eq!(c.client_id, "");
    assert_eq!(c.request_timeout, Duration::from_millis(30_000));
    assert_eq!(c.metadata_max_age, Duration::from_millis(300_000));
    assert_eq!(c.reconnect_backoff, Duration::from_millis(50));
    assert_eq!(c.reconnect_backoff_max, Duration::from_millis(1_000));
    assert_eq!(c.connection_setup_timeout, Duration::from_millis(10_000));
    assert_eq!(c.max_in_flight_per_connection, 5);
}

#[test]
fn java_names_and_builder_set_the_same_fields() {
    let mut by_name = ClientConfig::default();
    by_name
        .set("bootstrap.servers", "k1:9092,k2:9092")
        .unwrap()
        .set("client.id", "app")
        .unwrap()
        .set("request.timeout.ms", "1500")
        .unwrap()
        .set("metadata.max.age.ms", "60000")
        .unwrap()
        .set("reconnect.backoff.ms", "10")
        .unwrap()
        .set("reconnect.backoff.max.ms", "2000")
        .unwrap()
        .set("socket.connection.setup.timeout.ms", "3000")
        .unwrap()
        .set("max.in.flight.requests.per.connection", "1")
        .unwrap();
    let built = ClientConfig::builder()
        .bootstrap_servers(["k1:9092", "k2:9092"])
        .client_id("app")
        .request_timeout(Duration::from_millis(1500))
        .metadata_max_age(Duration::from_secs(60))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_secs(2))
        .connection_setup_timeout(Duration::from_secs(3))
        .max_in_flight_per_connection(1)
        .build()
        .unwrap();
    assert_eq!(by_name, built);
    assert_eq!(KEYS.len(), 8);
}

#[test]
fn build_validates_the_whole() {
    let err = ClientConfig::builder().build().unwrap_err();
    assert!(matches!(&err, Error::InvalidConfig { key, .. } if key == "bootstrap.servers"));
    let err = ClientConfig::builder()
        .bootstrap_servers(["h:1"])
        .max_in_flight_per_connection(0)
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig { key, .. } if key == "max.in.flight.requests.per.connection")
    );
    let err = ClientConfig::builder()
        .bootstrap_servers(["no-port"])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no-port"), "{err}");
}
