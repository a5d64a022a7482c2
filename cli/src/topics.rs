//! `topics` and `offsets`.

use clap::Subcommand;
use ferrokafka::admin::{AlterConfigOp, ConfigResource, OffsetSpec};
use ferrokafka::{Admin, NewTopic, TopicPartition};
use serde_json::json;

use crate::output::{emit, failures, result_json};
use crate::{Context, Failure, Outcome};

#[derive(Debug, Subcommand)]
pub(crate) enum Topics {
    /// Every topic with its partition count (internal topics with `--internal`).
    List {
        /// Also list internal topics (`__consumer_offsets`, …).
        #[arg(long)]
        internal: bool,
    },
    /// Create topics.
    Create {
        /// Topic names.
        #[arg(required = true)]
        names: Vec<String>,
        /// Partitions (default: the broker's `num.partitions`).
        #[arg(short, long)]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's).
        #[arg(short, long)]
        replication_factor: Option<i16>,
        /// A topic config, KEY=VALUE; repeatable.
        #[arg(short, long = "config", value_name = "KEY=VALUE", value_parser = crate::setting)]
        configs: Vec<(String, String)>,
    },
    /// Partitions, leaders, replicas and configs set on the topics.
    Describe {
        /// Topic names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Delete topics.
    Delete {
        /// Topic names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Change a topic's configs (IncrementalAlterConfigs).
    AlterConfig {
        /// The topic.
        name: String,
        /// Set KEY=VALUE; repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = crate::setting)]
        set: Vec<(String, String)>,
        /// Remove KEY's setting (back to the default); repeatable.
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
}

/// `offsets` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct OffsetsArgs {
    /// Topic names.
    #[arg(required = true)]
    topics: Vec<String>,
}

pub(crate) async fn run(ctx: &Context, cmd: Topics) -> Outcome {
    let admin = Admin::connect(ctx.client_config()?).await?;
    let outcome = match cmd {
        Topics::List { internal } => list(ctx, &admin, internal).await,
        Topics::Create {
            names,
            partitions,
            replication_factor,
            configs,
        } => {
            let topics: Vec<NewTopic> = names
                .iter()
                .map(|n| {
                    let mut t = NewTopic::new(n.clone());
                    if let Some(p) = partitions {
                        t = t.partitions(p);
                    }
                    if let Some(r) = replication_factor {
                        t = t.replication_factor(r);
                    }
                    for (k, v) in &configs {
                        t = t.config(k.clone(), v.clone());
                    }
                    t
                })
                .collect();
            let results = admin.create_topics(&topics).await?;
            per_topic(ctx, "created", &results)
        }
        Topics::Describe { names } => describe(ctx, &admin, &names).await,
        Topics::Delete { names } => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let results = admin.delete_topics(&refs).await?;
            per_topic(ctx, "deleted", &results)
        }
        Topics::AlterConfig { name, set, delete } => {
            if set.is_empty() && delete.is_empty() {
                return Err(Failure::Usage(
                    "alter-config needs --set or --delete".into(),
                ));
            }
            let ops: Vec<AlterConfigOp> = set
                .into_iter()
                .map(|(k, v)| AlterConfigOp::Set(k, v))
                .chain(delete.into_iter().map(AlterConfigOp::Delete))
                .collect();
            let results = admin
                .incremental_alter_configs(&[(ConfigResource::Topic(name.clone()), ops)])
                .await?;
            let named: Vec<(String, Result<(), ferrokafka::Error>)> = results
                .into_iter()
                .map(|(_, r)| (name.clone(), r))
                .collect();
            per_topic(ctx, "altered", &named)
        }
    };
    admin.close().await;
    outcome
}

/// Prints per-topic outcomes (`created`, `deleted`, …) and fails if any topic failed.
fn per_topic(
    ctx: &Context,
    done: &str,
    results: &[(String, Result<(), ferrokafka::Error>)],
) -> Outcome {
    if ctx.json {
        let doc: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|(t, r)| (t.clone(), result_json(r)))
            .collect();
        println!("{}", serde_json::Value::Object(doc));
    } else {
        for (t, r) in results {
            if r.is_ok() {
                println!("{done} {t}");
            }
        }
    }
    failures(results.iter().map(|(t, r)| (t.clone(), r)))
}

