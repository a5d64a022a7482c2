//! `crash-harness`: runs the crash test (see `ferrokafka_interop_tests::crash`) for
//! AtLeastOnce and AtMostOnce and prints what was lost and what was processed twice.
//!
//! `cargo run -p ferrokafka-interop-tests --bin crash-harness -- [--kills 50] [--records 6000]
//! [--seed 7]` (build `crash-consumer` first: `cargo build -p ferrokafka-interop-tests`).

use std::process::ExitCode;

use ferrokafka_interop_tests::crash::{run, Options};

fn main() -> ExitCode {
    let mut kills = 50;
    let mut records = 6_000;
    let mut seed = 7;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (flag.as_str(), value) {
            ("--kills", Some(v)) => kills = v as usize,
            ("--records", Some(v)) => records = v as usize,
            ("--seed", Some(v)) => seed = v,
            _ => {
                eprintln!("usage: crash-harness [--kills N] [--records N] [--seed N]");
                return ExitCode::FAILURE;
            }
        }
    }
    let worker = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("crash-consumer")))
        .unwrap_or_else(|| "crash-consumer".into());
    let dir = std::env::temp_dir();
    println!("| semantics | records | SIGKILLs | kills before any processing | processed | lost | processed twice |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut ok = true;
    for semantics in ["at-least-once", "at-most-once"] {
        let options = Options {
            worker: worker.clone(),
            semantics: semantics.to_owned(),
            records,
            kills,
            seed,
            dir: dir.clone(),
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
                ok &= match semantics {
                    "at-least-once" => r.lost == 0,
                    _ => r.duplicated == 0,
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
