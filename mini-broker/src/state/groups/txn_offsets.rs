//! What the transaction coordinator asks of the group coordinator (KIP-98, KIP-447): whether
//! a TxnOffsetCommit's member may commit for its group, and, once the transaction commits,
//! storing its offsets.
//!
//! The check is the one for plain commits with Kafka's two transactional differences: a
//! commit without a member id is accepted while the group has members (producers of
//! transactional ids that predate KIP-447 send none), and a group between a rebalance's join
//! and sync is no reason to refuse. A group that does not exist is fine with generation -1
//! (offsets of a "simple" group) and ILLEGAL_GENERATION otherwise.
//!
//! Not here: Kafka keeps the newer of a transactional and a plain commit made while the
//! transaction was open (by their positions in `__consumer_offsets`); here the transaction's
//! offsets are applied last and win.

use std::collections::BTreeMap;

use ferrokafka_protocol::ErrorCode;

use super::group::{Group, GroupState};
use super::{CommittedOffset, GroupCoordinator};

impl GroupCoordinator {
    /// Whether a TxnOffsetCommit from this member may stage offsets for `group_id`.
    pub fn validate_txn_offset_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> ErrorCode {
        let groups = self.shared.lock();
        let Some(group) = groups.map.get(group_id) else {
            return if generation < 0 {
                ErrorCode::NONE
            } else {
                ErrorCode::ILLEGAL_GENERATION
            };
        };
        if group.state == GroupState::Dead {
            return ErrorCode::COORDINATOR_NOT_AVAILABLE;
        }
        if generation < 0 && group.state == GroupState::Empty {
            return ErrorCode::NONE;
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            let error = group.validate_member(member_id, instance_id);
            if error != ErrorCode::NONE {
                return error;
            }
            if generation != group.generation {
                return ErrorCode::ILLEGAL_GENERATION;
            }
        }
        ErrorCode::NONE
    }

    /// Stores a committed transaction's offsets for `group_id`, creating an offsets-only group
    /// if it no longer (or never) existed.
    pub fn apply_txn_offsets(
        &self,
        group_id: &str,
        offsets: BTreeMap<(String, i32), CommittedOffset>,
    ) {
        let mut groups = self.shared.lock();
        let group = groups
            .map
            .entry(group_id.to_owned())
            .or_insert_with(|| Group::new(group_id));
        group.offsets.extend(offsets);
    }
}
