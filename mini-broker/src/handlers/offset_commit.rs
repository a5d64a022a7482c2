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

use crate::state::groups::{CommittedOffset, OffsetCommit, MAX_METADATA_BYTES};
use crate::state::BrokerState;

/// One partition of a commit, as OffsetCommit and TxnOffsetCommit both carry it.
pub(super) struct Requested<'a> {
    pub partition: i32,
    pub offset: i64,
    /// -1 where the request version has no leader epoch.
    pub leader_epoch: i32,
    pub metadata: &'a str,
}

/// The [`Requested`] partitions of either commit request's topics (their fields share names);
/// `$epochs` says whether the request version carries leader epochs.
macro_rules! requested {
    ($topics:expr, $epochs:expr) => {
        $topics
            .iter()
            .map(|t| {
                let partitions = t.partitions.iter().map(|p| Requested {
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if $epochs {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p.committed_metadata.as_deref().unwrap_or_default(),
                });
                (t.name.0.as_str(), partitions.collect())
            })
            .collect::<Vec<_>>()
    };
}
pub(super) use requested;

/// A commit's partitions sorted into those answered here and those for the coordinator.
pub(super) struct Sorted {
    /// Per topic and partition, in request order: the error decided here, or None if the
    /// partition's offset went to the coordinator (which answers them all with one code).
    pub verdicts: Vec<Vec<Option<ErrorCode>>>,
    pub offsets: Vec<(String, i32, CommittedOffset)>,
}

/// Checks what the broker can answer without the coordinator, in Kafka's order: a topic or
/// partition that does not exist (UNKNOWN_TOPIC_OR_PARTITION), then metadata over
/// `offset.metadata.max.bytes` (OFFSET_METADATA_TOO_LARGE). Partition counts are read under
/// the topics lock alone; the coordinator's lock comes after.
pub(super) fn sort(state: &BrokerState, topics: &[(&str, Vec<Requested<'_>>)]) -> Sorted {
    let counts = state.partition_counts(topics.iter().map(|(name, _)| *name));
    let mut offsets = Vec::new();
    let verdicts = topics
        .iter()
        .map(|(name, partitions)| {
            let count = counts.get(*name).copied();
            partitions
                .iter()
                .map(|p| {
                    if !count.is_some_and(|n| (0..n).contains(&p.partition)) {
                        return Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                    }
                    if p.metadata.len() > MAX_METADATA_BYTES {
                        return Some(ErrorCode::OFFSET_METADATA_TOO_LARGE);
                    }
                    offsets.push((
                        (*name).to_owned(),
                        p.partition,
                        CommittedOffset {
                            offset: p.offset,
                            leader_epoch: p.leader_epoch,
                            metadata: p.metadata.to_owned(),
                        },
                    ));
                    None
                })
                .collect()
        })
        .collect();
    Sorted { verdicts, offsets }
}

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let requested = requested!(req.topics, version >= 6);
    let Sorted { verdicts, offsets } = sort(state, &requested);
    let offsets_empty = offsets.is_empty();
    let committed: Vec<(String, i32)> = offsets.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
    let group_error = if offsets_empty {
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
    if group_error == ErrorCode::NONE && !offsets_empty {
        state.save_group_offsets(&req.group_id.0, &committed);
    }
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
