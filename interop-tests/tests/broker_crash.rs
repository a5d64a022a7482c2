//! The mini-broker binary with `--data-dir`, SIGKILLed and restarted 20 times under each of
//! three workloads (`ferrokafka_interop_tests::crash::broker`): an idempotent `acks=all`
//! producer loses and duplicates no acknowledged record, an at-least-once group loses no
//! record, the exactly-once pipeline loses and duplicates nothing. Counts are printed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferrokafka_interop_tests::crash::{self, Victim};
use ferrokafka_interop_tests::target::mini_broker_bin;
use ferrokafka_interop_tests::{missing, unique_topic};

/// Broker SIGKILLs per workload.
const KILLS: usize = 20;

fn binary() -> Option<PathBuf> {
    let bin = mini_broker_bin();
    if bin.is_none() {
        missing(
            "the mini-broker binary",
            "build it first: cargo build -p ferrokafka-mini-broker --bin mini-broker",
        );
    }
    bin
}

#[test]
fn sigkilled_broker_loses_and_duplicates_nothing_of_an_idempotent_producer() {
    let Some(binary) = binary() else { return };
    let started = Instant::now();
    let dir = std::env::temp_dir().join(unique_topic("broker-crash-idem"));
    let report = crash::broker::producer_run(&binary, &dir, KILLS, (150, 600), 31)
        .unwrap_or_else(|e| panic!("{e}"));
    let audit = report.audit;
    eprintln!(
        "broker crash, idempotent producer: {} SIGKILLs, {} acknowledged, {} lost, {} duplicated, \
         {} out of order, {:.1} s",
        report.kills,
        audit.acked,
        audit.lost,
        audit.duplicated,
        audit.reordered,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(report.kills, KILLS);
    assert!(audit.acked > 0, "{report:?}");
    assert_eq!(
        (audit.lost, audit.duplicated, audit.reordered),
        (0, 0, 0),
        "{report:?}"
    );
}

#[test]
fn sigkilled_broker_loses_nothing_of_an_at_least_once_group() {
    let Some(binary) = binary() else { return };
    let started = Instant::now();
    let report = crash::run(&crash::Options {
        seed: 32,
        life_ms: (150, 600),
        victim: Victim::Broker { binary },
        ..crash::Options::new(
            env!("CARGO_BIN_EXE_crash-consumer"),
            "at-least-once-batch",
            6_000,
            KILLS,
        )
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "broker crash, at-least-once group: {} SIGKILLs ({} with nothing processed since the one \
         before), {} records, {} processed, {} lost, {} duplicated, {} worker restarts, {:.1} s",
        report.kills,
        report.early_kills,
        report.records,
        report.processed,
        report.lost,
        report.duplicated,
        report.worker_restarts,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.processed, report.records, "{report:?}");
}

#[test]
fn sigkilled_broker_keeps_the_exactly_once_pipeline_exact() {
    use ferrokafka_interop_tests::crash::exactly_once::{run, Options};
    let Some(binary) = binary() else { return };
    let report = run(&Options {
        worker: env!("CARGO_BIN_EXE_eos-pipeline").into(),
        bootstrap: String::new(),
        name: unique_topic("broker-crash-eos"),
        records: 6_000,
        kills: KILLS,
        life_ms: (150, 600),
        seed: 33,
        budget: Duration::from_secs(150),
        victim: Victim::Broker { binary },
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "broker crash, exactly-once pipeline: {} SIGKILLs, {} records, {} outputs read \
         (read_committed), {} lost, {} duplicated, {} aborted outputs, {} worker restarts, {:.1?}",
        report.kills,
        report.records,
        report.outputs,
        report.lost,
        report.duplicated,
        report.aborted_outputs,
        report.worker_restarts,
        report.elapsed
    );
    assert_eq!((report.lost, report.duplicated), (0, 0), "{report:?}");
    assert_eq!(report.outputs, report.records, "{report:?}");
}
