//! `data-dir`: the mini-broker with `--data-dir` (its log in segment files, only the newest
//! 1 MiB per partition in memory) against real Kafka, the same ferrokafka client on both —
//! produce and fetch msgs/s, interleaved runs — and the broker's own memory: idle, after
//! writing several GiB, after reading them all back. Written to `bench/results/data-dir.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::broker::{sibling, MiniBrokerProcess};
use crate::producer::Case;
use crate::report::{machine, spread, utc_now};
use crate::security::Endpoint;
use crate::startup::{status_kib, RealKafka};
use crate::{consumer, producer, suite};

/// Options of `data-dir`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also run real Kafka (started by `scripts/real-kafka.sh`), for the ratios.
    #[arg(long)]
    real_kafka: bool,
    /// Runs per broker and size; the table shows the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Records per run.
    #[arg(long, default_value_t = 500_000)]
    records: usize,
    /// Record sizes in bytes (value only).
    #[arg(long, value_delimiter = ',', default_value = "100,1024")]
    sizes: Vec<usize>,
    /// GiB of 1 KiB records written to the mini-broker for the memory measurement.
    #[arg(long, default_value_t = 5.0)]
    fill_gib: f64,
    /// Partitions of each topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Where the report goes (default: bench/results/data-dir.md).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The broker's memory at one moment, KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    anon: u64,
    file: u64,
}

