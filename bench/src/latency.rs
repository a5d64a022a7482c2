//! `latency`: how long a record takes, ferrokafka against librdkafka on the same broker.
//!
//! End to end: one producer and one consumer of the same client library in one process write
//! and read 100-byte records on a fresh one-partition topic at a fixed rate (1,000 and 10,000
//! msgs/s by default), with `acks=1` and `linger.ms=5` (the default of both Java 4.x and
//! librdkafka) and every other setting at its default. The schedule is open-loop: record `i`
//! is due at `start + i/rate` and carries that time; a late send never moves the schedule, so
//! a stall shows as latency instead of being hidden by coordinated omission. The consumer
//! (assigned the partition at its end offset, and ready once it has read a warm-up record)
//! records receipt − due time in an HDR histogram (µs): p50, p99, p99.9 and max. A run with a
//! record lost fails. Clients: ferrokafka's `Producer` + `Consumer::recv`; rdkafka's
//! `FutureProducer` + `BaseConsumer::poll`.
//!
//! Round trip: one record in flight at a time, sent and awaited (acks=1, `linger.ms=0`: with
//! one record in flight a linger would only add its own timer to every trip), N times after a
//! warm-up: ferrokafka's `Producer::send` + its delivery future, rdkafka's `FutureProducer`,
//! and rskafka's `PartitionClient::produce` (which always asks for acks=all; the same on a
//! one-replica broker).
//!
//! Each run is a child process of this binary (`latency-worker`), so its CPU time and peak
//! memory are that client's alone; a watchdog ends a worker that outlives its bound. The suite
//! calls [`measure_latency`] and [`measure_round_trip`].
//!
//! What not: several partitions, keys, compression, consumer groups, acks=all.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::broker::BrokerArgs;
use crate::report::spread;
use crate::worker;

use ferrokafka::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::{Client, ClientConfig, Consumer, ConsumerConfig, NewTopic, TopicPartition};
use hdrhistogram::Histogram;
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::runtime::{Handle, Runtime};

/// `linger.ms` of the end-to-end runs: the default of Java 4.x and of librdkafka.
pub(crate) const LINGER_MS: u64 = 5;
/// Bytes per record, value only.
const RECORD_BYTES: usize = 100;
/// Round trips before the measured ones.
const WARM_UP_TRIPS: u64 = 100;
/// The index a warm-up record carries.
const WARM_UP: u64 = u64::MAX;
/// How long a setup step, a delivery or the last records may take.
const STEP_LIMIT: Duration = Duration::from_secs(20);

/// Options of `latency`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Fixed produce rates, msgs/s.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    rates: Vec<u64>,
    /// Seconds of sending per end-to-end run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Runs per client and case; the table shows the median and the range.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Clients of the end-to-end runs: ferrokafka, rdkafka.
    #[arg(long, value_delimiter = ',', default_value = "ferrokafka,rdkafka")]
    clients: Vec<String>,
    /// Measured round trips per run (0: none).
    #[arg(long, default_value_t = 2000)]
    round_trips: u64,
    /// Clients of the round trips: ferrokafka, rdkafka, rskafka.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ferrokafka,rdkafka,rskafka"
    )]
    round_trip_clients: Vec<String>,
}

/// Options of the hidden `latency-worker`: one client, one run.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    target: worker::Target,
    /// End to end at this rate, msgs/s; without it, round trips.
    #[arg(long)]
    rate: Option<u64>,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 2000)]
    round_trips: u64,
    /// `linger.ms` of end-to-end runs (other values for diagnosis only).
    #[arg(long, default_value_t = LINGER_MS)]
    linger_ms: u64,
}

/// What one worker run measured: end-to-end latency (from the due time to receipt) or the
/// produce round trip.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatencyMeasured {
    /// Records (or round trips) measured.
    pub(crate) count: u64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) p999: Duration,
    pub(crate) max: Duration,
    /// Records sent but never received (0 in a run that succeeded; always 0 for round trips).
    pub(crate) lost: u64,
    /// CPU (user + system, every thread) of the worker over the measured span.
    pub(crate) cpu: Duration,
    /// The worker's peak resident memory (VmHWM), KiB.
    pub(crate) peak_rss_kib: u64,
}

