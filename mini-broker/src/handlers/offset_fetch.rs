//! OffsetFetch (key 9), versions 1–9.
//!
//! Returns committed offsets, leader epochs (v5+) and metadata. Up to v7 one group is asked
//! (with a null topic list meaning "every committed partition", v2+); from v8 groups come
//! batched, each with its own error. A partition with nothing committed, or a group that does
//! not exist, gets offset -1 and no error, as Kafka answers. With `require_stable` (v7+,
//! KIP-447), a partition for which an open transaction holds offsets staged by
//! TxnOffsetCommit gets UNSTABLE_OFFSET_COMMIT and offset -1 until the transaction ends, as
//! Kafka answers (clients retry). The v9 member id and epoch belong to the KIP-848 protocol and are ignored
//! for classic groups, as Kafka does.
//!
//! Not here: topic ids (v10).

use std::collections::BTreeMap;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::state::groups::CommittedOffset;
use crate::state::BrokerState;

/// One partition's answer: `(partition, offset, leader epoch, metadata, error)`.
type Answer = (i32, i64, i32, String, ErrorCode);

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
                let topics = fetch(state, &g.group_id.0, wanted, req.require_stable);
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
                                            .map(|(index, offset, epoch, metadata, error)| {
                                                OffsetFetchResponsePartitions::default()
                                                    .with_error_code(error.0)
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
    let topics = fetch(state, &req.group_id.0, wanted, req.require_stable);
    OffsetFetchResponse::default().with_topics(
        topics
            .into_iter()
            .map(|(name, partitions)| {
                OffsetFetchResponseTopic::default()
                    .with_name(topic_name(name))
                    .with_partitions(
                        partitions
                            .into_iter()
                            .map(|(index, offset, epoch, metadata, error)| {
                                OffsetFetchResponsePartition::default()
                                    .with_error_code(error.0)
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
    require_stable: bool,
) -> Vec<(String, Vec<Answer>)> {
    // An empty group id is a group like any other here, as in Kafka.
    let committed = state.groups.committed_offsets(group_id).unwrap_or_default();
    let mut topics = fetch_committed(committed, wanted);
    if require_stable {
        // Taken after the groups lock is released (lock order: transactions first).
        let txns = state.transactions.lock();
        for (topic, answers) in &mut topics {
            for answer in answers.iter_mut() {
                if txns.has_pending_offsets(group_id, topic, answer.0) {
                    *answer = (
                        answer.0,
                        -1,
                        -1,
                        String::new(),
                        ErrorCode::UNSTABLE_OFFSET_COMMIT,
                    );
                }
            }
        }
    }
    topics
}

fn fetch_committed(
    committed: BTreeMap<(String, i32), CommittedOffset>,
    wanted: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<Answer>)> {
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
    (
        partition,
        c.offset,
        c.leader_epoch,
        c.metadata.clone(),
        ErrorCode::NONE,
    )
}

fn none(partition: i32) -> Answer {
    (partition, -1, -1, String::new(), ErrorCode::NONE)
}
