//! `ferrokafka`: a command-line tool for people and CI scripts, against any Kafka broker
//! (the mini-broker included), so a pipeline needs neither the JVM tools nor kcat.
//!
//! Commands: `topics` (list, create, describe, delete, alter-config), `produce` (lines from
//! stdin or a file), `consume` (a group or an assignment, from the beginning, the end, an
//! offset or a time; a kcat-like format; stop at the end or after N), `groups` (list,
//! describe with lag, delete, reset-offsets with a dry run) and `offsets`. Tables for people
//! by default, `--json` for scripts.
//!
//! Exit codes: 0 done; 1 the cluster refused something (a Kafka error, per item or whole);
//! 2 usage (bad flags or values); 3 the cluster could not be reached or timed out.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferrokafka::{ClientConfig, Error};

mod consume;
mod groups;
mod output;
mod produce;
mod topics;

/// A command-line tool for Kafka clusters and the mini-broker.
#[derive(Debug, Parser)]
#[command(name = "ferrokafka", version)]
struct Cli {
    /// Brokers to bootstrap from (`bootstrap.servers`).
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "FERROKAFKA_BOOTSTRAP",
        default_value = "localhost:9092",
        global = true
    )]
    bootstrap: String,
    /// A client setting by its Java or librdkafka name (`security.protocol=SASL_SSL`, …);
    /// repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = setting, global = true)]
    settings: Vec<(String, String)>,
    /// Machine-readable output: one JSON document (JSON lines for `consume`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List, create, describe, delete topics and change their configs.
    #[command(subcommand)]
    Topics(topics::Topics),
    /// Write records: one per line from stdin or a file.
    Produce(produce::Args),
    /// Read records.
    Consume(consume::Args),
    /// List, describe (with lag), delete consumer groups, and reset their offsets.
    #[command(subcommand)]
    Groups(groups::Groups),
    /// Earliest and latest offset of every partition of topics.
    Offsets(topics::OffsetsArgs),
}

/// How a command ended, for the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The cluster refused something; already reported.
    Refused,
    /// Anything else, to report.
    Error(Error),
    /// A bad value given on the command line.
    Usage(String),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Error(err)
    }
}

pub(crate) type Outcome = Result<(), Failure>;

fn setting(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// The command line's client settings, applied through `set` (the config's own parser, so
/// every key the library knows works, with its errors).
pub(crate) fn apply<C>(
    config: &mut C,
    settings: &[(String, String)],
    set: impl Fn(&mut C, &str, &str) -> Result<(), Error>,
) -> Result<(), Failure> {
    for (k, v) in settings {
        set(config, k, v).map_err(|e| Failure::Usage(e.to_string()))?;
    }
    Ok(())
}

/// The context every command gets.
#[derive(Debug)]
pub(crate) struct Context {
    pub bootstrap: String,
    pub settings: Vec<(String, String)>,
    pub json: bool,
}

impl Context {
    /// The client config from `--bootstrap-server` and `-X`.
    pub fn client_config(&self) -> Result<ClientConfig, Failure> {
        let mut config =
            ClientConfig::new(&self.bootstrap).map_err(|e| Failure::Usage(e.to_string()))?;
        apply(&mut config, &self.settings, |c, k, v| c.set(k, v).map(drop))?;
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let ctx = Context {
        bootstrap: cli.bootstrap,
        settings: cli.settings,
        json: cli.json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("ferrokafka: cannot start: {err}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Topics(cmd) => topics::run(&ctx, cmd).await,
            Command::Produce(args) => produce::run(&ctx, args).await,
            Command::Consume(args) => consume::run(&ctx, args).await,
            Command::Groups(cmd) => groups::run(&ctx, cmd).await,
            Command::Offsets(args) => topics::offsets(&ctx, args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused) => ExitCode::from(1),
        Err(Failure::Usage(why)) => {
            eprintln!("ferrokafka: {why}");
            ExitCode::from(2)
        }
        Err(Failure::Error(err)) => {
            eprintln!("ferrokafka: {err}");
            let unreachable = matches!(
                err,
                Error::Io { .. }
                    | Error::Timeout { .. }
                    | Error::Disconnected { .. }
                    | Error::Tls { .. }
                    | Error::Authentication { .. }
            ) || err.code().is_none() && err.is_retriable();
            ExitCode::from(if unreachable { 3 } else { 1 })
        }
    }
}