/// End-to-end latency of `client` (ferrokafka, rdkafka) at `rate` msgs/s for `seconds` on
/// partition 0 of `topic` (fresh, created by the caller), in a child process.
pub(crate) fn measure_latency(
    client: &str,
    bootstrap: &str,
    topic: &str,
    rate: u64,
    seconds: u64,
) -> Result<LatencyMeasured, String> {
    let (rate, seconds) = (rate.to_string(), seconds.to_string());
    worker(
        [client, bootstrap, topic],
        &["--rate", &rate, "--seconds", &seconds],
    )
}

/// `round_trips` one-at-a-time produce round trips of `client` (ferrokafka, rdkafka,
/// rskafka) to partition 0 of `topic` (fresh, created by the caller), in a child process.
pub(crate) fn measure_round_trip(
    client: &str,
    bootstrap: &str,
    topic: &str,
    round_trips: u64,
) -> Result<LatencyMeasured, String> {
    worker(
        [client, bootstrap, topic],
        &["--round-trips", &round_trips.to_string()],
    )
}

/// Runs `latency-worker` for `[client, bootstrap, topic]` with the further `args`.
fn worker(target: [&str; 3], args: &[&str]) -> Result<LatencyMeasured, String> {
    measured(&worker::run("latency-worker", target, &[], args)?)
}

/// The numbers of a worker's `RESULT` line, read.
fn measured(fields: &[u64]) -> Result<LatencyMeasured, String> {
    let [count, p50, p99, p999, max, lost, cpu_ticks, peak_rss_kib] = *fields else {
        return Err(format!("bad result: {fields:?}"));
    };
    Ok(LatencyMeasured {
        count,
        p50: Duration::from_micros(p50),
        p99: Duration::from_micros(p99),
        p999: Duration::from_micros(p999),
        max: Duration::from_micros(max),
        lost,
        cpu: Duration::from_millis(cpu_ticks * 10),
        peak_rss_kib,
    })
}