async fn list(ctx: &Context, admin: &Admin, internal: bool) -> Outcome {
    let cluster = admin.client().metadata(&[]).await?;
    let topics: Vec<_> = cluster
        .topics
        .values()
        .filter(|t| internal || !t.is_internal)
        .collect();
    let rows: Vec<Vec<String>> = topics
        .iter()
        .map(|t| vec![t.name.clone(), t.partitions.len().to_string()])
        .collect();
    let doc = json!(topics
        .iter()
        .map(
            |t| json!({"name": t.name, "partitions": t.partitions.len(), "internal": t.is_internal})
        )
        .collect::<Vec<_>>());
    emit(ctx.json, &["TOPIC", "PARTITIONS"], &rows, doc);
    Ok(())
}

async fn describe(ctx: &Context, admin: &Admin, names: &[String]) -> Outcome {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let described = admin.describe_topics(&refs).await?;
    let resources: Vec<ConfigResource> = described
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(n, _)| ConfigResource::Topic(n.clone()))
        .collect();
    let configs = admin.describe_configs(&resources).await?;
    let set_configs = |name: &str| -> Vec<(String, String)> {
        configs
            .iter()
            .find(|(r, _)| *r == ConfigResource::Topic(name.to_owned()))
            .and_then(|(_, r)| r.as_ref().ok())
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| !e.is_default)
                    .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    for (name, result) in &described {
        let Ok(d) = result else { continue };
        let set = set_configs(name);
        for p in &d.partitions {
            rows.push(vec![
                name.clone(),
                p.partition.to_string(),
                p.leader.map_or("-".into(), |l| l.to_string()),
                join(&p.replicas),
                join(&p.isr),
            ]);
        }
        docs.push(json!({
            "name": name,
            "id": d.id.to_string(),
            "internal": d.internal,
            "partitions": d.partitions.iter().map(|p| json!({
                "partition": p.partition,
                "leader": p.leader,
                "replicas": p.replicas,
                "isr": p.isr,
            })).collect::<Vec<_>>(),
            "configs": set.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    emit(
        ctx.json,
        &["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR"],
        &rows,
        json!(docs),
    );
    if !ctx.json {
        for (name, _) in described.iter().filter(|(_, r)| r.is_ok()) {
            for (k, v) in set_configs(name) {
                println!("{name}: {k}={v}");
            }
        }
    }
    failures(described.iter().map(|(n, r)| (n.clone(), r)))
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// `offsets`: earliest and latest offset per partition.
pub(crate) async fn offsets(ctx: &Context, args: OffsetsArgs) -> Outcome {
    let admin = Admin::connect(ctx.client_config()?).await?;
    let refs: Vec<&str> = args.topics.iter().map(String::as_str).collect();
    let described = admin.describe_topics(&refs).await?;
    let partitions: Vec<TopicPartition> = described
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flat_map(|d| {
            d.partitions.iter().map(|p| TopicPartition {
                topic: d.name.clone(),
                partition: p.partition,
            })
        })
        .collect();
    let specs = |spec: OffsetSpec| -> Vec<(TopicPartition, OffsetSpec)> {
        partitions.iter().map(|tp| (tp.clone(), spec)).collect()
    };
    let earliest = admin.list_offsets(&specs(OffsetSpec::Earliest)).await?;
    let latest = admin.list_offsets(&specs(OffsetSpec::Latest)).await?;
    admin.close().await;
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    for ((tp, low), (_, high)) in earliest.iter().zip(&latest) {
        let (Ok(low), Ok(high)) = (low, high) else {
            continue;
        };
        rows.push(vec![
            tp.topic.clone(),
            tp.partition.to_string(),
            low.offset.to_string(),
            high.offset.to_string(),
        ]);
        docs.push(json!({"topic": tp.topic, "partition": tp.partition, "earliest": low.offset, "latest": high.offset}));
    }
    emit(
        ctx.json,
        &["TOPIC", "PARTITION", "EARLIEST", "LATEST"],
        &rows,
        json!(docs),
    );
    let listed = earliest
        .iter()
        .chain(&latest)
        .map(|(tp, r)| (format!("{}/{}", tp.topic, tp.partition), r));
    failures(described.iter().map(|(n, r)| (n.clone(), r)))?;
    failures(listed)
}
