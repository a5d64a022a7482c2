//! The suite's report: Markdown tables with medians and ranges, ratios against rdkafka from
//! the same run, the targets of the "lead on speed" issue with what was measured, and SVG
//! charts (see `svg.rs`). Nothing here measures; it only summarises what `suite.rs` collected.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::broker::BatchCensus;
use crate::svg;

mod secured;
pub(crate) use secured::{Secured, SecuredRow};

/// One client run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) rate: f64,
    /// Client CPU seconds per million records.
    pub(crate) cpu_per_m: f64,
    /// Broker CPU seconds per million records, over the worker's whole life.
    pub(crate) broker_cpu_per_m: Option<f64>,
    pub(crate) peak_rss_mib: f64,
    /// Records and bytes per stored batch, from reading the topic back (producer runs).
    pub(crate) batch: Option<(f64, f64)>,
}

impl Sample {
    pub(crate) fn new(
        records: usize,
        elapsed: Duration,
        cpu: Duration,
        broker_ticks: Option<u64>,
        peak_rss_kib: u64,
    ) -> Self {
        let records = records.max(1) as f64;
        Sample {
            rate: records / elapsed.as_secs_f64().max(1e-9),
            cpu_per_m: cpu.as_secs_f64() * 1e6 / records,
            // /proc counts in ticks of 1/100 s.
            broker_cpu_per_m: broker_ticks.map(|t| t as f64 / 100.0 * 1e6 / records),
            peak_rss_mib: peak_rss_kib as f64 / 1024.0,
            batch: None,
        }
    }

    /// Adds the average batch of what the run left in the topic.
    pub(crate) fn with_census(mut self, census: Option<BatchCensus>) -> Self {
        self.batch = census.filter(|c| c.batches > 0).map(|c| {
            let n = c.batches as f64;
            (c.records as f64 / n, c.bytes as f64 / n)
        });
        self
    }
}

/// One case: every client's runs on one broker.
pub(crate) struct Row {
    pub(crate) broker: String,
    pub(crate) case: String,
    pub(crate) size: usize,
    pub(crate) clients: Vec<(String, Vec<Sample>)>,
    /// Clients whose settings could not match the case's, and what they ran with instead.
    pub(crate) notes: Vec<(String, String)>,
}

/// Latency of one client: end to end at one fixed rate, or the one-record round trip.
pub(crate) struct LatencyRow {
    pub(crate) broker: String,
    pub(crate) client: String,
    /// Scheduled messages per second; `None` for the one-record-in-flight round trip.
    pub(crate) rate: Option<u64>,
    pub(crate) runs: Vec<LatencyRun>,
}

/// One run's percentiles, microseconds: from the scheduled send time to receipt (end to end),
/// or from send to delivery report (round trip).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatencyRun {
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
}

impl LatencyRow {
    /// The median over the runs of one percentile, in milliseconds.
    fn ms(&self, pick: fn(&LatencyRun) -> f64) -> Spread {
        let s = spread(self.runs.iter().map(pick));
        Spread {
            median: s.median / 1e3,
            min: s.min / 1e3,
            max: s.max / 1e3,
        }
    }
}

pub(crate) struct StartupRow {
    pub(crate) broker: String,
    /// Launch → first ApiVersions, and idle RSS in KiB.
    pub(crate) samples: Vec<(Duration, u64)>,
}

/// Everything one suite run measured.
pub(crate) struct Matrix {
    pub(crate) command: String,
    pub(crate) machine: String,
    pub(crate) started: String,
    pub(crate) finished: String,
    pub(crate) runs: usize,
    pub(crate) producer_records: usize,
    pub(crate) consumer_records: usize,
    pub(crate) batch_size: usize,
    pub(crate) linger_ms: u64,
    pub(crate) in_flight: usize,
    pub(crate) consumer_partitions: i32,
    pub(crate) startup: Vec<StartupRow>,
    pub(crate) producer: Vec<Row>,
    pub(crate) consumer: Vec<Row>,
    /// Per broker, the highest VmHWM (KiB) of its processes after the loaded runs.
    pub(crate) loaded_rss: Vec<(String, u64)>,
    /// End-to-end latency and round trips.
    pub(crate) latency: Vec<LatencyRow>,
    /// Throughput over TLS and SASL, and connection set-up per listener.
    pub(crate) secured: Option<Secured>,
    /// Runs that failed (left out of the medians).
    pub(crate) failures: Vec<String>,
}

