//! Connection set-up: how long a new client takes, from its settings to the first Metadata
//! answer — TCP connect, then (per listener) the TLS handshake, ApiVersions and the SASL
//! login, then Metadata — ferrokafka against librdkafka on the same broker and listener.
//!
//! ferrokafka: `Client::connect` (it dials the bootstrap broker, negotiates, authenticates and
//! fetches metadata before it returns). librdkafka: a `BaseProducer` is created (which starts
//! its threads and the bootstrap connection) and `fetch_metadata` asks for every topic, on a
//! broker that has none. The clock starts before the client's config is built from the
//! key/value settings, so both pay for reading the CA file and building their TLS context.
//!
//! Each run is a child process of this binary (`connect-worker`) that measures two clients in
//! turn: the first ("cold") pays the process's one-time costs as an application starting up
//! would (the TLS library's initialisation, first use of the crypto code); the second
//! ("warm") is built and connected after the first was closed, with nothing shared — no TLS
//! session is resumed (each client has its own TLS context), so it is one full handshake and
//! one full SCRAM login again.
//!
//! What not: reconnects within a client, several brokers, set-up under load.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::producer::{BaseProducer, Producer as _};

use crate::broker::MiniBrokerProcess;
use crate::report::spread;
use crate::security::{Endpoint, Security};
use crate::worker;

/// The clients `connect` knows.
pub(crate) const CLIENTS: [&str; 2] = ["ferrokafka", "rdkafka"];

/// How long one set-up may take.
const LIMIT: Duration = Duration::from_secs(20);

/// One worker run: a cold and a warm set-up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SetUp {
    pub(crate) cold: Duration,
    pub(crate) warm: Duration,
}

/// Options of the hidden `connect-worker`: one client, one run.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    target: worker::Target,
}

/// Runs `client`'s set-up twice in a child process against `broker`.
pub(crate) fn measure(client: &str, broker: &Endpoint) -> Result<SetUp, String> {
    let fields = worker::run(
        "connect-worker",
        [client, &broker.bootstrap, "-"],
        &broker.settings,
        &[],
    )?;
    let [cold, warm, ..] = fields[..] else {
        return Err(format!("bad result: {fields:?}"));
    };
    Ok(SetUp {
        cold: Duration::from_nanos(cold),
        warm: Duration::from_nanos(warm),
    })
}

/// The worker: prints `RESULT <cold ns> <warm ns>`.
pub fn work(args: WorkerArgs) -> std::process::ExitCode {
    let target = &args.target;
    let once = || match target.client.as_str() {
        "ferrokafka" => ferrokafka_once(target),
        "rdkafka" => rdkafka_once(target),
        other => Err(format!("unknown client {other}; known: {CLIENTS:?}")),
    };
    match once().and_then(|cold| Ok((cold, once()?))) {
        Ok((cold, warm)) => {
            println!("RESULT {} {}", cold.as_nanos(), warm.as_nanos());
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}: {err}", target.client);
            std::process::ExitCode::FAILURE
        }
    }
}

fn ferrokafka_once(target: &worker::Target) -> Result<Duration, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let start = Instant::now();
        let config = crate::security::client_config(&target.bootstrap, &target.settings)?;
        let client = tokio::time::timeout(LIMIT, ferrokafka::Client::connect(config))
            .await
            .map_err(|_| format!("no metadata within {LIMIT:?}"))?
            .map_err(|e| e.to_string())?;
        let took = start.elapsed();
        client.close().await;
        Ok(took)
    })
}

fn rdkafka_once(target: &worker::Target) -> Result<Duration, String> {
    let start = Instant::now();
    let mut config = RdConfig::new();
    worker::rdkafka_common(&mut config, target);
    let producer: BaseProducer = config.create().map_err(|e| e.to_string())?;
    producer
        .client()
        .fetch_metadata(None, LIMIT)
        .map_err(|e| e.to_string())?;
    let took = start.elapsed();
    drop(producer);
    Ok(took)
}

/// Every run of one client on one listener.
#[derive(Debug, Clone)]
pub(crate) struct SetUpRow {
    pub(crate) security: Security,
    pub(crate) client: String,
    pub(crate) runs: Vec<SetUp>,
}

/// `runs` rounds on one fresh mini-broker with a listener per security setting: in each round
/// every listener, and on it every client (the order rotating from round to round), once.
/// `done` hears about every run.
pub(crate) fn matrix(
    bin: &std::path::Path,
    securities: &[Security],
    runs: usize,
    mut done: impl FnMut(&SetUpRow, &SetUp),
) -> Result<Vec<SetUpRow>, String> {
    let broker = MiniBrokerProcess::start_with(bin, securities)?;
    let mut rows: Vec<SetUpRow> = securities
        .iter()
        .flat_map(|s| {
            CLIENTS.iter().map(|c| SetUpRow {
                security: *s,
                client: (*c).to_owned(),
                runs: Vec::new(),
            })
        })
        .collect();
    let n = rows.len().max(1);
    for run in 0..runs {
        for k in 0..rows.len() {
            let Some(row) = rows.get_mut((k + run) % n) else {
                continue;
            };
            let endpoint = broker.endpoint(row.security)?;
            let s = measure(&row.client, &endpoint)
                .map_err(|e| format!("{} over {}: {e}", row.client, row.security.label()))?;
            row.runs.push(s);
            done(row, &s);
        }
    }
    Ok(rows)
}

/// The Markdown table of [`matrix`]'s rows, with ferrokafka's medians over librdkafka's.
pub(crate) fn table(rows: &[SetUpRow]) -> String {
    use std::fmt::Write as _;
    let ms = |row: &SetUpRow, pick: fn(&SetUp) -> Duration| {
        spread(row.runs.iter().map(|s| pick(s).as_secs_f64() * 1e3))
    };
    let rdkafka = |security: Security| {
        rows.iter()
            .find(|r| r.security == security && r.client == "rdkafka")
    };
    let mut out = String::from(
        "| listener | client | cold: settings → first Metadata, median (min–max) | warm, median \
         (min–max) | cold vs rdkafka | warm vs rdkafka | runs |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let (cold, warm) = (ms(row, |s| s.cold), ms(row, |s| s.warm));
        let vs = |pick: fn(&SetUp) -> Duration| {
            rdkafka(row.security).map_or("–".to_owned(), |r| {
                format!("{:.2}×", ms(row, pick).median / ms(r, pick).median)
            })
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} ms ({:.2}–{:.2}) | {:.2} ms ({:.2}–{:.2}) | {} | {} | {} |",
            row.security.label(),
            row.client,
            cold.median,
            cold.min,
            cold.max,
            warm.median,
            warm.min,
            warm.max,
            vs(|s| s.cold),
            vs(|s| s.warm),
            row.runs.len()
        );
    }
    out
}
