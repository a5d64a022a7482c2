//! `groups`: list, describe with lag, delete, reset offsets.

use std::collections::BTreeMap;

use clap::Subcommand;
use ferrokafka::admin::OffsetSpec;
use ferrokafka::{Admin, TopicPartition};
use serde_json::json;

use crate::output::{emit, failures, result_json};
use crate::{Context, Failure, Outcome};

#[derive(Debug, Subcommand)]
pub(crate) enum Groups {
    /// Every group on every broker, with its state.
    List,
    /// Members, and per partition the committed offset, the end and the lag.
    Describe {
        /// Group ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete empty groups (and their offsets).
    Delete {
        /// Group ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Move a group's committed offsets for a topic's partitions; shows the plan unless
    /// --execute (as kafka-consumer-groups.sh). The group must have no active members.
    ResetOffsets {
        /// The group.
        id: String,
        /// The topic whose partitions to move.
        #[arg(long)]
        topic: String,
        /// Where to: earliest, latest, an offset, or @TIMESTAMP_MS.
        #[arg(long)]
        to: String,
        /// Commit the new offsets (without it: only print them).
        #[arg(long)]
        execute: bool,
    },
}

pub(crate) async fn run(ctx: &Context, cmd: Groups) -> Outcome {
    let admin = Admin::connect(ctx.client_config()?).await?;
    let outcome = match cmd {
        Groups::List => {
            let groups = admin.list_groups().await?;
            let rows: Vec<Vec<String>> = groups
                .iter()
                .map(|g| {
                    vec![
                        g.group_id.clone(),
                        g.state.clone().unwrap_or_else(|| "-".into()),
                        g.protocol_type.clone(),
                    ]
                })
                .collect();
            let doc = json!(groups
                .iter()
                .map(|g| json!({"group": g.group_id, "state": g.state, "protocol_type": g.protocol_type}))
                .collect::<Vec<_>>());
            emit(ctx.json, &["GROUP", "STATE", "TYPE"], &rows, doc);
            Ok(())
        }
        Groups::Describe { ids } => describe(ctx, &admin, &ids).await,
        Groups::Delete { ids } => {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let results = admin.delete_groups(&refs).await?;
            if ctx.json {
                let doc: serde_json::Map<_, _> = results
                    .iter()
                    .map(|(g, r)| (g.clone(), result_json(r)))
                    .collect();
                println!("{}", serde_json::Value::Object(doc));
            } else {
                for (g, r) in &results {
                    if r.is_ok() {
                        println!("deleted {g}");
                    }
                }
            }
            failures(results.iter().map(|(g, r)| (g.clone(), r)))
        }
        Groups::ResetOffsets {
            id,
            topic,
            to,
            execute,
        } => reset(ctx, &admin, &id, &topic, &to, execute).await,
    };
    admin.close().await;
    outcome
}

async fn describe(ctx: &Context, admin: &Admin, ids: &[String]) -> Outcome {
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let described = admin.describe_groups(&refs).await?;
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    for (id, result) in &described {
        let Ok(group) = result else { continue };
        let committed = admin.list_group_offsets(id).await?;
        let specs: Vec<_> = committed
            .keys()
            .map(|tp| (tp.clone(), OffsetSpec::Latest))
            .collect();
        let ends: BTreeMap<TopicPartition, i64> = admin
            .list_offsets(&specs)
            .await?
            .into_iter()
            .filter_map(|(tp, r)| Some((tp, r.ok()?.offset)))
            .collect();
        let owner = |tp: &TopicPartition| {
            group
                .members
                .iter()
                .find(|m| m.assignment.contains(tp))
                .map_or("-".to_owned(), |m| m.member_id.clone())
        };
        let mut partitions = Vec::new();
        for (tp, offset) in &committed {
            let end = ends.get(tp).copied();
            let lag = end.map(|e| (e - offset).max(0));
            rows.push(vec![
                id.clone(),
                tp.topic.clone(),
                tp.partition.to_string(),
                offset.to_string(),
                end.map_or("-".into(), |e| e.to_string()),
                lag.map_or("-".into(), |l| l.to_string()),
                owner(tp),
            ]);
            partitions.push(json!({"topic": tp.topic, "partition": tp.partition, "committed": offset, "end": end, "lag": lag, "member": owner(tp)}));
        }
        docs.push(json!({
            "group": id,
            "state": group.state,
            "protocol": group.protocol,
            "members": group.members.iter().map(|m| json!({
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.client_host,
                "assignment": m.assignment.iter().map(|tp| format!("{}/{}", tp.topic, tp.partition)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "offsets": partitions,
        }));
        if !ctx.json {
            println!(
                "{id}: {} ({} members, protocol {})",
                group.state,
                group.members.len(),
                if group.protocol.is_empty() {
                    "-"
                } else {
                    &group.protocol
                }
            );
        }
    }
    emit(
        ctx.json,
        &[
            "GROUP",
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "END",
            "LAG",
            "MEMBER",
        ],
        &rows,
        json!(docs),
    );
    failures(described.iter().map(|(g, r)| (g.clone(), r)))
}

async fn reset(
    ctx: &Context,
    admin: &Admin,
    id: &str,
    topic: &str,
    to: &str,
    execute: bool,
) -> Outcome {
    let spec = match to {
        "earliest" | "beginning" => None,
        "latest" | "end" => Some(OffsetSpec::Latest),
        _ => match to.strip_prefix('@') {
            Some(ts) => Some(OffsetSpec::Timestamp(ts.parse().map_err(|_| {
                Failure::Usage(format!("--to {to}: not a timestamp in milliseconds"))
            })?)),
            None => {
                let offset: i64 = to.parse().map_err(|_| {
                    Failure::Usage(format!(
                        "--to {to}: expected earliest, latest, an offset or @TIMESTAMP_MS"
                    ))
                })?;
                return plan(ctx, admin, id, topic, |_| Ok(offset), execute).await;
            }
        },
    };
    let described = admin.describe_topics(&[topic]).await?;
    let partitions: Vec<TopicPartition> = match described.into_iter().next() {
        Some((_, Ok(t))) => t
            .partitions
            .iter()
            .map(|p| TopicPartition {
                topic: topic.to_owned(),
                partition: p.partition,
            })
            .collect(),
        Some((name, Err(err))) => {
            eprintln!("ferrokafka: {name}: {err}");
            return Err(Failure::Refused);
        }
        None => return Err(Failure::Refused),
    };
    let spec = spec.unwrap_or(OffsetSpec::Earliest);
    let specs: Vec<_> = partitions.iter().map(|tp| (tp.clone(), spec)).collect();
    let mut found: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut latest_for_missing = Vec::new();
    for (tp, result) in admin.list_offsets(&specs).await? {
        match result {
            Ok(l) => {
                found.insert(tp, l.offset);
            }
            // No record that recent: the end, as kafka-consumer-groups.sh does.
            Err(err) if err.code() == Some(ferrokafka::ErrorCode::OFFSET_NOT_AVAILABLE) => {
                latest_for_missing.push((tp, OffsetSpec::Latest));
            }
            Err(err) => return Err(Failure::Error(err)),
        }
    }
    for (tp, result) in admin.list_offsets(&latest_for_missing).await? {
        found.insert(tp, result?.offset);
    }
    plan(
        ctx,
        admin,
        id,
        topic,
        |tp| found.get(tp).copied().ok_or(Failure::Refused),
        execute,
    )
    .await
}

/// Prints the new offsets for every partition of `topic`, and commits them with `execute`.
async fn plan(
    ctx: &Context,
    admin: &Admin,
    id: &str,
    topic: &str,
    offset_of: impl Fn(&TopicPartition) -> Result<i64, Failure>,
    execute: bool,
) -> Outcome {
    let described = admin.describe_topics(&[topic]).await?;
    let Some((_, Ok(t))) = described.into_iter().next() else {
        eprintln!("ferrokafka: {topic}: no such topic");
        return Err(Failure::Refused);
    };
    let mut offsets = Vec::new();
    for p in &t.partitions {
        let tp = TopicPartition {
            topic: topic.to_owned(),
            partition: p.partition,
        };
        let offset = offset_of(&tp)?;
        offsets.push((tp, offset));
    }
    let rows: Vec<Vec<String>> = offsets
        .iter()
        .map(|(tp, o)| {
            vec![
                id.to_owned(),
                tp.topic.clone(),
                tp.partition.to_string(),
                o.to_string(),
            ]
        })
        .collect();
    let doc = json!({
        "group": id,
        "executed": execute,
        "offsets": offsets.iter().map(|(tp, o)| json!({"topic": tp.topic, "partition": tp.partition, "offset": o})).collect::<Vec<_>>(),
    });
    emit(
        ctx.json,
        &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
        &rows,
        doc,
    );
    if execute {
        admin.alter_group_offsets(id, &offsets).await?;
    } else if !ctx.json {
        eprintln!("(dry run: add --execute to commit these offsets)");
    }
    Ok(())
}