/// Median, min and max.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spread {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

pub(crate) fn spread(values: impl IntoIterator<Item = f64>) -> Spread {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(f64::NAN),
        _ => {
            (v.get(n / 2 - 1).copied().unwrap_or(f64::NAN)
                + v.get(n / 2).copied().unwrap_or(f64::NAN))
                / 2.0
        }
    };
    Spread {
        median,
        min: v.first().copied().unwrap_or(f64::NAN),
        max: v.last().copied().unwrap_or(f64::NAN),
    }
}

impl Row {
    /// The case, with the broker named unless it is the mini-broker.
    fn label(&self) -> String {
        if self.broker.starts_with(MINI) {
            self.case.clone()
        } else {
            format!("{} · {}", self.broker, self.case)
        }
    }

    fn client(&self, name: &str) -> Option<&[Sample]> {
        self.clients
            .iter()
            .find(|(c, _)| c == name)
            .map(|(_, s)| s.as_slice())
    }

    /// Median of `metric` for `client`.
    fn median(&self, client: &str, metric: fn(&Sample) -> f64) -> Option<f64> {
        let m = spread(self.client(client)?.iter().map(metric)).median;
        m.is_finite().then_some(m)
    }

    /// Median of `a` over median of `b` for a metric.
    fn ratio(&self, a: &str, b: &str, metric: fn(&Sample) -> f64) -> Option<f64> {
        Some(self.median(a, metric)? / self.median(b, metric)?)
    }
}

fn rate(s: &Sample) -> f64 {
    s.rate
}

fn cpu(s: &Sample) -> f64 {
    s.cpu_per_m
}

fn human_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else {
        format!("{:.0} k", r / 1e3)
    }
}

/// A median, or "–" when there is none.
fn or_dash(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "–".to_owned()
    }
}

/// The client table; `batches` adds the records and bytes per stored batch (producer).
fn table(out: &mut String, rows: &[Row], batches: bool) {
    out.push_str(
        "| broker | case | client | msgs/s, median (min–max) | MB/s | client CPU s / 1M | \
         broker CPU s / 1M | client peak RSS | msgs/s vs rdkafka-base | client CPU vs rdkafka-base |",
    );
    out.push_str(if batches {
        " records / batch | bytes / batch |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    } else {
        "\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
    });
    for row in rows {
        for (client, samples) in &row.clients {
            let r = spread(samples.iter().map(rate));
            let c = spread(samples.iter().map(cpu));
            let b = spread(samples.iter().filter_map(|s| s.broker_cpu_per_m));
            let m = spread(samples.iter().map(|s| s.peak_rss_mib));
            let vs = |metric: fn(&Sample) -> f64| {
                row.ratio(client, "rdkafka-base", metric)
                    .map_or("–".to_owned(), |x| format!("{x:.2}×"))
            };
            let name = match row.notes.iter().find(|(c, _)| c == client) {
                Some((_, note)) => format!("{client} ({note})"),
                None => client.clone(),
            };
            let _ = write!(
                out,
                "| {} | {} | {name} | {} ({}–{}) | {:.1} | {:.2} ({:.2}–{:.2}) | {} | {:.1} MiB | {} | {} |",
                row.broker,
                row.case,
                human_rate(r.median),
                human_rate(r.min),
                human_rate(r.max),
                r.median * row.size as f64 / 1e6,
                c.median,
                c.min,
                c.max,
                or_dash(b.median, 2),
                m.median,
                vs(rate),
                vs(cpu),
            );
            if batches {
                let per = |f: fn((f64, f64)) -> f64| {
                    or_dash(
                        spread(samples.iter().filter_map(|s| s.batch.map(f))).median,
                        1,
                    )
                };
                let _ = write!(out, " {} | {} |", per(|b| b.0), per(|b| b.1));
            }
            out.push('\n');
        }
    }
}

/// A target from the issue and what was measured against it.
struct Target {
    what: &'static str,
    goal: f64,
    /// True when a measured value must be at most `goal` (else at least).
    at_most: bool,
    measured: Vec<(String, f64)>,
}

