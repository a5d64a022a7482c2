//! `consume`: read records, as a group member or from assigned partitions.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use ferrokafka::admin::OffsetSpec;
use ferrokafka::{Admin, Consumer, ConsumerConfig, ConsumerRecord, TopicPartition};
use serde_json::json;

use crate::{apply, Context, Failure, Outcome};

/// `consume` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The topic.
    topic: String,
    /// Join this consumer group (commits as it goes); without it, the partitions are
    /// assigned and nothing is committed.
    #[arg(short, long)]
    group: Option<String>,
    /// Only this partition (not with --group).
    #[arg(short, long, conflicts_with = "group")]
    partition: Option<i32>,
    /// Where to start: beginning, end, an offset, or @TIMESTAMP_MS (the first record at or
    /// after it). With --group: beginning or end, for partitions without a committed offset.
    #[arg(short, long, default_value = "beginning")]
    from: String,
    /// Stop after this many records.
    #[arg(short = 'c', long)]
    count: Option<usize>,
    /// Stop at the end: the last offset of each partition when the command started.
    #[arg(short = 'e', long, conflicts_with = "group")]
    exit_at_end: bool,
    /// Output per record, kcat-style: %t topic, %p partition, %o offset, %k key, %s value,
    /// %T timestamp, %h headers (k=v,…), %% a percent sign; \n, \t escapes.
    #[arg(short = 'F', long, default_value = "%s\\n")]
    format: String,
    /// Stop when no record arrived for this long (with --count: exit 3, the count not
    /// reached).
    #[arg(long, value_name = "MS")]
    idle_timeout_ms: Option<u64>,
}

/// Where assigned partitions start.
enum From {
    Beginning,
    End,
    Offset(i64),
    Time(i64),
}

fn parse_from(s: &str) -> Result<From, Failure> {
    match s {
        "beginning" | "earliest" => Ok(From::Beginning),
        "end" | "latest" => Ok(From::End),
        _ => if let Some(ts) = s.strip_prefix('@') {
            ts.parse().map(From::Time)
        } else {
            s.parse().map(From::Offset)
        }
        .map_err(|_| {
            Failure::Usage(format!(
                "--from {s}: expected beginning, end, an offset or @TIMESTAMP_MS"
            ))
        }),
    }
}

pub(crate) async fn run(ctx: &Context, args: Args) -> Outcome {
    let from = parse_from(&args.from)?;
    let mut config =
        ConsumerConfig::new(&ctx.bootstrap).map_err(|e| Failure::Usage(e.to_string()))?;
    let reset = match from {
        From::End => "latest",
        _ => "earliest",
    };
    config
        .set("auto.offset.reset", reset)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(group) = &args.group {
        config
            .set("group.id", group)
            .map_err(|e| Failure::Usage(e.to_string()))?;
    }
    apply(&mut config, &ctx.settings, |c, k, v| c.set(k, v).map(drop))?;
    let mut consumer = Consumer::new(config).await?;
    let mut ends: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    if args.group.is_some() {
        consumer
            .subscribe([args.topic.clone()])
            .map_err(Failure::Error)?;
    } else {
        let admin = Admin::new(consumer.client().clone());
        let described = admin.describe_topics(&[&args.topic]).await?;
        let topic = match described.into_iter().next() {
            Some((_, Ok(t))) => t,
            Some((name, Err(err))) => {
                eprintln!("ferrokafka: {name}: {err}");
                return Err(Failure::Refused);
            }
            None => return Err(Failure::Refused),
        };
        let partitions: Vec<TopicPartition> = topic
            .partitions
            .iter()
            .map(|p| p.partition)
            .filter(|p| args.partition.is_none_or(|only| only == *p))
            .map(|partition| TopicPartition {
                topic: args.topic.clone(),
                partition,
            })
            .collect();
        if partitions.is_empty() {
            return Err(Failure::Usage(format!(
                "{} has no partition {}",
                args.topic,
                args.partition.unwrap_or(-1)
            )));
        }
        consumer
            .assign(partitions.clone())
            .map_err(Failure::Error)?;
        match from {
            From::Beginning => consumer.seek_to_beginning(&partitions)?,
            From::End => consumer.seek_to_end(&partitions)?,
            From::Offset(o) => {
                for tp in &partitions {
                    consumer.seek(tp, o)?;
                }
            }
            From::Time(ts) => {
                let times: Vec<_> = partitions.iter().map(|tp| (tp.clone(), ts)).collect();
                for (tp, found) in consumer.offsets_for_times(&times).await? {
                    match found {
                        Some((offset, _)) => consumer.seek(&tp, offset)?,
                        None => consumer.seek_to_end(std::slice::from_ref(&tp))?,
                    }
                }
            }
        }
        if args.exit_at_end {
            let specs: Vec<_> = partitions
                .iter()
                .map(|tp| (tp.clone(), OffsetSpec::Latest))
                .collect();
            for (tp, result) in admin.list_offsets(&specs).await? {
                ends.insert(tp, result?.offset);
            }
        }
    }
    let outcome = read(ctx, &args, &mut consumer, &mut ends).await;
    let closed = consumer.close().await;
    outcome?;
    closed.map_err(Failure::Error)
}

