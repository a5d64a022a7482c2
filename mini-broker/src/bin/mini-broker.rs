//! `mini-broker`: the in-memory Kafka-compatible broker as a process, for CI pipelines in any
//! language. Prints `listening on HOST:PORT` on stdout once it accepts connections, and stops
//! cleanly on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use ferrokafka_mini_broker::{BrokerConfig, MiniBroker};
use tracing_subscriber::EnvFilter;

/// A small in-memory Kafka-compatible broker.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9092")]
    listen: SocketAddr,
    /// Host name advertised to clients (default: the listen IP).
    #[arg(long)]
    advertised_host: Option<String>,
    /// Partitions of auto-created topics (Kafka's num.partitions).
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// Create unknown topics on first use (Kafka's auto.create.topics.enable).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    auto_create_topics: bool,
    /// Bytes kept in memory per partition before the oldest data is dropped.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    retention_bytes: usize,
    /// Log filter, as RUST_LOG (error, warn, info, debug, trace, or per-module directives).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match EnvFilter::try_new(&args.log_level) {
        Ok(filter) => filter,
        Err(err) => {
            eprintln!("invalid --log-level '{}': {err}", args.log_level);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let config = BrokerConfig {
        listen: args.listen,
        advertised_host: args.advertised_host,
        default_partitions: args.partitions,
        auto_create_topics: args.auto_create_topics,
        partition_retention_bytes: args.retention_bytes,
        ..BrokerConfig::default()
    };
    let broker = match MiniBroker::builder().config(config).start().await {
        Ok(broker) => broker,
        Err(err) => {
            eprintln!("cannot listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", broker.bootstrap());
    wait_for_signal().await;
    tracing::info!("shutting down");
    broker.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