impl Target {
    fn met(&self, x: f64) -> bool {
        if self.at_most {
            x <= self.goal
        } else {
            x >= self.goal
        }
    }

    fn line(&self) -> String {
        let goal = format!("{} {:.2}×", if self.at_most { "≤" } else { "≥" }, self.goal);
        if self.measured.is_empty() {
            return format!("- {}: target {goal}; not measured in this run", self.what);
        }
        let s = spread(self.measured.iter().map(|(_, x)| *x));
        let met = self.measured.iter().filter(|(_, x)| self.met(*x)).count();
        let verdict = match met {
            m if m == self.measured.len() => "MET",
            0 => "NOT MET",
            _ => "PARTLY MET",
        };
        let cases: Vec<String> = self
            .measured
            .iter()
            .map(|(c, x)| format!("{c}: {x:.2}×"))
            .collect();
        format!(
            "- {}: target {goal}; measured {:.2}–{:.2}× (median {:.2}×), met in {met}/{} — {verdict}  \n  {}",
            self.what,
            s.min,
            s.max,
            s.median,
            self.measured.len(),
            cases.join("; ")
        )
    }
}

const MINI: &str = "mini-broker";

fn targets(m: &Matrix) -> Vec<Target> {
    let on_mini = |rows: &[Row]| -> Vec<usize> {
        (0..rows.len())
            .filter(|&i| rows.get(i).is_some_and(|r| r.broker.starts_with(MINI)))
            .collect()
    };
    let collect = |rows: &[Row], pick: &[usize], f: &dyn Fn(&Row) -> Option<f64>| {
        pick.iter()
            .filter_map(|&i| rows.get(i))
            .filter_map(|r| f(r).map(|x| (r.label(), x)))
            .collect::<Vec<_>>()
    };
    let p_mini = on_mini(&m.producer);
    let c_mini = on_mini(&m.consumer);
    let sized = |size: usize| -> Vec<usize> {
        p_mini
            .iter()
            .copied()
            .filter(|&i| m.producer.get(i).is_some_and(|r| r.size == size))
            .collect()
    };
    let all_p: Vec<usize> = (0..m.producer.len()).collect();
    let all_c: Vec<usize> = (0..m.consumer.len()).collect();
    let mut cpu_vs = collect(&m.producer, &all_p, &|r| {
        r.ratio("ferrokafka", "rdkafka-base", cpu)
    });
    for (c, x) in collect(&m.consumer, &all_c, &|r| {
        r.ratio("ferrokafka-poll", "rdkafka-base", cpu)
    }) {
        cpu_vs.push((format!("consumer {c}"), x));
    }
    let mut t = vec![
        Target {
            what: "producer msgs/s at 100 B, ferrokafka vs rdkafka BaseProducer (mini-broker)",
            goal: 1.3,
            at_most: false,
            measured: collect(&m.producer, &sized(100), &|r| {
                r.ratio("ferrokafka", "rdkafka-base", rate)
            }),
        },
        Target {
            what: "producer msgs/s at 1 KiB, ferrokafka vs rdkafka BaseProducer (mini-broker)",
            goal: 1.0,
            at_most: false,
            measured: collect(&m.producer, &sized(1024), &|r| {
                r.ratio("ferrokafka", "rdkafka-base", rate)
            }),
        },
        Target {
            what: "consumer msgs/s, ferrokafka poll vs rdkafka BaseConsumer (mini-broker)",
            goal: 1.2,
            at_most: false,
            measured: collect(&m.consumer, &c_mini, &|r| {
                r.ratio("ferrokafka-poll", "rdkafka-base", rate)
            }),
        },
        Target {
            what: "consumer msgs/s, ferrokafka poll vs rdkafka StreamConsumer (mini-broker)",
            goal: 2.0,
            at_most: false,
            measured: collect(&m.consumer, &c_mini, &|r| {
                r.ratio("ferrokafka-poll", "rdkafka-stream", rate)
            }),
        },
        Target {
            what: "client CPU per million records, ferrokafka vs rdkafka BaseProducer/BaseConsumer (every case, every broker)",
            goal: 0.8,
            at_most: true,
            measured: cpu_vs,
        },
    ];
    t.push(Target {
        what: "end-to-end p99 at 10k msgs/s, ferrokafka over rdkafka (every broker)",
        goal: 1.0,
        at_most: true,
        measured: p99_vs_rdkafka(m, 10_000),
    });
    // Mini-broker against real Kafka, same client (ferrokafka), same case.
    let vs_real = broker_pairs(&m.producer, "ferrokafka", &rate_of)
        .into_iter()
        .filter_map(|(case, mini, real)| Some((case.to_owned(), mini / real?)))
        .collect();
    t.push(Target {
        what: "produce msgs/s, mini-broker vs real Kafka (ferrokafka client)",
        goal: 2.0,
        at_most: false,
        measured: vs_real,
    });
    let startup = |f: fn(&(Duration, u64)) -> f64| -> Vec<(String, f64)> {
        startup_medians(m, f)
            .and_then(|(mini, real)| Some(vec![("medians".to_owned(), real? / mini)]))
            .unwrap_or_default()
    };
    t.push(Target {
        what: "start-up, real Kafka time over mini-broker time",
        goal: 50.0,
        at_most: false,
        measured: startup(|s| s.0.as_secs_f64()),
    });
    t.push(Target {
        what: "idle RSS, real Kafka over mini-broker (≥ 20× means ≤ 1/20)",
        goal: 20.0,
        at_most: false,
        measured: startup(|s| s.1 as f64),
    });
    t
}

