//! `ferrokafka-perf`: the project's performance tool. Each subcommand measures one thing the
//! same way for every broker or client it compares, and prints a Markdown table.
//!
//! `startup`: time from launching a broker process to its first answered ApiVersions request,
//! and its resident memory once idle, for the `mini-broker` binary and (with `--real-kafka`) a
//! real Apache Kafka broker started by `scripts/real-kafka.sh`; then client connection set-up
//! (TCP, TLS, SASL, until the first Metadata answer), ferrokafka against librdkafka, per
//! listener (see `connect.rs`).
//!
//! `producer`: producer throughput and CPU per record, ferrokafka against librdkafka's
//! `BaseProducer` and `FutureProducer` on the same broker (see `producer.rs`); `--security`
//! picks the listener (PLAINTEXT, SSL, SASL_SSL with SCRAM; see `security.rs`), as for
//! `consumer`.
//!
//! `consumer`: consumer throughput and CPU per record, ferrokafka's `poll` and `recv` against
//! librdkafka's `BaseConsumer` and `StreamConsumer` on the same broker and data (see
//! `consumer.rs`).
//!
//! `latency`: end-to-end latency at fixed rates (open-loop, HDR percentiles) and one-record
//! produce round trips, ferrokafka against librdkafka (and rskafka) (see `latency.rs`).
//!
//! `semantics`: what the delivery semantics cost — at-least-once over batches, exactly-once
//! consume-transform-produce, transactions — each against its peers (ferrokafka without the
//! semantics, librdkafka, the Java client) in the same run (see `semantics.rs`).
//!
//! `suite`: all of the above as one matrix (brokers × workloads × clients, interleaved runs),
//! written to `bench/results/latest.md` with SVG charts and the targets (see `suite.rs`).

mod broker;
mod connect;
mod consumer;
mod latency;
mod producer;
mod report;
mod security;
mod semantics;
mod startup;
mod storage;
mod suite;
mod svg;
mod worker;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "ferrokafka performance measurements")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Broker start-up time and idle memory; client connection set-up per listener.
    Startup(startup::Args),
    /// Producer throughput and CPU: ferrokafka vs rdkafka.
    Producer(producer::Args),
    /// Consumer throughput and CPU: ferrokafka vs rdkafka.
    Consumer(consumer::Args),
    /// End-to-end latency at fixed rates and produce round trips: ferrokafka vs rdkafka.
    Latency(latency::Args),
    /// The whole matrix, written to bench/results/latest.md with charts.
    Suite(suite::Args),
    /// What at-least-once, exactly-once and transactions cost against their peers.
    Semantics(semantics::Args),
    /// The mini-broker with `--data-dir` against real Kafka, and its memory with GiB on disk.
    DataDir(storage::Args),
    /// One consumer run in its own process (used by `consumer`).
    #[command(hide = true)]
    ConsumerWorker(consumer::WorkerArgs),
    /// One latency or round-trip run in its own process (used by `latency`).
    #[command(hide = true)]
    LatencyWorker(latency::WorkerArgs),
    /// One client's connection set-up, twice, in its own process (used by `startup`).
    #[command(hide = true)]
    ConnectWorker(connect::WorkerArgs),
    /// One producer run in its own process (used by `producer`).
    #[command(hide = true)]
    ProducerWorker(producer::WorkerArgs),
    /// One exactly-once run in its own process (used by `semantics`).
    #[command(hide = true)]
    SemanticsWorker(semantics::WorkerArgs),
}

fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Startup(args) => startup::run(args),
        Command::Suite(args) => suite::run(args),
        Command::Semantics(args) => semantics::run(args),
        Command::DataDir(args) => storage::run(args),
        Command::SemanticsWorker(args) => semantics::work(args),
        Command::Producer(args) => producer::run(args),
        Command::ProducerWorker(args) => producer::work(args),
        Command::Consumer(args) => consumer::run(args),
        Command::ConsumerWorker(args) => consumer::work(args),
        Command::Latency(args) => latency::run(args),
        Command::LatencyWorker(args) => latency::work(args),
        Command::ConnectWorker(args) => connect::work(args),
    }
}
