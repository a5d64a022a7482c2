//! `crash-harness`: runs the crash test (see `ferrokafka_interop_tests::crash`) for
//! AtLeastOnce and AtMostOnce and prints what was lost and what was processed twice.
//!
//! `cargo run -p ferrokafka-interop-tests --bin crash-harness -- [--bootstrap host:port]
//! [--kills 50] [--records 6000] [--seed 7]` (build `crash-consumer` first:
//! `cargo build -p ferrokafka-interop-tests`). Without `--bootstrap` it starts an in-process
//! mini-broker; with it (e.g. a real Kafka) workers live 300–2000 ms instead of 20–400 ms,
//! since Kafka takes longer to hand a restarted member its partitions.

use std::process::ExitCode;

use ferrokafka_interop_tests::crash::{run, DriverArgs, Options};

fn main() -> ExitCode {
    let defaults = DriverArgs {
        kills: 50,
        records: 6_000,
        seed: 7,
        bootstrap: None,
    };
    let Some(DriverArgs {
        kills,
        records,
        seed,
        bootstrap,
    }) = DriverArgs::parse("crash-harness", defaults)
    else {
        return ExitCode::FAILURE;
    };
    let worker = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("crash-consumer")))
        .unwrap_or_else(|| "crash-consumer".into());
    let dir = std::env::temp_dir();
    println!("| semantics | records | SIGKILLs | kills before any processing | processed | lost | processed twice |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut ok = true;
    for semantics in [
        "at-least-once",
        "at-most-once",
        "at-least-once-batch",
        "at-most-once-batch",
    ] {
        let options = Options {
            seed,
            dir: dir.clone(),
            bootstrap: bootstrap.clone(),
            life_ms: if bootstrap.is_some() {
                (300, 2_000)
            } else {
                (20, 400)
            },
            ..Options::new(worker.clone(), semantics, records, kills)
        };
        match run(&options) {
            Ok(r) => {
                println!(
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    r.semantics,
                    r.records,
                    r.kills,
                    r.early_kills,
                    r.processed,
                    r.lost,
                    r.duplicated
                );
                ok &= if semantics.starts_with("at-least-once") {
                    r.lost == 0
                } else {
                    r.duplicated == 0
                };
            }
            Err(err) => {
                eprintln!("{semantics}: {err}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("a guarantee was broken");
        ExitCode::FAILURE
    }
}