/// Per case measured on the mini-broker: the case, then `client`'s median of `metric` on the
/// mini-broker and, when the case ran there too, on the other broker.
fn broker_pairs<'r>(
    rows: &'r [Row],
    client: &str,
    metric: &dyn Fn(&Row, &Sample) -> f64,
) -> Vec<(&'r str, f64, Option<f64>)> {
    let median = |r: &Row| {
        let m = spread(r.client(client)?.iter().map(|s| metric(r, s))).median;
        m.is_finite().then_some(m)
    };
    rows.iter()
        .filter(|r| r.broker.starts_with(MINI))
        .filter_map(|mini| {
            let real = rows
                .iter()
                .find(|r| !r.broker.starts_with(MINI) && r.case == mini.case);
            Some((mini.case.as_str(), median(mini)?, real.and_then(median)))
        })
        .collect()
}

fn rate_of(_: &Row, s: &Sample) -> f64 {
    s.rate
}

/// Broker CPU seconds per GB of record values.
fn broker_cpu_per_gb(r: &Row, s: &Sample) -> f64 {
    s.broker_cpu_per_m
        .map_or(f64::NAN, |c| c * 1e3 / r.size.max(1) as f64)
}

/// Medians of a start-up figure on the mini-broker and, when it ran, on the other broker.
fn startup_medians(m: &Matrix, f: fn(&(Duration, u64)) -> f64) -> Option<(f64, Option<f64>)> {
    let median = |r: &StartupRow| spread(r.samples.iter().map(f)).median;
    let mini = m.startup.iter().find(|r| r.broker.starts_with(MINI))?;
    let real = m.startup.iter().find(|r| !r.broker.starts_with(MINI));
    Some((median(mini), real.map(median)))
}