fn memory(pid: u32) -> Result<Memory, String> {
    Ok(Memory {
        rss: status_kib(pid, "VmRSS")?,
        anon: status_kib(pid, "RssAnon")?,
        file: status_kib(pid, "RssFile")?,
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Rates (records/s) of one broker: produce and fetch, per size.
#[derive(Debug, Default)]
struct Rates {
    produce: Vec<(usize, Vec<f64>)>,
    fetch: Vec<(usize, Vec<f64>)>,
}

impl Rates {
    fn push(list: &mut Vec<(usize, Vec<f64>)>, size: usize, rate: f64) {
        match list.iter_mut().find(|(s, _)| *s == size) {
            Some((_, v)) => v.push(rate),
            None => list.push((size, vec![rate])),
        }
    }

    fn of(list: &[(usize, Vec<f64>)], size: usize) -> Vec<f64> {
        list.iter()
            .find(|(s, _)| *s == size)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

pub fn run(args: Args) -> ExitCode {
    match measure_all(&args) {
        Ok(path) => {
            println!("wrote {path}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("data-dir: {err}");
            ExitCode::FAILURE
        }
    }
}

fn measure_all(args: &Args) -> Result<String, String> {
    let started = utc_now();
    let machine = machine();
    let dir = std::env::temp_dir().join(format!("ferrokafka-perf-data-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _cleanup = RemoveOnDrop(dir.clone());
    let mini = MiniBrokerProcess::start_on_disk(&sibling("mini-broker"), &dir)?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let idle = memory(mini.pid())?;
    eprintln!("mini-broker --data-dir idle: {:.1} MiB RSS", mib(idle.rss));
    let kafka = if args.real_kafka {
        Some(RealKafka::start(Some(Path::new(
            "/tmp/rk-data-dir.env.state",
        )))?)
    } else {
        None
    };
    // The in-memory broker beside them, for what the files cost.
    let in_memory = MiniBrokerProcess::start(&sibling("mini-broker"))?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let mut brokers: Vec<(&str, String)> = vec![
        ("mini-broker --data-dir", mini.bootstrap.clone()),
        ("mini-broker (in memory)", in_memory.bootstrap.clone()),
    ];
    if let Some(k) = &kafka {
        brokers.push(("Apache Kafka (KRaft)", k.bootstrap.clone()));
    }
    let mut rates: Vec<Rates> = brokers.iter().map(|_| Rates::default()).collect();
    let mut n = 0;
    for &size in &args.sizes {
        for run in 0..args.runs {
            let indices: Vec<usize> = (0..brokers.len()).collect();
            for (_, b) in suite::rotated(&indices, run) {
                let (name, bootstrap) = (brokers[b].0, brokers[b].1.clone());
                n += 1;
                let topic = format!("data-dir-{}-{n}", std::process::id());
                rt.block_on(suite::create_topic(&bootstrap, &topic, args.partitions))?;
                let endpoint = Endpoint::plain(&bootstrap);
                let case = case(args.records, size);
                let p = producer::measure("ferrokafka", &endpoint, &topic, &case)?;
                let c = consumer::measure(
                    "ferrokafka-poll",
                    &endpoint,
                    &topic,
                    args.records,
                    args.partitions,
                    false,
                )?;
                let (pr, cr) = (
                    args.records as f64 / p.elapsed.as_secs_f64(),
                    args.records as f64 / c.elapsed.as_secs_f64(),
                );
                eprintln!(
                    "{name} {size} B run {}: produce {:.0} k/s, fetch {:.0} k/s",
                    run + 1,
                    pr / 1e3,
                    cr / 1e3
                );
                Rates::push(&mut rates[b].produce, size, pr);
                Rates::push(&mut rates[b].fetch, size, cr);
            }
        }
    }
    drop(kafka);
    drop(in_memory);

    // Memory with several GiB on disk.
    let fill_records = (args.fill_gib * f64::from(1u32 << 30) / 1024.0) as usize;
    let topic = format!("data-dir-fill-{}", std::process::id());
    rt.block_on(suite::create_topic(
        &mini.bootstrap,
        &topic,
        args.partitions,
    ))?;
    let endpoint = Endpoint::plain(&mini.bootstrap);
    let t = Instant::now();
    producer::measure("ferrokafka", &endpoint, &topic, &case(fill_records, 1024))?;
    let write_secs = t.elapsed().as_secs_f64();
    let after_write = memory(mini.pid())?;
    let on_disk = du(&dir);
    eprintln!(
        "after writing {:.1} GiB ({:.1} s): {:.1} MiB RSS",
        args.fill_gib,
        write_secs,
        mib(after_write.rss)
    );
    let t = Instant::now();
    consumer::measure(
        "ferrokafka-poll",
        &endpoint,
        &topic,
        fill_records,
        args.partitions,
        false,
    )?;
    let read_secs = t.elapsed().as_secs_f64();
    let after_read = memory(mini.pid())?;
    let peak = status_kib(mini.pid(), "VmHWM")?;
    drop(mini);

    let mut md = String::new();
    let _ = writeln!(md, "# The mini-broker with a data dir\n");
    let _ = writeln!(
        md,
        "`ferrokafka-perf data-dir{}` — {started} to {}, on {machine}.\n",
        if args.real_kafka { " --real-kafka" } else { "" },
        utc_now()
    );
    let _ = writeln!(
        md,
        "Each run produces {} records (ferrokafka producer, acks=1, linger.ms=5, batch.size=16384, \
         keyless) to a fresh {}-partition topic, then reads them back with a ferrokafka consumer \
         (`poll`, assigned partitions, from the start); the brokers take turns within a run (the \
         in-memory mini-broker runs too, for what the files cost). Medians of {} runs with their \
         range.\n",
        args.records, args.partitions, args.runs
    );
    let _ = writeln!(md, "## Ratios\n");
    let _ = writeln!(
        md,
        "| what | target | measured | verdict |\n|---|---:|---:|---|"
    );
    let verdict = |md: &mut String, what: String, target: &str, ok: Option<bool>, shown: String| {
        let v = match ok {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        let _ = writeln!(md, "| {what} | {target} | {shown} | {v} |");
    };
    for &size in &args.sizes {
        for (label, mini_rates, kafka_rates) in [
            (
                "produce",
                &rates[0].produce,
                rates.get(2).map(|r| &r.produce),
            ),
            ("fetch", &rates[0].fetch, rates.get(2).map(|r| &r.fetch)),
        ] {
            let m = spread(Rates::of(mini_rates, size)).median;
            let ratio = kafka_rates.map(|k| m / spread(Rates::of(k, size)).median);
            verdict(
                &mut md,
                format!("{label} msgs/s at {size} B, mini-broker --data-dir / Kafka"),
                "≥ 2×",
                ratio.map(|r| r >= 2.0),
                ratio.map_or("—".into(), |r| format!("{r:.2}×")),
            );
        }
    }
    verdict(
        &mut md,
        "idle RSS of the mini-broker with a data dir".into(),
        "≤ 10 MiB",
        Some(mib(idle.rss) <= 10.0),
        format!("{:.1} MiB", mib(idle.rss)),
    );
    verdict(
        &mut md,
        format!("RSS after writing {:.1} GiB", args.fill_gib),
        "≤ 64 MiB",
        Some(mib(after_write.rss) <= 64.0),
        format!("{:.1} MiB", mib(after_write.rss)),
    );
    let _ = writeln!(md, "\n## Throughput\n");
    let _ = writeln!(
        md,
        "| broker | record | produce records/s | fetch records/s |\n|---|---|---:|---:|"
    );
    for (b, (name, _)) in brokers.iter().enumerate() {
        for &size in &args.sizes {
            let p = spread(Rates::of(&rates[b].produce, size));
            let f = spread(Rates::of(&rates[b].fetch, size));
            let _ = writeln!(
                md,
                "| {name} | {size} B | {:.0} k ({:.0}–{:.0} k) | {:.0} k ({:.0}–{:.0} k) |",
                p.median / 1e3,
                p.min / 1e3,
                p.max / 1e3,
                f.median / 1e3,
                f.min / 1e3,
                f.max / 1e3
            );
        }
    }
    let _ = writeln!(md, "\n## Memory of the mini-broker\n");
    let _ = writeln!(
        md,
        "{:.1} GiB of 1 KiB records ({fill_records} records, {:.1} GiB in the data dir) written \
         in {write_secs:.1} s by a ferrokafka producer, then read back in {read_secs:.1} s by a \
         ferrokafka consumer. RSS is the process's resident memory: RssAnon is its heap and \
         stacks, RssFile the pages of its own binary (the broker maps none of its data: it \
         reads the segment files, so the page cache holding them is not in its RSS).\n",
        args.fill_gib,
        on_disk as f64 / f64::from(1u32 << 30)
    );
    let _ = writeln!(
        md,
        "| moment | RSS | RssAnon | RssFile |\n|---|---:|---:|---:|"
    );
    for (moment, m) in [
        ("idle, empty data dir", idle),
        ("after writing", after_write),
        ("after reading everything back", after_read),
    ] {
        let _ = writeln!(
            md,
            "| {moment} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            mib(m.rss),
            mib(m.anon),
            mib(m.file)
        );
    }
    let _ = writeln!(
        md,
        "\nPeak RSS over the whole run (VmHWM): {:.1} MiB.",
        mib(peak)
    );
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| crate::startup::repo().join("bench/results/data-dir.md"));
    std::fs::write(&path, md).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.display().to_string())
}

fn case(records: usize, size: usize) -> Case {
    Case {
        records,
        size,
        acks: "1".into(),
        batch_size: 16_384,
        linger_ms: 5,
        compression: "none".into(),
    }
}

/// Bytes of the files under `dir`.
fn du(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => du(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
