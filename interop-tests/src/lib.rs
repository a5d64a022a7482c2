//! The interop harness: scenarios written once and run against every broker target with every
//! peer client.
//!
//! Targets ([`Target`]): the in-process mini-broker, the `mini-broker` binary as a child
//! process, a real Apache Kafka broker (started by `scripts/real-kafka.sh`, found through
//! `KAFKA_BOOTSTRAP` or the state file it writes), and, with the `testcontainers` feature and
//! a Docker engine, an `apache/kafka` container. Peers ([`peers`]): librdkafka through the
//! `rdkafka` crate, kcat, the Java `kafka-clients` library through a small program, and
//! kafka-python through a small script.
//!
//! A missing target or peer is a loud skip on a developer's machine and a failure in CI
//! (`CI=true`): CI must prove every combination.

pub mod cluster;
pub mod crash;
pub mod failover;
pub mod peers;
pub mod record;
pub mod secured;
pub mod target;

pub use record::{Consumed, TestRecord};
pub use target::{Target, TargetKind};

/// True when running in CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports a missing prerequisite: panics in CI, prints a loud banner elsewhere.
/// Returns so the caller can skip.
pub fn missing(what: &str, how: &str) {
    if in_ci() {
        panic!("{what} is missing in CI: {how}");
    }
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!! SKIPPED: {what} is missing.\n!!! {how}\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
}

/// A topic name no other test uses, so tests can share one real broker.
pub fn unique_topic(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// The repository root (for scripts and the mini-broker binary).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default()
}

/// A two-thread tokio runtime for a test's async parts.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Defines one `#[test]` per target for a scenario `fn(&Target)`.
#[macro_export]
macro_rules! scenario {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn in_process() {
                $crate::target::run_on($crate::TargetKind::InProcess, $body);
            }
            #[test]
            fn binary() {
                $crate::target::run_on($crate::TargetKind::Binary, $body);
            }
            #[test]
            fn real_kafka() {
                $crate::target::run_on($crate::TargetKind::RealKafka, $body);
            }
            #[cfg(feature = "testcontainers")]
            #[test]
            fn container() {
                $crate::target::run_on($crate::TargetKind::Container, $body);
            }
        }
    };
}
