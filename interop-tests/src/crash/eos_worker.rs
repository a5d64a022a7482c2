//! `eos-pipeline`: the process the exactly-once crash test kills. It reads `--input` in a
//! group (static member, `read_committed`) and, with `ExactlyOnce`, writes `out-<id>` to
//! `--output` for every input `record-<id>`, one transaction per poll batch. With
//! `--until-idle-ms` it exits cleanly once no record came for that long; without, it runs
//! until killed. `--transaction-timeout-ms` (default 10000: a killed worker's transaction is
//! aborted soon) is `transaction.timeout.ms`.

use std::time::Duration;

use ferrokafka::{
    AutoOffsetReset, ClientConfig, Consumer, ConsumerConfig, ExactlyOnce, IsolationLevel,
    ProducerConfig, ProducerRecord, TransactionalProducer,
};

#[derive(Default)]
struct Args {
    bootstrap: String,
    input: String,
    output: String,
    name: String,
    until_idle: Option<Duration>,
    transaction_timeout_ms: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args::default();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = value,
            "--input" => a.input = value,
            "--output" => a.output = value,
            "--name" => a.name = value,
            "--until-idle-ms" => {
                a.until_idle = Some(Duration::from_millis(
                    value.parse().map_err(|_| format!("bad {flag} {value}"))?,
                ))
            }
            "--transaction-timeout-ms" => a.transaction_timeout_ms = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("eos-pipeline: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let a = args()?;
    let err = |e: ferrokafka::Error| e.to_string();
    let mut producer_config = ProducerConfig::new(&a.bootstrap).map_err(err)?;
    producer_config
        .set("transactional.id", &format!("{}-txn", a.name))
        .and_then(|c| {
            let timeout = a.transaction_timeout_ms.as_deref().unwrap_or("10000");
            c.set("transaction.timeout.ms", timeout)
        })
        // Every output goes out as it is sent, so a kill between the outputs and the commit
        // leaves written but uncommitted records behind: the case that must stay invisible.
        .and_then(|c| c.set("batch.size", "0"))
        .map_err(err)?;
    let mut producer = TransactionalProducer::connect(producer_config)
        .await
        .map_err(|e| e.to_string())?;
    let config = ConsumerConfig::builder()
        .client(ClientConfig::new(&a.bootstrap).map_err(err)?)
        .group_id(format!("{}-group", a.name))
        .group_instance_id("eos-worker")
        .enable_auto_commit(false)
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(Duration::from_millis(6_000))
        .heartbeat_interval(Duration::from_millis(200))
        .fetch_max_wait(Duration::from_millis(50))
        .max_poll_records(10)
        .build()
        .map_err(err)?;
    let mut consumer = Consumer::new(config).await.map_err(err)?;
    consumer.subscribe([a.input.as_str()]).map_err(err)?;
    let mut eos = ExactlyOnce::new(&mut producer);
    let output = a.output.clone();
    loop {
        if let Some(idle) = a.until_idle {
            if !consumer.wait_ready(idle).await.map_err(err)? {
                break;
            }
        }
        let result = consumer
            .process_exactly_once_batch(&mut eos, |r| {
                let value =
                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
                let out = value.strip_prefix("record-").map(|id| {
                    ProducerRecord::new(output.clone())
                        .key(id.to_owned())
                        .value(format!("out-{id}"))
                });
                async move { out.map(|o| vec![o]).ok_or(format!("bad input {value:?}")) }
            })
            .await;
        match result {
            Ok(_) => {}
            // Aborted and rewound: the batch comes again. Fatal (fenced): stop.
            Err(ferrokafka::ProcessError::Transaction(e)) if !e.is_fatal() => {
                eprintln!("eos-pipeline: batch aborted, retrying: {e}");
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    producer.close().await.map_err(|e| e.to_string())?;
    consumer.close().await.map_err(err)
}
