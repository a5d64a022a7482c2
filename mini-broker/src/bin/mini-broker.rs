//! `mini-broker`: the in-memory Kafka-compatible broker as a process, for CI pipelines in any
//! language. Once it accepts connections it prints one line per listener on stdout: first
//! `listening on HOST:PORT` for the PLAINTEXT listener (the line scripts already read), then
//! `listening on PROTOCOL://HOST:PORT` for each other one. It stops cleanly on Ctrl-C or
//! SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ferrokafka_mini_broker::security::users::parse_login;
use ferrokafka_mini_broker::{
    BrokerConfig, FsyncPolicy, ListenerSpec, Mechanism, MiniBroker, SecurityProtocol, TlsSource,
    UserStore, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PARTITIONS,
};
use tracing_subscriber::EnvFilter;

/// The PLAINTEXT address when neither --listen nor --listener is given.
const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 9092);

/// A small in-memory Kafka-compatible broker.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address of the PLAINTEXT listener; port 0 picks a free port [default: 127.0.0.1:9092,
    /// unless --listener flags are given].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A listener as PROTOCOL://IP:PORT, PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT,
    /// SASL_SSL (Kafka's listeners); repeatable, one per protocol.
    #[arg(long = "listener", value_name = "PROTOCOL://IP:PORT")]
    listeners: Vec<ListenerSpec>,
    /// Host name advertised to clients on every listener (default: the listener's IP).
    #[arg(long)]
    advertised_host: Option<String>,
    /// PEM certificate chain of the SSL and SASL_SSL listeners (Kafka's ssl.keystore).
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Make a CA and a server certificate at start-up and write the CA's PEM to this file, for
    /// clients to trust.
    #[arg(long, value_name = "CA_PATH")]
    tls_self_signed: Option<PathBuf>,
    /// A SASL user for PLAIN and SCRAM as NAME:PASSWORD; repeatable. The password is salted
    /// at start-up and not kept (prefer --sasl-users-file: the command line is visible to
    /// other local users).
    #[arg(long = "sasl-user", value_name = "NAME:PASSWORD")]
    sasl_users: Vec<String>,
    /// A file of SASL users, one per line: NAME:PASSWORD, or Kafka's stored form
    /// `SCRAM-SHA-256 NAME salt=..,stored_key=..,server_key=..,iterations=N`; `#` comments.
    #[arg(long, value_name = "PATH")]
    sasl_users_file: Option<PathBuf>,
    /// The mechanisms a SASL listener enables, as LISTENER=MECH[,MECH...] with LISTENER
    /// SASL_PLAINTEXT or SASL_SSL and MECH among PLAIN, SCRAM-SHA-256, SCRAM-SHA-512,
    /// OAUTHBEARER; repeatable [default: all four].
    #[arg(long = "sasl-enabled-mechanisms", value_name = "LISTENER=MECHS")]
    sasl_enabled_mechanisms: Vec<String>,
    /// Kafka's connections.max.reauth.ms: authenticated sessions expire after this long and
    /// clients must re-authenticate (0: never, unless an OAUTHBEARER token expires).
    #[arg(long, default_value_t = 0)]
    connections_max_reauth_ms: u64,
    /// How long a client on a SASL listener has to authenticate before it is disconnected.
    #[arg(long, default_value_t = 10_000)]
    sasl_auth_timeout_ms: u64,
    /// Partitions of auto-created topics (Kafka's num.partitions).
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// The most partitions the broker holds over all topics; CreateTopics and CreatePartitions
    /// past it get POLICY_VIOLATION, and auto-creation past it does not happen (Kafka has no
    /// such limit). One request may create at most 10,000 partitions, as in Kafka.
    #[arg(long, default_value_t = DEFAULT_MAX_PARTITIONS)]
    max_partitions: usize,
    /// The most client connections open at once over all listeners (Kafka's max.connections,
    /// unlimited there); one more is closed as soon as it is accepted, with a warning. Keep it
    /// below the file descriptor limit (`ulimit -n`).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Close connections that send no request for this long while none of theirs is being
    /// answered (Kafka's connections.max.idle.ms; 0 or -1: never).
    #[arg(long, default_value_t = 600_000, allow_hyphen_values = true)]
    connections_max_idle_ms: i64,
    /// Create unknown topics on first use (Kafka's auto.create.topics.enable).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    auto_create_topics: bool,
    /// Bytes kept in memory per partition before the oldest data is dropped.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    retention_bytes: usize,
    /// The most record data held over all partitions, in bytes or with a KiB, MiB or GiB
    /// suffix; writes past it get KAFKA_STORAGE_ERROR (as from a full disk), with a warning,
    /// and 80 % of it logs a warning. Default: half of the machine's memory (or of a lower
    /// cgroup limit, or a quarter of `ulimit -v`).
    #[arg(long, value_parser = parse_size)]
    max_memory: Option<usize>,
    /// Keep partition logs, topics and committed offsets in this directory and read them back
    /// at start (Kafka's log.dirs); without it everything is in memory only.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// With --data-dir: `page-cache` leaves appends to the OS (Kafka's default), `always`
    /// fsyncs after each append (Kafka's log.flush.interval.messages=1).
    #[arg(long, default_value = "page-cache", value_parser = parse_fsync)]
    fsync: FsyncPolicy,
    /// retention.ms of topics that do not set it, as Kafka's log.retention.ms (7 days; -1
    /// keeps records forever).
    #[arg(long, default_value_t = 604_800_000, allow_hyphen_values = true)]
    log_retention_ms: i64,
    /// How often time retention (topics' retention.ms) runs, as Kafka's
    /// log.retention.check.interval.ms.
    #[arg(long, default_value_t = 300_000)]
    log_retention_check_interval_ms: u64,
    /// How often the log cleaner compacts topics with cleanup.policy=compact, as Kafka's
    /// log.cleaner.backoff.ms.
    #[arg(long, default_value_t = 15_000)]
    log_cleaner_backoff_ms: u64,
    /// The finalized transaction.version feature: 2 has clients use transactions version 2
    /// (KIP-890, Kafka 4.x's default), 1 has them keep version 1.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i16).range(0..=2))]
    transaction_version: i16,
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
    let mut listeners = args.listeners;
    if args.listen.is_some() || listeners.is_empty() {
        let addr = args.listen.unwrap_or(SocketAddr::from(DEFAULT_LISTEN));
        listeners.insert(0, ListenerSpec::new(SecurityProtocol::Plaintext, addr));
    }
    let tls = match (args.tls_cert, args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(TlsSource::PemFiles { cert, key }),
        (_, _, Some(_)) => Some(TlsSource::SelfSigned),
        _ => None,
    };
    let users = match sasl_users(&args.sasl_users, args.sasl_users_file.as_deref()) {
        Ok(users) => users,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let mechanisms = match enabled_mechanisms(&args.sasl_enabled_mechanisms) {
        Ok(mechanisms) => mechanisms,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let config = BrokerConfig {
        listeners,
        advertised_host: args.advertised_host,
        tls,
        sasl_users: users,
        sasl_enabled_mechanisms: mechanisms,
        connections_max_reauth: Duration::from_millis(args.connections_max_reauth_ms),
        sasl_auth_timeout: Duration::from_millis(args.sasl_auth_timeout_ms),
        max_connections: args.max_connections,
        // Kafka's -1 (and 0, which would close every connection at once) mean never.
        connections_max_idle: Duration::from_millis(
            u64::try_from(args.connections_max_idle_ms).unwrap_or(0),
        ),
        default_partitions: args.partitions,
        max_partitions: args.max_partitions,
        auto_create_topics: args.auto_create_topics,
        partition_retention_bytes: args.retention_bytes,
        max_memory: args
            .max_memory
            .unwrap_or_else(ferrokafka_mini_broker::state::memory::default_limit),
        data_dir: args.data_dir,
        fsync: args.fsync,
        log_retention_ms: args.log_retention_ms,
        log_retention_check_interval: Duration::from_millis(args.log_retention_check_interval_ms),
        log_cleaner_backoff: Duration::from_millis(args.log_cleaner_backoff_ms),
        transaction_version: args.transaction_version,
        ..BrokerConfig::default()
    };
    let broker = match MiniBroker::builder().config(config).start().await {
        Ok(broker) => broker,
        Err(err) => {
            eprintln!("cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.tls_self_signed {
        let Some(ca) = broker.tls_ca_pem() else {
            eprintln!("--tls-self-signed needs an SSL or SASL_SSL listener");
            broker.shutdown().await;
            return ExitCode::from(2);
        };
        if let Err(err) = std::fs::write(path, ca) {
            eprintln!(
                "cannot write the CA certificate to {}: {err}",
                path.display()
            );
            broker.shutdown().await;
            return ExitCode::FAILURE;
        }
    }
    print_listeners(&broker);
    wait_for_signal().await;
    tracing::info!("shutting down");
    broker.shutdown().await;
    ExitCode::SUCCESS
}

/// The users of --sasl-user and --sasl-users-file, salted. Errors never repeat a password.
fn sasl_users(logins: &[String], file: Option<&Path>) -> Result<UserStore, String> {
    let mut users = UserStore::new();
    for login in logins {
        let (name, password) = parse_login(login).map_err(|err| format!("--sasl-user: {err}"))?;
        users
            .add_password(name, password)
            .map_err(|err| format!("--sasl-user: {err}"))?;
    }
    if let Some(path) = file {
        users.load_file(path).map_err(|err| err.to_string())?;
    }
    Ok(users)
}

/// `LISTENER=MECH[,MECH...]` flags, by listener.
fn enabled_mechanisms(
    flags: &[String],
) -> Result<BTreeMap<SecurityProtocol, Vec<Mechanism>>, String> {
    let mut out = BTreeMap::new();
    for flag in flags {
        let bad = |why: String| format!("--sasl-enabled-mechanisms '{flag}': {why}");
        let (listener, list) = flag
            .split_once('=')
            .ok_or_else(|| bad("expected LISTENER=MECH[,MECH...]".to_owned()))?;
        let protocol: SecurityProtocol = listener.parse().map_err(|e| bad(format!("{e}")))?;
        let mechanisms = list
            .split(',')
            .map(|name| {
                Mechanism::from_name(name.trim())
                    .ok_or_else(|| bad(format!("unknown SASL mechanism '{}'", name.trim())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(protocol, mechanisms);
    }
    Ok(out)
}

/// `listening on HOST:PORT` for PLAINTEXT first (the line existing scripts read), then
/// `listening on PROTOCOL://HOST:PORT` for the others.
fn print_listeners(broker: &MiniBroker) {
    let mut listeners = broker.listeners();
    listeners.sort_by_key(|(protocol, _)| *protocol != SecurityProtocol::Plaintext);
    for (protocol, address) in listeners {
        if protocol == SecurityProtocol::Plaintext {
            println!("listening on {address}");
        } else {
            println!("listening on {protocol}://{address}");
        }
    }
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

/// A size in bytes: a number, or a number with a KiB, MiB or GiB suffix (`512MiB`, `2 GiB`).
/// `--fsync`: `page-cache` or `always`.
fn parse_fsync(text: &str) -> Result<FsyncPolicy, String> {
    match text {
        "page-cache" => Ok(FsyncPolicy::PageCache),
        "always" => Ok(FsyncPolicy::Always),
        _ => Err(format!("'{text}' is not page-cache or always")),
    }
}

fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size: a number of bytes, KiB, MiB or GiB"))?;
    let scale: usize = match unit.trim() {
        "" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}': use bytes, KiB, MiB or GiB"
            ))
        }
    };
    number
        .checked_mul(scale)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("'{text}' is not a size above zero that fits in memory"))
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_in_bytes_and_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        for bad in ["", "MiB", "5 MB", "-1", "0", "99999999999999999999GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
