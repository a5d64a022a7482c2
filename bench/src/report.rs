//! The suite's report: Markdown tables with medians and ranges, ratios against rdkafka from
//! the same run, the targets of the "lead on speed" issue with what was measured, and SVG
//! charts (see `svg.rs`). Nothing here measures; it only summarises what `suite.rs` collected.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::svg;

/// One client run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) rate: f64,
    /// Client CPU seconds per million records.
    pub(crate) cpu_per_m: f64,
    /// Broker CPU seconds per million records, over the worker's whole life.
    pub(crate) broker_cpu_per_m: Option<f64>,
    pub(crate) peak_rss_mib: f64,
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
        }
    }
}

/// One case: every client's runs on one broker.
pub(crate) struct Row {
    pub(crate) broker: String,
    pub(crate) case: String,
    pub(crate) size: usize,
    pub(crate) clients: Vec<(String, Vec<Sample>)>,
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
    pub(crate) consumer_partitions: i32,
    pub(crate) startup: Vec<StartupRow>,
    pub(crate) producer: Vec<Row>,
    pub(crate) consumer: Vec<Row>,
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

fn table(out: &mut String, rows: &[Row]) {
    out.push_str(
        "| broker | case | client | msgs/s, median (min–max) | MB/s | client CPU s / 1M | \
         broker CPU s / 1M | client peak RSS | msgs/s vs rdkafka-base | client CPU vs rdkafka-base |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
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
            let broker_cpu = if b.median.is_finite() {
                format!("{:.2}", b.median)
            } else {
                "–".to_owned()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {client} | {} ({}–{}) | {:.1} | {:.2} ({:.2}–{:.2}) | {broker_cpu} | {:.1} MiB | {} | {} |",
                row.broker,
                row.case,
                human_rate(r.median),
                human_rate(r.min),
                human_rate(r.max),
                r.median * row.size as f64 / 1e6,
                c.median,
                c.min,
                c.max,
                m.median,
                vs(rate),
                vs(cpu),
            );
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
    // Mini-broker against real Kafka, same client (ferrokafka), same case.
    let mut vs_real = Vec::new();
    for mini in m.producer.iter().filter(|r| r.broker.starts_with(MINI)) {
        let real = m
            .producer
            .iter()
            .find(|r| !r.broker.starts_with(MINI) && r.case == mini.case);
        if let (Some(a), Some(b)) = (
            mini.median("ferrokafka", rate),
            real.and_then(|r| r.median("ferrokafka", rate)),
        ) {
            vs_real.push((mini.case.clone(), a / b));
        }
    }
    t.push(Target {
        what: "produce msgs/s, mini-broker vs real Kafka (ferrokafka client)",
        goal: 2.0,
        at_most: false,
        measured: vs_real,
    });
    let startup = |f: fn(&(Duration, u64)) -> f64| -> Vec<(String, f64)> {
        let mini = m.startup.iter().find(|r| r.broker.starts_with(MINI));
        let real = m.startup.iter().find(|r| !r.broker.starts_with(MINI));
        match (mini, real) {
            (Some(a), Some(b)) => {
                let a = spread(a.samples.iter().map(f)).median;
                let b = spread(b.samples.iter().map(f)).median;
                vec![("medians".to_owned(), b / a)]
            }
            _ => Vec::new(),
        }
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
         records per run, `linger.ms={}`, `batch.size={}`, 5 in flight, idempotence with \
         `acks=all`. Consumer: {} records per run over {} partitions, read from the beginning \
         in assign mode (no group). Client CPU is user + system time of the client's process \
         over the measured span; broker CPU is the broker process's over the worker's whole \
         life (set-up included), 10 ms ticks. Peak RSS is the client process's VmHWM.\n",
        m.runs,
        m.producer_records,
        m.linger_ms,
        m.batch_size,
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
    table(&mut out, &m.producer);
    out.push_str("\n![producer client CPU](producer-cpu.svg)\n");
    out.push_str("\n## Consumer\n\n![consumer msgs/s](consumer-msgs.svg)\n\n");
    table(&mut out, &m.consumer);
    out.push_str("\n![consumer client CPU](consumer-cpu.svg)\n");
    if !m.failures.is_empty() {
        out.push_str("\n## Failed runs (left out of the medians)\n\n");
        for f in &m.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out.push_str(
        "\n## Not measured\n\n- average batch size (neither client reports it to the tool \
         yet); end-to-end latency percentiles; the in-process mini-broker; other pure-Rust \
         clients (rskafka).\n",
    );
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
