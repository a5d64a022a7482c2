//! `produce`: one record per line of stdin or a file.

use std::io::BufRead;
use std::path::PathBuf;

use ferrokafka::{Producer, ProducerConfig, ProducerRecord};
use serde_json::json;

use crate::{apply, Context, Failure, Outcome};

/// `produce` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The topic.
    topic: String,
    /// Read the lines from this file instead of stdin.
    #[arg(short, long)]
    file: Option<PathBuf>,
    /// Split each line at the first SEP into key and value (no SEP in a line: no key).
    #[arg(short = 'K', long, value_name = "SEP")]
    key_separator: Option<String>,
    /// A header KEY=VALUE on every record; repeatable.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = crate::setting)]
    headers: Vec<(String, String)>,
    /// Write to this partition (default: the partitioner: by key, else sticky).
    #[arg(short, long)]
    partition: Option<i32>,
    /// `acks`: 0, 1 or all.
    #[arg(long)]
    acks: Option<String>,
    /// `compression.type`: none, gzip, snappy, lz4, zstd.
    #[arg(long)]
    compression: Option<String>,
}

pub(crate) async fn run(ctx: &Context, args: Args) -> Outcome {
    let mut config =
        ProducerConfig::new(&ctx.bootstrap).map_err(|e| Failure::Usage(e.to_string()))?;
    apply(&mut config, &ctx.settings, |c, k, v| c.set(k, v).map(drop))?;
    let own = [
        ("acks", &args.acks),
        ("compression.type", &args.compression),
    ];
    for (key, value) in own {
        if let Some(v) = value {
            config
                .set(key, v)
                .map_err(|e| Failure::Usage(e.to_string()))?;
        }
    }
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path)
                .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let producer = Producer::connect(config).await?;
    let mut pending = Vec::new();
    let mut read_error = None;
    for line in input.lines() {
        let line = match line {
            Ok(line) => line,
            Err(err) => {
                read_error = Some(err);
                break;
            }
        };
        let mut record = ProducerRecord::new(args.topic.clone());
        let value = match args
            .key_separator
            .as_deref()
            .and_then(|sep| line.split_once(sep))
        {
            Some((key, value)) => {
                record = record.key(key.to_owned());
                value.to_owned()
            }
            None => line,
        };
        record = record.value(value);
        for (k, v) in &args.headers {
            record = record.header(k.clone(), v.clone());
        }
        if let Some(p) = args.partition {
            record = record.partition(p);
        }
        pending.push(producer.send(record).await?);
    }
    let mut delivered = 0usize;
    let mut failed = 0usize;
    for future in pending {
        match future.await {
            Ok(_) => delivered += 1,
            Err(err) => {
                if failed == 0 {
                    eprintln!("ferrokafka: a record was not delivered: {err}");
                }
                failed += 1;
            }
        }
    }
    producer.close().await?;
    if ctx.json {
        println!("{}", json!({"delivered": delivered, "failed": failed}));
    } else {
        eprintln!("delivered {delivered} records to {}", args.topic);
    }
    if let Some(err) = read_error {
        return Err(Failure::Usage(format!("reading the input: {err}")));
    }
    if failed > 0 {
        eprintln!("ferrokafka: {failed} records were not delivered");
        return Err(Failure::Refused);
    }
    Ok(())
}
