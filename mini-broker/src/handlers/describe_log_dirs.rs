//! DescribeLogDirs (key 35), versions 1–4.
//!
//! The broker keeps its logs in memory; it reports them as one log directory named
//! `memory`, each partition's size being the record bytes it holds, offset lag 0 and no future
//! replica. Total and usable bytes (v4) are -1 (unknown), as Kafka reports for a directory it
//! cannot measure. Null topics mean every partition; partitions that do not exist are left
//! out, as Kafka leaves out what a directory does not hold.

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::state::BrokerState;

/// The name of the one (in-memory) log directory.
pub const LOG_DIR: &str = "memory";

pub(super) fn handle(state: &BrokerState, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let topics = state.topics();
    let wanted: Vec<(String, Option<Vec<i32>>)> = match req.topics {
        Some(list) => list
            .into_iter()
            .map(|t| (t.topic.0.to_string(), Some(t.partitions)))
            .collect(),
        None => topics.keys().map(|name| (name.clone(), None)).collect(),
    };
    let described = wanted
        .into_iter()
        .filter_map(|(name, partitions)| {
            let topic = topics.get(&name)?;
            let indexes: Vec<i32> = match partitions {
                Some(p) => p,
                None => (0..).take(topic.partitions.len()).collect(),
            };
            let partitions: Vec<DescribeLogDirsPartition> = indexes
                .into_iter()
                .filter_map(|index| {
                    let log = topic.partition(index)?;
                    Some(
                        DescribeLogDirsPartition::default()
                            .with_partition_index(index)
                            .with_partition_size(
                                i64::try_from(log.bytes_held()).unwrap_or(i64::MAX),
                            )
                            .with_offset_lag(0)
                            .with_is_future_key(false),
                    )
                })
                .collect();
            (!partitions.is_empty()).then(|| {
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partitions(partitions)
            })
        })
        .collect();
    DescribeLogDirsResponse::default().with_results(vec![DescribeLogDirsResult::default()
        .with_log_dir(StrBytes::from_static_str(LOG_DIR))
        .with_topics(described)
        .with_total_bytes(-1)
        .with_usable_bytes(-1)])
}