async fn read(
    ctx: &Context,
    args: &Args,
    consumer: &mut Consumer,
    ends: &mut BTreeMap<TopicPartition, i64>,
) -> Outcome {
    let format = unescape(&args.format);
    let mut out = std::io::stdout().lock();
    let mut seen = 0usize;
    let idle = args.idle_timeout_ms.map(Duration::from_millis);
    let mut last = Instant::now();
    // A partition is done once its last record (as of the start) was read (its end set to
    // 0), or its position is at the high watermark (nothing was there to read).
    let at_end = |ends: &BTreeMap<TopicPartition, i64>, consumer: &Consumer| {
        ends.iter()
            .all(|(tp, end)| *end == 0 || consumer.lag(tp) == Some(0))
    };
    if args.exit_at_end && ends.values().all(|end| *end == 0) {
        return Ok(());
    }
    loop {
        if args.count.is_some_and(|n| seen >= n) {
            return Ok(());
        }
        let records = consumer.poll(Duration::from_millis(200)).await?;
        if records.is_empty() {
            if idle.is_some_and(|idle| last.elapsed() >= idle) {
                if args.count.is_some() {
                    eprintln!(
                        "ferrokafka: {seen} of {} records before the idle timeout",
                        args.count.unwrap_or(0)
                    );
                    return Err(Failure::Error(ferrokafka::Error::Timeout {
                        operation: "consume".into(),
                        after: last.elapsed(),
                        last_error: None,
                    }));
                }
                return Ok(());
            }
            if args.exit_at_end && at_end(ends, consumer) {
                return Ok(());
            }
            continue;
        }
        last = Instant::now();
        for record in records {
            let tp = TopicPartition {
                topic: record.topic.to_string(),
                partition: record.partition,
            };
            if let Some(end) = ends.get(&tp) {
                if record.offset >= *end {
                    continue;
                }
            }
            let line = if ctx.json {
                let mut l = json_record(&record).to_string();
                l.push('\n');
                l
            } else {
                render(&format, &record)
            };
            if out.write_all(line.as_bytes()).is_err() {
                // The reader went away (a closed pipe): stop quietly.
                return Ok(());
            }
            seen += 1;
            if args.count.is_some_and(|n| seen >= n) {
                break;
            }
            if ends.get(&tp).is_some_and(|end| record.offset + 1 >= *end) {
                ends.insert(tp, 0);
            }
        }
        let _ = out.flush();
        if args.exit_at_end && ends.values().all(|end| *end == 0) {
            return Ok(());
        }
    }
}

fn unescape(format: &str) -> String {
    format.replace("\\n", "\n").replace("\\t", "\t")
}

fn text(bytes: Option<&bytes::Bytes>) -> String {
    bytes.map_or_else(String::new, |b| String::from_utf8_lossy(b).into_owned())
}

/// One record in a kcat-style format.
fn render(format: &str, r: &ConsumerRecord) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push_str(&r.topic),
            Some('p') => {
                let _ = write!(out, "{}", r.partition);
            }
            Some('o') => {
                let _ = write!(out, "{}", r.offset);
            }
            Some('k') => out.push_str(&text(r.key.as_ref())),
            Some('s') => out.push_str(&text(r.value.as_ref())),
            Some('T') => {
                let _ = write!(out, "{}", r.timestamp);
            }
            Some('h') => {
                let headers: Vec<String> = r
                    .headers
                    .iter()
                    .map(|h| format!("{}={}", h.key, text(h.value.as_ref())))
                    .collect();
                out.push_str(&headers.join(","));
            }
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn json_record(r: &ConsumerRecord) -> serde_json::Value {
    json!({
        "topic": &*r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "key": r.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
        "value": r.value.as_ref().map(|v| String::from_utf8_lossy(v).into_owned()),
        "headers": r.headers.iter().map(|h| json!([h.key, h.value.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())])).collect::<Vec<_>>(),
    })
}