/// One client held fixed (ferrokafka), the mini-broker against the other broker; the last
/// column says how many times better the mini-broker is (higher is better for it).
fn broker_comparison(out: &mut String, m: &Matrix) {
    out.push_str(
        "\n## Broker comparison (client: ferrokafka)\n\n\
         | measure | case | mini-broker | real Kafka | mini-broker better by |\n\
         |---|---|---:|---:|---:|\n",
    );
    // `higher`: whether a higher figure is the better one (throughput), else lower (cost).
    let mut line =
        |what: &str, unit: &dyn Fn(f64) -> String, a: f64, b: Option<f64>, higher: bool| {
            let better = b.map(|b| if higher { a / b } else { b / a });
            let _ = writeln!(
                out,
                "| {what} | {} | {} | {} |",
                unit(a),
                b.map_or("–".to_owned(), unit),
                better
                    .filter(|x| x.is_finite())
                    .map_or("–".to_owned(), |x| format!("{x:.2}×"))
            );
        };
    for (rows, client, what) in [
        (&m.producer, "ferrokafka", "produce"),
        (&m.consumer, "ferrokafka-poll", "fetch"),
    ] {
        for (case, a, b) in broker_pairs(rows, client, &rate_of) {
            line(&format!("{what} msgs/s | {case}"), &human_rate, a, b, true);
        }
        for (case, a, b) in broker_pairs(rows, client, &broker_cpu_per_gb) {
            let what = format!("broker CPU s / GB, {what} | {case}");
            line(&what, &|x| format!("{x:.2}"), a, b, false);
        }
    }
    let mib = |x: f64| format!("{x:.1} MiB");
    if let Some((a, b)) = startup_medians(m, |s| s.0.as_secs_f64() * 1e3) {
        line("start-up | median", &|x| format!("{x:.1} ms"), a, b, false);
    }
    if let Some((a, b)) = startup_medians(m, |s| s.1 as f64 / 1024.0) {
        line("idle RSS | median", &mib, a, b, false);
    }
    let loaded = |mini: bool| {
        m.loaded_rss
            .iter()
            .find(|(b, _)| b.starts_with(MINI) == mini)
            .map(|(_, kib)| *kib as f64 / 1024.0)
    };
    if let Some(a) = loaded(true) {
        line(
            "loaded RSS (VmHWM) | after the runs",
            &mib,
            a,
            loaded(false),
            false,
        );
    }
    let p99 = |mini: bool| {
        m.latency
            .iter()
            .find(|l| {
                l.broker.starts_with(MINI) == mini
                    && l.client == "ferrokafka"
                    && l.rate == Some(10_000)
                    && !l.runs.is_empty()
            })
            .map(|l| l.ms(|r| r.p99_us).median)
    };
    match p99(true) {
        Some(a) => line(
            "p99 at 10k msgs/s | end to end",
            &|x| format!("{x:.2} ms"),
            a,
            p99(false),
            false,
        ),
        None => {
            out.push_str("| p99 at 10k msgs/s | end to end | not measured | not measured | – |\n")
        }
    }
    out.push_str(
        "\nLoaded RSS is the highest VmHWM of the broker's processes, read before each one is \
         stopped (a fresh broker per producer case and per consumer data set). The mini-broker \
         keeps every record in memory, so a producer case's broker holds all of its runs' \
         records; real Kafka keeps them on disk behind its JVM heap.\n",
    );
}

/// End-to-end latency percentiles and round trips, when measured: medians over the runs, the
/// p99's range beside it.
fn latency_table(out: &mut String, m: &Matrix) {
    if m.latency.is_empty() {
        return;
    }
    out.push_str(
        "\n## Latency\n\n\
         End to end: 100 B records, one partition, `acks=1`, `linger.ms=5`, sent on an open-loop \
         schedule at a fixed rate; latency runs from a record's scheduled send time to its \
         receipt by a consumer of the same client in the same process (HDR histogram, µs). \
         Round trip: one record in flight, `linger.ms=0`, from send to its delivery report.\n\n\
         | broker | what | client | p50 | p99, median (min–max) | p99.9 | runs |\n\
         |---|---|---|---:|---:|---:|---:|\n",
    );
    for l in &m.latency {
        if l.runs.is_empty() {
            continue;
        }
        let what = match l.rate {
            Some(rate) => format!("end to end at {rate} msgs/s"),
            None => "round trip, 1 in flight".to_owned(),
        };
        let (p50, p99, p999) = (l.ms(|r| r.p50_us), l.ms(|r| r.p99_us), l.ms(|r| r.p999_us));
        let _ = writeln!(
            out,
            "| {} | {what} | {} | {:.2} ms | {:.2} ms ({:.2}–{:.2}) | {:.2} ms | {} |",
            l.broker,
            l.client,
            p50.median,
            p99.median,
            p99.min,
            p99.max,
            p999.median,
            l.runs.len()
        );
    }
}

