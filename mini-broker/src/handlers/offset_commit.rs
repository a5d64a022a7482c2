//! OffsetCommit (key 8), versions 2–9.
//!
//! Stores an offset, its leader epoch (v6+) and metadata per group and partition. A member of
//! a live group must send its current generation and member id (ILLEGAL_GENERATION,
//! UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS between a rebalance's join and
//! sync otherwise); generation -1 with no member id is a commit outside group management and
//! is accepted while the group has no members, creating the group if needed. A commit with a
//! generation for a group that does not exist gets ILLEGAL_GENERATION (GROUP_ID_NOT_FOUND from
//! v9). Partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION, metadata over 4096 bytes
//! OFFSET_METADATA_TOO_LARGE (`offset.metadata.max.bytes`); the rest of the request is still
//! committed. A commit keeps the member's session alive.
//!
//! Not here: `retention_time_ms` (v2–4) and offset expiry; offsets of a deleted topic are kept.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::state::groups::{CommittedOffset, OffsetCommit};
use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    // Partition counts first, under the topics lock alone; the groups lock comes after.
    let partitions = state.partition_counts(req.topics.iter().map(|t| t.name.0.as_str()));
    // Per partition: an error decided here, or None if it goes to the coordinator.
    let mut verdicts: Vec<Vec<Option<ErrorCode>>> = Vec::with_capacity(req.topics.len());
    let mut offsets = Vec::new();
    for t in &req.topics {
        let count = partitions.get(t.name.0.as_str()).copied();
        verdicts.push(
            t.partitions
                .iter()
                .map(|p| {
                    let metadata = p.committed_metadata.as_deref().unwrap_or_default();
                    if metadata.len() > crate::state::groups::MAX_METADATA_BYTES {
                        return Some(ErrorCode::OFFSET_METADATA_TOO_LARGE);
                    }
                    if !count.is_some_and(|n| (0..n).contains(&p.partition_index)) {
                        return Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                    }
                    offsets.push((
                        t.name.0.to_string(),
                        p.partition_index,
                        CommittedOffset {
                            offset: p.committed_offset,
                            leader_epoch: if version >= 6 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            },
                            metadata: metadata.to_owned(),
                        },
                    ));
                    None
                })
                .collect(),
        );
    }
    let group_error = if offsets.is_empty() {
        ErrorCode::NONE
    } else {
        state.groups.commit_offsets(OffsetCommit {
            group_id: req.group_id.0.to_string(),
            generation: req.generation_id_or_member_epoch,
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.map(|i| i.to_string()),
            group_id_not_found: version >= 9,
            offsets,
        })
    };
    let topics = req
        .topics
        .into_iter()
        .zip(verdicts)
        .map(|(t, verdicts)| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(
                    t.partitions
                        .iter()
                        .zip(verdicts)
                        .map(|(p, verdict)| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(verdict.unwrap_or(group_error).0)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
