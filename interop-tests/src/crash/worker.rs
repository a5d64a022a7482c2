//! `crash-consumer`: the process the crash harness kills. It joins a group as a static member
//! and processes records with `AtLeastOnce` or `AtMostOnce`, one record at a time
//! (`at-least-once`, `at-most-once`) or per poll batch (`at-least-once-batch`,
//! `at-most-once-batch`, committing after every batch); processing a record appends
//! `partition offset` to `--out` in one `write` call. In the batch modes the handler also
//! works on each batch for `--batch-work-ms` (default 0), where a kill hurts most: after the
//! side effect under at-least-once (done, not yet committed: it must come again) and before
//! it under at-most-once (committed, not yet done: it must not). With `--until-idle-ms` it exits cleanly once no record came for that
//! long; without, it runs until killed.

use std::io::Write;
use std::time::Duration;

use ferrokafka::{
    AtLeastOnce, AtMostOnce, AutoOffsetReset, Batches, ClientConfig, Consumer, ConsumerConfig,
    ConsumerRecord,
};

struct Args {
    bootstrap: String,
    topic: String,
    group: String,
    semantics: String,
    out: std::path::PathBuf,
    until_idle: Option<Duration>,
    batch_work: Duration,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        group: String::new(),
        semantics: String::new(),
        out: std::path::PathBuf::new(),
        until_idle: None,
        batch_work: Duration::ZERO,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = value,
            "--topic" => a.topic = value,
            "--group" => a.group = value,
            "--semantics" => a.semantics = value,
            "--out" => a.out = value.into(),
            "--batch-work-ms" => {
                a.batch_work =
                    Duration::from_millis(value.parse().map_err(|_| format!("bad {flag} {value}"))?)
            }
            "--until-idle-ms" => {
                a.until_idle = Some(Duration::from_millis(
                    value.parse().map_err(|_| format!("bad {flag} {value}"))?,
                ))
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

/// The side effect: one line, one `write` call, so a kill cannot tear it.
fn process(out: &mut std::fs::File, record: &ConsumerRecord) -> Result<(), std::io::Error> {
    let line = format!("{} {}\n", record.partition, record.offset);
    out.write_all(line.as_bytes())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("crash-consumer: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let a = args()?;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.out)
        .map_err(|e| format!("{}: {e}", a.out.display()))?;
    let config = ConsumerConfig::builder()
        .client(ClientConfig::new(&a.bootstrap).map_err(|e| e.to_string())?)
        .group_id(&a.group)
        // Static: a restarted process takes the killed one's place at once.
        .group_instance_id("crash-worker")
        .enable_auto_commit(false)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        // Kafka's (and the mini-broker's) minimum; a restart replaces the static member at once.
        .session_timeout(Duration::from_millis(6_000))
        .heartbeat_interval(Duration::from_millis(200))
        .fetch_max_wait(Duration::from_millis(50))
        .max_partition_fetch_bytes(2_048)
        // Small batches, so that the batch modes take many of them to drain the topic and
        // kills land between them rather than after the first worker drained it all.
        .max_poll_records(50)
        .build()
        .map_err(|e| e.to_string())?;
    let mut consumer = Consumer::new(config).await.map_err(|e| e.to_string())?;
    consumer
        .subscribe([a.topic.as_str()])
        .map_err(|e| e.to_string())?;
    let mut at_least_once = Batches::new(AtLeastOnce);
    let mut at_most_once = Batches::new(AtMostOnce);
    let work = a.batch_work;
    let write_then_work = |records: Vec<ConsumerRecord>, out: &mut std::fs::File| {
        let result = records.iter().try_for_each(|r| process(out, r));
        async move {
            tokio::time::sleep(work).await;
            result
        }
    };
    let work_then_write = |records: Vec<ConsumerRecord>, out: &mut std::fs::File| {
        let mut out = out.try_clone();
        async move {
            tokio::time::sleep(work).await;
            let out = out
                .as_mut()
                .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))?;
            records.iter().try_for_each(|r| process(out, r))
        }
    };
    loop {
        if let Some(idle) = a.until_idle {
            // Drained once nothing came for `idle`; `process_one` then never starts, so no
            // handler or commit is cut short.
            if !consumer.wait_ready(idle).await.map_err(|e| e.to_string())? {
                break;
            }
        }
        let done = match a.semantics.as_str() {
            "at-least-once" => consumer
                .process_one(AtLeastOnce, |r| {
                    let result = process(&mut out, &r);
                    async move { result }
                })
                .await
                .map(drop),
            "at-most-once" => consumer
                .process_one(AtMostOnce, |r| {
                    let result = process(&mut out, &r);
                    async move { result }
                })
                .await
                .map(drop),
            "at-least-once-batch" => consumer
                .process_batch(&mut at_least_once, |records| {
                    write_then_work(records, &mut out)
                })
                .await
                .map(drop),
            "at-most-once-batch" => consumer
                .process_batch(&mut at_most_once, |records| {
                    work_then_write(records, &mut out)
                })
                .await
                .map(drop),
            other => return Err(format!("unknown semantics {other}")),
        };
        done.map_err(|e| e.to_string())?;
    }
    at_least_once
        .commit_pending(&consumer)
        .await
        .map_err(|e| e.to_string())?;
    consumer.close().await.map_err(|e| e.to_string())
}