/// Per broker, ferrokafka's median p99 over rdkafka's at `rate`.
fn p99_vs_rdkafka(m: &Matrix, rate: u64) -> Vec<(String, f64)> {
    let median_p99 = |broker: &str, client: &str| {
        m.latency
            .iter()
            .find(|l| l.broker == broker && l.client == client && l.rate == Some(rate))
            .filter(|l| !l.runs.is_empty())
            .map(|l| l.ms(|r| r.p99_us).median)
    };
    m.latency
        .iter()
        .filter(|l| l.client == "ferrokafka" && l.rate == Some(rate))
        .filter_map(|l| {
            let ours = median_p99(&l.broker, "ferrokafka")?;
            let theirs = median_p99(&l.broker, "rdkafka")?;
            Some((l.broker.clone(), ours / theirs))
        })
        .collect()
}

/// What this run did not measure, said plainly.
fn not_measured(m: &Matrix) -> Vec<&'static str> {
    let mut left = Vec::new();
    if m.latency.is_empty() {
        left.push("end-to-end latency percentiles (and so the p99 at 10k msgs/s of the broker comparison)");
    }
    if m.startup.len() < 2 {
        left.push("real Kafka (run with `--real-kafka`): the broker comparison and its targets");
    }
    left.push("the in-process mini-broker (it would share this process's CPU count)");
    left
}

/// Writes `latest.md` and the charts into `dir`; returns the targets summary.
pub(crate) fn write(m: &Matrix, dir: &Path) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = String::new();
    let _ = writeln!(out, "# ferrokafka perf suite — latest results\n");
    let _ = writeln!(
        out,
        "`{}` — {} to {}, on {}.\n",
        m.command, m.started, m.finished, m.machine
    );
    let _ = writeln!(
        out,
        "Every figure is the median of {} runs with the range of the runs; the clients run \
         interleaved within each repetition (the order rotates), each in its own child \
         process. Ratios are against rdkafka measured in the same run. Producer: {} keyless \
         records per run, `linger.ms={}`, `batch.size={}`, {} in flight, idempotence with \
         `acks=all`. rskafka has no accumulator: its worker cuts the records into groups of \
         about `batch.size` bytes, hands them to the partitions in turn and keeps up to {} \
         `produce` calls in flight per partition; it always sends `acks=all` and has no \
         idempotence, which its cells say. Records and bytes per batch are counted by reading \
         each topic back after the run (after the broker CPU reading), not from the client. \
         Consumer: {} records per run over {} partitions, read from the beginning in assign \
         mode (no group) and in group mode (subscribe, a fresh group id, \
         `auto.offset.reset=earliest`, no auto-commit; the clock starts at the first record), \
         every consumer checking batch CRCs (`check.crcs=true`, ferrokafka's and Java's \
         default, set for librdkafka, whose default is false); \
         rskafka (one `fetch_records` loop per partition, 1 MiB per fetch) has no groups. \
         Client CPU is user + system time of the client's process \
         over the measured span; broker CPU is the broker process's over the worker's whole \
         life (set-up included), 10 ms ticks. Peak RSS is the client process's VmHWM.\n",
        m.runs,
        m.producer_records,
        m.linger_ms,
        m.batch_size,
        m.in_flight,
        m.in_flight,
        m.consumer_records,
        m.consumer_partitions
    );
    let summary = {
        let mut s = String::from("## Targets\n\n");
        for t in targets(m) {
            s.push_str(&t.line());
            s.push('\n');
        }
        s
    };
    out.push_str(&summary);
    out.push_str("\n## Broker start-up\n\n");
    out.push_str(
        "| broker | start → first ApiVersions, median (min–max) | idle RSS, median (min–max) |\n",
    );
    out.push_str("|---|---:|---:|\n");
    for row in &m.startup {
        let t = spread(row.samples.iter().map(|s| s.0.as_secs_f64() * 1e3));
        let r = spread(row.samples.iter().map(|s| s.1 as f64 / 1024.0));
        let _ = writeln!(
            out,
            "| {} | {:.1} ms ({:.1}–{:.1}) | {:.1} MiB ({:.1}–{:.1}) |",
            row.broker, t.median, t.min, t.max, r.median, r.min, r.max
        );
    }
    out.push_str("\n## Producer\n\n![producer msgs/s](producer-msgs.svg)\n\n");
    table(&mut out, &m.producer, true);
    out.push_str("\n![producer client CPU](producer-cpu.svg)\n");
    out.push_str("\n## Consumer\n\n![consumer msgs/s](consumer-msgs.svg)\n\n");
    table(&mut out, &m.consumer, false);
    out.push_str("\n![consumer client CPU](consumer-cpu.svg)\n");
    broker_comparison(&mut out, m);
    latency_table(&mut out, m);
    if let Some(s) = &m.secured {
        out.push('\n');
        out.push_str(&secured::section(m, s));
    }
    if !m.failures.is_empty() {
        out.push_str("\n## Failed runs (left out of the medians)\n\n");
        for f in &m.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out.push_str("\n## Not measured\n\n");
    for what in not_measured(m) {
        let _ = writeln!(out, "- {what}");
    }
    write_file(&dir.join("latest.md"), &out)?;
    let multi = m
        .producer
        .iter()
        .chain(&m.consumer)
        .any(|r| !r.broker.starts_with(MINI));
    let groups = |rows: &[Row], metric: fn(&Sample) -> f64, scale: f64| {
        rows.iter()
            .map(|r| {
                let label = if multi {
                    format!("{} · {}", r.broker, r.case)
                } else {
                    r.case.clone()
                };
                let bars = r
                    .clients
                    .iter()
                    .map(|(c, s)| (c.clone(), spread(s.iter().map(metric)).median * scale))
                    .collect();
                (label, bars)
            })
            .collect::<Vec<_>>()
    };
    for (file, title, rows, metric, scale) in [
        (
            "producer-msgs.svg",
            "Producer throughput, thousand msgs/s (median)",
            &m.producer,
            rate as fn(&Sample) -> f64,
            1e-3,
        ),
        (
            "producer-cpu.svg",
            "Producer client CPU, s per million records (median; lower is better)",
            &m.producer,
            cpu,
            1.0,
        ),
        (
            "consumer-msgs.svg",
            "Consumer throughput, thousand msgs/s (median)",
            &m.consumer,
            rate,
            1e-3,
        ),
        (
            "consumer-cpu.svg",
            "Consumer client CPU, s per million records (median; lower is better)",
            &m.consumer,
            cpu,
            1.0,
        ),
    ] {
        write_file(
            &dir.join(file),
            &svg::bar_chart(title, &groups(rows, metric, scale)),
        )?;
    }
    Ok(summary)
}

