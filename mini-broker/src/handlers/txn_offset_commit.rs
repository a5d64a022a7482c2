//! TxnOffsetCommit (key 28), versions 0–5.
//!
//! Stages a consumer group's offsets in the producer's transaction (KIP-98's
//! `sendOffsetsToTransaction`): they reach the group's committed offsets only when the
//! transaction commits, and are dropped when it aborts; meanwhile OffsetFetch with
//! `require_stable` answers UNSTABLE_OFFSET_COMMIT for those partitions.
//!
//! Checks, in Kafka's order: a topic or partition that does not exist gets
//! UNKNOWN_TOPIC_OR_PARTITION (the rest go on); an empty group id is INVALID_GROUP_ID; the
//! transactional id must be known with this producer id (INVALID_PRODUCER_ID_MAPPING) and
//! epoch (INVALID_PRODUCER_EPOCH, as a partition leader reports a fenced transactional
//! write), and up to v4 (transaction version 1) the group must have been added with
//! AddOffsetsToTxn (INVALID_TXN_STATE, from v4 TRANSACTION_ABORTABLE), while v5 (transaction
//! version 2, KIP-890) adds the group itself, starting a transaction if none is open
//! (CONCURRENT_TRANSACTIONS while one is being completed); then the group checks the
//! committer as KIP-447 asks when v3+ gives generation and member id (ILLEGAL_GENERATION,
//! UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID; no member id is fine, as for producers that predate
//! KIP-447). These errors go to every partition. Metadata over 4096 bytes gets
//! OFFSET_METADATA_TOO_LARGE for its partition only.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::offset_commit::{requested, sort, Requested, Sorted};
use crate::state::transactions::{TxnOffsetCommit, TxnVersion};
use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let requested = requested!(req.topics, version >= 2);
    let Sorted { verdicts, offsets } = sort(state, &requested);
    let code = if offsets.is_empty() {
        ErrorCode::NONE
    } else {
        state.txn_offset_commit(TxnOffsetCommit {
            transactional_id: req.transactional_id.0.to_string(),
            producer_id: req.producer_id.0,
            producer_epoch: req.producer_epoch,
            group_id: req.group_id.0.to_string(),
            generation: req.generation_id,
            member_id: req.member_id.to_string(),
            instance_id: req.group_instance_id.as_ref().map(|i| i.to_string()),
            offsets,
            version: TxnVersion::from_v2(version > 4),
        })
    };
    let code = match code {
        ErrorCode::PRODUCER_FENCED => ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::TRANSACTION_ABORTABLE if version < 4 => ErrorCode::INVALID_TXN_STATE,
        code => code,
    };
    let topics = req
        .topics
        .into_iter()
        .zip(verdicts)
        .map(|(t, verdicts)| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(
                    t.partitions
                        .iter()
                        .zip(verdicts)
                        .map(|(p, verdict)| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(partition_error(verdict, code).0)
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// A partition's answer: unknown partitions always say so; oversized metadata only matters
/// once the transaction and group checks passed, as Kafka checks it last.
fn partition_error(verdict: Option<ErrorCode>, code: ErrorCode) -> ErrorCode {
    match verdict {
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        Some(own) if code == ErrorCode::NONE => own,
        _ => code,
    }
}
