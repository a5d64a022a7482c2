//! `eos-chaos`: runs the exactly-once crash test (see
//! `ferrokafka_interop_tests::crash::exactly_once`) and prints what a `read_committed` reader
//! of the output found lost and duplicated; both must be 0.
//!
//! `cargo run -p ferrokafka-interop-tests --bin eos-chaos -- [--bootstrap host:port]
//! [--kills 25] [--records 3000] [--seed 7]`. Without `--bootstrap` it starts the
//! `mini-broker` binary (build the workspace first: `cargo build --workspace`).

use std::process::ExitCode;
use std::time::Duration;

use ferrokafka_interop_tests::crash::exactly_once::{run, Options};
use ferrokafka_interop_tests::crash::{DriverArgs, Victim};
use ferrokafka_interop_tests::target::{Target, TargetKind};
use ferrokafka_interop_tests::unique_topic;

fn main() -> ExitCode {
    let defaults = DriverArgs {
        kills: 25,
        records: 3_000,
        seed: 7,
        bootstrap: None,
    };
    let Some(DriverArgs {
        kills,
        records,
        seed,
        bootstrap,
    }) = DriverArgs::parse("eos-chaos", defaults)
    else {
        return ExitCode::FAILURE;
    };
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()));
    if std::env::var_os("MINI_BROKER_BIN").is_none() {
        // `mini-broker` sits next to this binary in the target directory.
        if let Some(bin) = here.as_ref().map(|d| d.join("mini-broker")) {
            std::env::set_var("MINI_BROKER_BIN", bin);
        }
    }
    let target = match &bootstrap {
        Some(_) => None,
        None => match Target::start(TargetKind::Binary) {
            Some(t) => Some(t),
            None => {
                eprintln!("no mini-broker binary; build it or pass --bootstrap");
                return ExitCode::FAILURE;
            }
        },
    };
    let bootstrap = bootstrap
        .or_else(|| target.as_ref().map(|t| t.bootstrap.clone()))
        .unwrap_or_default();
    let worker = here
        .map(|d| d.join("eos-pipeline"))
        .unwrap_or_else(|| "eos-pipeline".into());
    let options = Options {
        worker,
        bootstrap,
        name: unique_topic("eos-chaos"),
        records,
        kills,
        life_ms: (50, 800),
        seed,
        budget: Duration::from_secs(600),
        victim: Victim::Worker,
    };
    match run(&options) {
        Ok(r) => {
            println!(
                "| records | SIGKILLs | outputs read (read_committed) | lost | duplicated | \
                 aborted outputs (read_uncommitted only) | time |"
            );
            println!("|---:|---:|---:|---:|---:|---:|---:|");
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.1?} |",
                r.records, r.kills, r.outputs, r.lost, r.duplicated, r.aborted_outputs, r.elapsed
            );
            if r.lost == 0 && r.duplicated == 0 {
                ExitCode::SUCCESS
            } else {
                eprintln!("exactly-once was broken");
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("eos-chaos: {err}");
            ExitCode::FAILURE
        }
    }
}