pub fn run(args: Args) -> ExitCode {
    match run_all(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("latency: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Samples of one case, per client in `Args` order.
type Samples = Vec<Vec<LatencyMeasured>>;

fn run_all(args: &Args) -> Result<(), String> {
    let broker = args.broker.start(crate::security::Security::Plaintext)?;
    let bootstrap = broker.bootstrap.clone();
    let topics = Topics::connect(&bootstrap)?;
    let mut rows = Vec::new();
    for &rate in &args.rates {
        let samples = interleaved(args.runs, &args.clients, |client, run| {
            let m = measure_latency(client, &bootstrap, &topics.fresh()?, rate, args.seconds)?;
            eprintln!(
                "{rate} msgs/s run {run} {client}: p50 {} p99 {} ms",
                ms(m.p50),
                ms(m.p99)
            );
            Ok(m)
        })?;
        rows.push((rate, samples));
    }
    let trips = if args.round_trips == 0 {
        Vec::new()
    } else {
        interleaved(args.runs, &args.round_trip_clients, |client, run| {
            let m = measure_round_trip(client, &bootstrap, &topics.fresh()?, args.round_trips)?;
            eprintln!("round trip run {run} {client}: p50 {} ms", ms(m.p50));
            Ok(m)
        })?
    };
    topics.close();
    print_latency(args, &broker.name, &rows);
    if !trips.is_empty() {
        print_round_trips(args, &trips);
    }
    Ok(())
}

/// `runs` rounds of one measurement per client, interleaved; samples per client.
fn interleaved(
    runs: usize,
    clients: &[String],
    mut measure: impl FnMut(&str, usize) -> Result<LatencyMeasured, String>,
) -> Result<Samples, String> {
    let mut samples = vec![Vec::new(); clients.len()];
    for run in 1..=runs {
        for (client, out) in clients.iter().zip(samples.iter_mut()) {
            out.push(measure(client, run).map_err(|e| format!("{client}: {e}"))?);
        }
    }
    Ok(samples)
}

/// Creates a fresh one-partition topic per run.
struct Topics {
    runtime: Runtime,
    admin: Client,
    made: std::cell::Cell<usize>,
}

impl Topics {
    fn connect(bootstrap: &str) -> Result<Self, String> {
        let runtime = runtime()?;
        let config = ClientConfig::new(bootstrap).map_err(|e| e.to_string())?;
        let admin = runtime
            .block_on(Client::connect(config))
            .map_err(|e| format!("cannot reach {bootstrap}: {e}"))?;
        Ok(Topics {
            runtime,
            admin,
            made: std::cell::Cell::new(0),
        })
    }

    fn fresh(&self) -> Result<String, String> {
        self.made.set(self.made.get() + 1);
        let topic = format!("latency-{}-{}", std::process::id(), self.made.get());
        let created = self
            .runtime
            .block_on(
                self.admin
                    .create_topics(&[NewTopic::new(&topic).partitions(1)]),
            )
            .map_err(|e| format!("create topic {topic}: {e}"))?;
        for (_, result) in created {
            result.map_err(|e| format!("create topic {topic}: {e}"))?;
        }
        Ok(topic)
    }

    fn close(self) {
        self.runtime.block_on(self.admin.close());
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// Median (min–max) of a metric over runs, in ms.
fn ms_spread(runs: &[LatencyMeasured], metric: fn(&LatencyMeasured) -> Duration) -> String {
    let s = spread(runs.iter().map(|m| metric(m).as_secs_f64() * 1e3));
    format!("{:.2} ({:.2}–{:.2})", s.median, s.min, s.max)
}

/// The p50, p99, p99.9 and max cells of a row.
fn percentile_cells(runs: &[LatencyMeasured]) -> String {
    let metrics: [fn(&LatencyMeasured) -> Duration; 4] =
        [|m| m.p50, |m| m.p99, |m| m.p999, |m| m.max];
    metrics.map(|metric| ms_spread(runs, metric)).join(" | ")
}

fn median_ms(runs: &[LatencyMeasured], metric: fn(&LatencyMeasured) -> Duration) -> f64 {
    spread(runs.iter().map(|m| metric(m).as_secs_f64() * 1e3)).median
}

fn print_latency(args: &Args, broker: &str, rows: &[(u64, Samples)]) {
    println!(
        "End to end, due time → receipt: {} s per run, {} runs per client (median, min–max, \
         ms), {broker}, 1 partition, {RECORD_BYTES} B records, acks=1, linger.ms={LINGER_MS}, \
         other settings default; open-loop schedule. CPU = user+sys of the client's process \
         (producer and consumer) over the run.\n",
        args.seconds, args.runs
    );
    println!("| rate | client | p50 | p99 | p99.9 | max | lost | CPU % | p99 vs rdkafka |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (rate, samples) in rows {
        let reference = reference(&args.clients, samples, |m| m.p99);
        for (client, runs) in args.clients.iter().zip(samples) {
            let lost: u64 = runs.iter().map(|m| m.lost).sum();
            let cpu = spread(
                runs.iter()
                    .map(|m| m.cpu.as_secs_f64() * 100.0 / args.seconds.max(1) as f64),
            )
            .median;
            let vs = reference.map_or("–".to_owned(), |r| {
                format!("{:.2}×", median_ms(runs, |m| m.p99) / r)
            });
            println!(
                "| {rate} | {client} | {} | {lost} | {cpu:.0} | {vs} |",
                percentile_cells(runs)
            );
        }
    }
}

fn print_round_trips(args: &Args, samples: &Samples) {
    println!(
        "\nRound trip, one record in flight: send → acknowledged, {} per run after {} warm-up, \
         {} runs per client (median, min–max, ms); {RECORD_BYTES} B records, acks=1 \
         (rskafka: acks=all), linger.ms=0.\n",
        args.round_trips, WARM_UP_TRIPS, args.runs
    );
    println!("| client | p50 | p99 | p99.9 | max | p50 vs rdkafka |");
    println!("|---|---:|---:|---:|---:|---:|");
    let reference = reference(&args.round_trip_clients, samples, |m| m.p50);
    for (client, runs) in args.round_trip_clients.iter().zip(samples) {
        let vs = reference.map_or("–".to_owned(), |r| {
            format!("{:.2}×", median_ms(runs, |m| m.p50) / r)
        });
        println!("| {client} | {} | {vs} |", percentile_cells(runs));
    }
}

/// rdkafka's median of `metric`, ms, if rdkafka ran.
fn reference(
    clients: &[String],
    samples: &Samples,
    metric: fn(&LatencyMeasured) -> Duration,
) -> Option<f64> {
    let i = clients.iter().position(|c| c == "rdkafka")?;
    samples.get(i).map(|runs| median_ms(runs, metric))
}

// ---- the worker ----

/// The worker: measures, then prints
/// `RESULT <count> <p50 µs> <p99 µs> <p99.9 µs> <max µs> <lost> <cpu ticks> <peak RSS KiB>`.
pub fn work(args: WorkerArgs) -> ExitCode {
    watchdog(Duration::from_secs(args.seconds) + 6 * STEP_LIMIT);
    match work_in_process(&args) {
        Ok(m) => {
            let us = |d: Duration| d.as_micros();
            println!(
                "RESULT {} {} {} {} {} {} {} {}",
                m.count,
                us(m.p50),
                us(m.p99),
                us(m.p999),
                us(m.max),
                m.lost,
                m.cpu.as_millis() / 10,
                m.peak_rss_kib
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}: {err}", args.target.client);
            ExitCode::FAILURE
        }
    }
}

/// Ends the process if it is still running after `limit`.
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("latency worker: no result after {limit:?}");
        std::process::exit(3);
    });
}

fn runtime() -> Result<Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn work_in_process(args: &WorkerArgs) -> Result<LatencyMeasured, String> {
    let rt = runtime()?;
    let h = rt.handle();
    let measured = match (args.target.client.as_str(), args.rate) {
        ("ferrokafka", Some(rate)) => end_to_end(
            &FerroProducer::connect(h, args, args.linger_ms)?,
            &mut FerroConsumer::at_end(h, args)?,
            rate,
            args.seconds,
        ),
        ("rdkafka", Some(rate)) => end_to_end(
            &RdProducer::connect(h, args, args.linger_ms)?,
            &mut RdConsumer::at_end(args)?,
            rate,
            args.seconds,
        ),
        ("ferrokafka", None) => round_trip(&FerroProducer::connect(h, args, 0)?, args.round_trips),
        ("rdkafka", None) => round_trip(&RdProducer::connect(h, args, 0)?, args.round_trips),
        ("rskafka", None) => round_trip(&RsProducer::connect(h, args)?, args.round_trips),
        (other, _) => Err(format!(
            "unknown client {other} (end to end: ferrokafka, rdkafka; round trip: also rskafka)"
        )),
    }?;
    rt.shutdown_timeout(Duration::from_secs(1));
    match measured.lost {
        0 => Ok(measured),
        lost => Err(format!("{lost} of {} records lost", measured.count + lost)),
    }
}

/// The producing half of a client, called from plain threads.
trait Produce: Sync {
    type Delivery: Send;
    /// Hands `value` to the client for partition 0; returns what tells its outcome.
    fn send(&self, value: Vec<u8>) -> Result<Self::Delivery, String>;
    /// Waits (bounded) until every delivery is acknowledged; an error for any failure.
    fn settle(&self, deliveries: Vec<Self::Delivery>) -> Result<(), String>;
}

/// The consuming half of a client, assigned partition 0.
trait Consume {
    /// Waits until `until` for one record and calls `on` with its value; false if none came.
    fn receive(&mut self, until: Instant, on: &mut dyn FnMut(&[u8])) -> Result<bool, String>;
}

/// Value of record `index`, due `due` after the start: the two as little-endian u64, then
/// filler up to [`RECORD_BYTES`].
fn value(index: u64, due: Duration) -> Vec<u8> {
    let mut v = Vec::with_capacity(RECORD_BYTES);
    v.extend_from_slice(&index.to_le_bytes());
    v.extend_from_slice(
        &u64::try_from(due.as_nanos())
            .unwrap_or(u64::MAX)
            .to_le_bytes(),
    );
    v.resize(RECORD_BYTES, b'x');
    v
}

/// The index and due time a value carries.
fn stamp(value: &[u8]) -> Option<(u64, Duration)> {
    let word = |at: usize| {
        value
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    Some((word(0)?, Duration::from_nanos(word(8)?)))
}

/// A histogram of microseconds from 1 µs to 10 minutes, 3 significant digits.
fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string())
}

fn summary(h: &Histogram<u64>, lost: u64, cpu_ticks: u64) -> LatencyMeasured {
    let at = |q: f64| Duration::from_micros(h.value_at_quantile(q));
    LatencyMeasured {
        count: h.len(),
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        max: Duration::from_micros(h.max()),
        lost,
        cpu: Duration::from_millis(cpu_ticks * 10),
        peak_rss_kib: crate::producer::peak_rss_kib("self"),
    }
}

fn cpu_ticks() -> u64 {
    crate::producer::process_cpu_ticks("self")
}

/// What the consumer has received of the scheduled records.
struct Tally {
    start: Instant,
    seen: Vec<bool>,
    received: u64,
    latency: Histogram<u64>,
}

impl Tally {
    fn record(&mut self, value: &[u8], at: Instant) {
        let Some((index, due)) = stamp(value) else {
            return;
        };
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| self.seen.get_mut(i));
        if let Some(seen @ false) = slot {
            *seen = true;
            self.received += 1;
            let late = at.saturating_duration_since(self.start + due);
            self.latency
                .saturating_record(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
        }
    }

    fn complete(&self) -> bool {
        self.received == self.seen.len() as u64
    }
}

/// Open-loop end to end: `rate` records a second for `seconds`, each due at
/// `start + i/rate` whenever it is actually sent.
fn end_to_end(
    producer: &impl Produce,
    consumer: &mut impl Consume,
    rate: u64,
    seconds: u64,
) -> Result<LatencyMeasured, String> {
    warm_up(producer, consumer)?;
    let rate = rate.max(1);
    let records = rate * seconds;
    let start = Instant::now();
    let mut tally = Tally {
        start,
        seen: vec![false; usize::try_from(records).map_err(|e| e.to_string())?],
        received: 0,
        latency: histogram()?,
    };
    let cpu = cpu_ticks();
    let deliveries = std::thread::scope(|s| {
        let pacer = s.spawn(|| {
            let mut deliveries = Vec::new();
            for i in 0..records {
                let due = Duration::from_nanos(i.saturating_mul(1_000_000_000) / rate);
                if let Some(wait) = (start + due).checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                deliveries.push(producer.send(value(i, due))?);
            }
            Ok::<_, String>(deliveries)
        });
        let until = start + Duration::from_secs(seconds) + STEP_LIMIT;
        while !tally.complete() {
            let got = consumer.receive(until, &mut |v| tally.record(v, Instant::now()))?;
            if !got {
                break;
            }
        }
        pacer
            .join()
            .map_err(|_| "the pacer thread panicked".to_owned())?
    })?;
    let cpu = cpu_ticks().saturating_sub(cpu);
    producer.settle(deliveries)?;
    Ok(summary(&tally.latency, records - tally.received, cpu))
}

/// Sends a warm-up record and reads it: connections, metadata and the consumer's position
/// are settled, and the consumer is fetching, before the clock starts.
fn warm_up(producer: &impl Produce, consumer: &mut impl Consume) -> Result<(), String> {
    let sent = producer.send(value(WARM_UP, Duration::ZERO))?;
    producer.settle(vec![sent])?;
    let until = Instant::now() + STEP_LIMIT;
    let mut seen = false;
    while !seen {
        let on = &mut |v: &[u8]| seen |= stamp(v).is_some_and(|(i, _)| i == WARM_UP);
        if !consumer.receive(until, on)? {
            return Err("the warm-up record did not arrive".to_owned());
        }
    }
    Ok(())
}

/// `trips` sends, each awaited before the next, after [`WARM_UP_TRIPS`] unmeasured ones.
fn round_trip(producer: &impl Produce, trips: u64) -> Result<LatencyMeasured, String> {
    let mut h = histogram()?;
    let mut cpu = cpu_ticks();
    for i in 0..WARM_UP_TRIPS + trips {
        if i == WARM_UP_TRIPS {
            cpu = cpu_ticks();
        }
        let began = Instant::now();
        let sent = producer.send(value(i, Duration::ZERO))?;
        producer.settle(vec![sent])?;
        if i >= WARM_UP_TRIPS {
            h.saturating_record(u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
    }
    Ok(summary(&h, 0, cpu_ticks().saturating_sub(cpu)))
}

// ---- the clients ----

struct FerroProducer {
    producer: Producer,
    /// Shared by every record: one reference-count increment each, no copy of the name.
    topic: Arc<str>,
    rt: Handle,
}

impl FerroProducer {
    fn connect(rt: &Handle, args: &WorkerArgs, linger_ms: u64) -> Result<Self, String> {
        let config = ProducerConfig::builder()
            .bootstrap_servers([args.target.bootstrap.as_str()])
            .acks(Acks::Leader)
            .enable_idempotence(false)
            .linger(Duration::from_millis(linger_ms))
            .max_block(STEP_LIMIT)
            .build()
            .map_err(|e| e.to_string())?;
        let producer = rt
            .block_on(Producer::connect(config))
            .map_err(|e| e.to_string())?;
        Ok(FerroProducer {
            producer,
            topic: args.target.topic.clone().into(),
            rt: rt.clone(),
        })
    }
}

impl Produce for FerroProducer {
    type Delivery = ferrokafka::DeliveryFuture;

    fn send(&self, value: Vec<u8>) -> Result<Self::Delivery, String> {
        let record = ProducerRecord::new(&self.topic).partition(0).value(value);
        self.rt
            .block_on(self.producer.send(record))
            .map_err(|e| e.to_string())
    }

    fn settle(&self, deliveries: Vec<Self::Delivery>) -> Result<(), String> {
        self.rt.block_on(bounded(async {
            for d in deliveries {
                d.await.map_err(|e| e.to_string())?;
            }
            Ok(())
        }))
    }
}

/// `work`, bounded by [`STEP_LIMIT`].
async fn bounded<T>(
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(STEP_LIMIT, work)
        .await
        .map_err(|_| format!("no answer in {STEP_LIMIT:?}"))?
}

struct FerroConsumer {
    consumer: Consumer,
    rt: Handle,
}

impl FerroConsumer {
    /// Assigned partition 0 at its end offset, resolved.
    fn at_end(rt: &Handle, args: &WorkerArgs) -> Result<Self, String> {
        let client = ClientConfig::new(&args.target.bootstrap).map_err(|e| e.to_string())?;
        let config = ConsumerConfig::builder()
            .client(client)
            .build()
            .map_err(|e| e.to_string())?;
        let tp = TopicPartition::new(args.target.topic.as_str(), 0);
        let consumer = rt.block_on(bounded(async {
            let mut consumer = Consumer::new(config).await.map_err(|e| e.to_string())?;
            consumer
                .assign([tp.clone()])
                .and_then(|()| consumer.seek_to_end(std::slice::from_ref(&tp)))
                .map_err(|e| e.to_string())?;
            consumer.position(&tp).await.map_err(|e| e.to_string())?;
            Ok(consumer)
        }))?;
        Ok(FerroConsumer {
            consumer,
            rt: rt.clone(),
        })
    }
}

impl Consume for FerroConsumer {
    fn receive(&mut self, until: Instant, on: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        let consumer = &mut self.consumer;
        let next = self
            .rt
            .block_on(async { tokio::time::timeout_at(until.into(), consumer.recv()).await });
        match next {
            Err(_) => Ok(false),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(record)) => {
                on(record.value.as_deref().unwrap_or_default());
                Ok(true)
            }
        }
    }
}

struct RdProducer {
    producer: FutureProducer,
    topic: String,
    rt: Handle,
}

impl RdProducer {
    fn connect(rt: &Handle, args: &WorkerArgs, linger_ms: u64) -> Result<Self, String> {
        let producer = RdConfig::new()
            .set("bootstrap.servers", &args.target.bootstrap)
            .set("acks", "1")
            .set("enable.idempotence", "false")
            .set("linger.ms", linger_ms.to_string())
            .set("log_level", "3")
            .create()
            .map_err(|e| e.to_string())?;
        Ok(RdProducer {
            producer,
            topic: args.target.topic.clone(),
            rt: rt.clone(),
        })
    }
}

impl Produce for RdProducer {
    type Delivery = rdkafka::producer::DeliveryFuture;

    fn send(&self, value: Vec<u8>) -> Result<Self::Delivery, String> {
        let record = FutureRecord::<(), [u8]>::to(&self.topic)
            .partition(0)
            .payload(&value[..]);
        self.producer
            .send_result(record)
            .map_err(|(e, _)| e.to_string())
    }

    fn settle(&self, deliveries: Vec<Self::Delivery>) -> Result<(), String> {
        self.rt.block_on(bounded(async {
            for d in deliveries {
                d.await
                    .map_err(|_| "delivery cancelled".to_owned())?
                    .map_err(|(e, _)| e.to_string())?;
            }
            Ok(())
        }))
    }
}

struct RdConsumer {
    consumer: BaseConsumer,
}

impl RdConsumer {
    /// Assigned partition 0 at its end offset (looked up first, so nothing is missed).
    fn at_end(args: &WorkerArgs) -> Result<Self, String> {
        let consumer: BaseConsumer = RdConfig::new()
            .set("bootstrap.servers", &args.target.bootstrap)
            // librdkafka wants a group id even without membership; nothing is committed.
            .set("group.id", format!("latency-{}", std::process::id()))
            .set("check.crcs", "true") // as ferrokafka's default; see consumer.rs
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("log_level", "3")
            .create()
            .map_err(|e| e.to_string())?;
        let (_, end) = consumer
            .fetch_watermarks(&args.target.topic, 0, STEP_LIMIT)
            .map_err(|e| e.to_string())?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&args.target.topic, 0, Offset::Offset(end))
            .and_then(|()| consumer.assign(&tpl))
            .map_err(|e| e.to_string())?;
        Ok(RdConsumer { consumer })
    }
}

impl Consume for RdConsumer {
    fn receive(&mut self, until: Instant, on: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        loop {
            let Some(wait) = until.checked_duration_since(Instant::now()) else {
                return Ok(false);
            };
            match self.consumer.poll(wait) {
                Some(Ok(m)) => {
                    on(m.payload().unwrap_or_default());
                    return Ok(true);
                }
                Some(Err(e)) => return Err(e.to_string()),
                None => {}
            }
        }
    }
}

/// rskafka: round trips only (it has no producer batching to pace).
struct RsProducer {
    partition: rskafka::client::partition::PartitionClient,
    rt: Handle,
}

impl RsProducer {
    fn connect(rt: &Handle, args: &WorkerArgs) -> Result<Self, String> {
        use rskafka::client::{partition::UnknownTopicHandling, ClientBuilder};
        let partition = rt.block_on(bounded(async {
            let client = ClientBuilder::new(vec![args.target.bootstrap.clone()])
                .build()
                .await
                .map_err(|e| e.to_string())?;
            client
                .partition_client(args.target.topic.as_str(), 0, UnknownTopicHandling::Retry)
                .await
                .map_err(|e| e.to_string())
        }))?;
        Ok(RsProducer {
            partition,
            rt: rt.clone(),
        })
    }
}

impl Produce for RsProducer {
    type Delivery = ();

    /// Produces and waits for the acknowledgement: rskafka has no delivery futures.
    fn send(&self, value: Vec<u8>) -> Result<(), String> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let record = rskafka::record::Record {
            key: None,
            value: Some(value),
            headers: std::collections::BTreeMap::new(),
            timestamp: rskafka::chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default(),
        };
        let produce = self.partition.produce(
            vec![record],
            rskafka::client::partition::Compression::NoCompression,
        );
        self.rt
            .block_on(bounded(async { produce.await.map_err(|e| e.to_string()) }))
            .map(drop)
    }

    fn settle(&self, _: Vec<()>) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_carries_its_index_and_due_time() {
        let v = value(42, Duration::from_micros(1_500));
        assert_eq!(v.len(), RECORD_BYTES);
        assert_eq!(stamp(&v), Some((42, Duration::from_micros(1_500))));
        assert_eq!(stamp(&v[..12]), None);
    }

    #[test]
    fn the_tally_counts_each_record_once_and_ignores_strangers() {
        let start = Instant::now();
        let mut tally = Tally {
            start,
            seen: vec![false; 2],
            received: 0,
            latency: histogram().unwrap(),
        };
        let at = start + Duration::from_millis(7);
        tally.record(&value(0, Duration::from_millis(2)), at);
        tally.record(&value(0, Duration::from_millis(2)), at);
        tally.record(&value(WARM_UP, Duration::ZERO), at);
        tally.record(b"short", at);
        assert!(!tally.complete());
        assert_eq!(tally.latency.len(), 1);
        let p50 = tally.latency.value_at_quantile(0.5);
        assert!((4_990..=5_010).contains(&p50), "{p50}");
        tally.record(&value(1, Duration::from_millis(3)), at);
        assert!(tally.complete());
    }

    #[test]
    fn a_result_line_round_trips() {
        let m = measured(&[2000, 150, 400, 900, 1200, 0, 12, 20480]).unwrap();
        assert_eq!((m.count, m.lost, m.peak_rss_kib), (2000, 0, 20480));
        assert_eq!(m.p99, Duration::from_micros(400));
        assert_eq!(m.cpu, Duration::from_millis(120));
        assert!(measured(&[1, 2, 3]).is_err());
    }
}
