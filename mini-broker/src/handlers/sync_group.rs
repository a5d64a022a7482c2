//! SyncGroup (key 14), versions 0–5.
//!
//! The leader's SyncGroup carries every member's assignment (opaque bytes to the broker;
//! members it leaves out get an empty one) and moves the group to Stable; each follower's
//! SyncGroup is held until then and answered with its own assignment. In a Stable group a
//! SyncGroup is answered at once. Errors as Kafka's: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID for
//! a replaced static member, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS while members are still
//! joining (and for held followers when a new rebalance starts), and from v5
//! INCONSISTENT_GROUP_PROTOCOL when the protocol type or name is missing (both are mandatory
//! from v5, as Kafka checks before anything else) or not the group's.
//!
//! Not here: nothing is persisted; a restart forgets every group.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::groups::SyncRequest;
use crate::state::BrokerState;

pub(super) async fn handle(
    state: &BrokerState,
    version: i16,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    if version >= 5 && (req.protocol_type.is_none() || req.protocol_name.is_none()) {
        return SyncGroupResponse::default()
            .with_error_code(ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0);
    }
    let request = SyncRequest {
        group_id: req.group_id.0.to_string(),
        generation: req.generation_id,
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|i| i.to_string()),
        protocol_type: req.protocol_type.map(|p| p.to_string()),
        protocol_name: req.protocol_name.map(|p| p.to_string()),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let outcome = state.groups.sync(request).await;
    // The protocol fields exist from v5 only; the encoder leaves them out before.
    SyncGroupResponse::default()
        .with_error_code(outcome.error.0)
        .with_protocol_type(outcome.protocol_type.map(StrBytes::from_string))
        .with_protocol_name(outcome.protocol_name.map(StrBytes::from_string))
        .with_assignment(outcome.assignment)
}