/// Puts the secured section into the existing `dir/latest.md` (see `report/secured.rs`).
pub(crate) fn write_secured_into(m: &Matrix, dir: &Path) -> Result<String, String> {
    secured::write_into(m, dir)
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// "N cores, X GiB RAM, <kernel>, load average at the start".
pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, {mem_gib:.0} GiB RAM (load average {} at the start; the machine is \
         shared with builds)",
        load.join(" ")
    )
}

/// The current UTC time, from `date` (no time crate for one string).
pub(crate) fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(broker: &str, case: &str, rate: f64) -> Row {
        let sample = Sample::new(
            1000,
            Duration::from_secs_f64(1000.0 / rate),
            Duration::ZERO,
            Some(1),
            0,
        );
        Row {
            broker: broker.to_owned(),
            case: case.to_owned(),
            size: 100,
            clients: vec![("ferrokafka".to_owned(), vec![sample])],
            notes: Vec::new(),
        }
    }

    #[test]
    fn census_gives_records_and_bytes_per_batch() {
        let census = BatchCensus {
            batches: 4,
            records: 600,
            bytes: 64_000,
        };
        let s = Sample::new(600, Duration::from_secs(1), Duration::ZERO, None, 0);
        assert_eq!(s.with_census(Some(census)).batch, Some((150.0, 16_000.0)));
        assert_eq!(s.with_census(Some(BatchCensus::default())).batch, None);
    }

    #[test]
    fn broker_pairs_match_cases_and_leave_the_other_broker_empty_when_absent() {
        let rows = vec![
            row("mini-broker (binary)", "a", 4000.0),
            row("mini-broker (binary)", "b", 1000.0),
            row("Apache Kafka", "a", 1000.0),
        ];
        let pairs = broker_pairs(&rows, "ferrokafka", &rate_of);
        assert_eq!(pairs.len(), 2);
        assert!(matches!(pairs.first(), Some(("a", a, Some(b))) if (a / b - 4.0).abs() < 1e-9));
        assert!(matches!(pairs.get(1), Some(("b", _, None))));
    }
}
