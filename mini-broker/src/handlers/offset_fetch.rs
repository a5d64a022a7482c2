//! OffsetFetch (key 9), versions 1–9.
//!
//! Returns committed offsets, leader epochs (v5+) and metadata. Up to v7 one group is asked
//! (with a null topic list meaning "every committed partition", v2+); from v8 groups come
//! batched, each with its own error. A partition with nothing committed, or a group that does
//! not exist, gets offset -1 and no error, as Kafka answers. `require_stable` (v7+) is
//! accepted; with no transactions there are no pending offsets, so UNSTABLE_OFFSET_COMMIT is
//! never returned. The v9 member id and epoch belong to the KIP-848 protocol and are ignored
//! for classic groups, as Kafka does.
//!
//! Not here: topic ids (v10).

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::state::groups::CommittedOffset;
use crate::state::BrokerState;

/// One partition's answer: `(partition, offset, leader epoch, metadata)`.
type Answer = (i32, i64, i32, String);

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let wanted: Option<Vec<(String, Vec<i32>)>> = g.topics.map(|topics| {
                    topics
                        .into_iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes))
                        .collect()
                });
                let topics = fetch(state, &g.group_id.0, wanted);
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_topics(
                        topics
                            .into_iter()
                            .map(|(name, partitions)| {
                                OffsetFetchResponseTopics::default()
                                    .with_name(topic_name(name))
                                    .with_partitions(
                                        partitions
                                            .into_iter()
                                            .map(|(index, offset, epoch, metadata)| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_partition_index(index)
                                                    .with_committed_offset(offset)
                                                    .with_committed_leader_epoch(epoch)
                                                    .with_metadata(Some(StrBytes::from_string(
                                                        metadata,
                                                    )))
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    )
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = req.topics.map(|topics| {
        topics
            .into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    let topics = fetch(state, &req.group_id.0, wanted);
    OffsetFetchResponse::default().with_topics(
        topics
            .into_iter()
            .map(|(name, partitions)| {
                OffsetFetchResponseTopic::default()
                    .with_name(topic_name(name))
                    .with_partitions(
                        partitions
                            .into_iter()
                            .map(|(index, offset, epoch, metadata)| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(index)
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(epoch)
                                    .with_metadata(Some(StrBytes::from_string(metadata)))
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

fn topic_name(name: String) -> TopicName {
    TopicName(StrBytes::from_string(name))
}

/// The answer for one group: per topic the partitions asked for (or, with `wanted` = None,
/// every committed one).
fn fetch(
    state: &BrokerState,
    group_id: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<Answer>)> {
    // An empty group id is a group like any other here, as in Kafka.
    let committed = state.groups.committed_offsets(group_id).unwrap_or_default();
    match wanted {
        Some(wanted) => wanted
            .into_iter()
            .map(|(name, partitions)| {
                let answers = partitions
                    .into_iter()
                    .map(|p| match committed.get(&(name.clone(), p)) {
                        Some(c) => answer(p, c),
                        None => none(p),
                    })
                    .collect();
                (name, answers)
            })
            .collect(),
        None => {
            let mut by_topic: BTreeMap<String, Vec<Answer>> = BTreeMap::new();
            for ((topic, partition), c) in &committed {
                by_topic
                    .entry(topic.clone())
                    .or_default()
                    .push(answer(*partition, c));
            }
            by_topic.into_iter().collect()
        }
    }
}

fn answer(partition: i32, c: &CommittedOffset) -> Answer {
    (partition, c.offset, c.leader_epoch, c.metadata.clone())
}

fn none(partition: i32) -> Answer {
    (partition, -1, -1, String::new())
}
