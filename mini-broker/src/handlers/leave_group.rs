//! LeaveGroup (key 13), versions 0–5.
//!
//! Up to v2 one member leaves and its result is the top-level error; from v3 members leave in
//! a batch, each with its own result, and a static member may be removed by its
//! `group.instance.id` alone (empty member id), as admin tools do. A member that left no longer
//! holds up a rebalance; a Stable group rebalances without it. A member id handed out with
//! MEMBER_ID_REQUIRED but not used yet may leave too. Members of a group that does not exist
//! get UNKNOWN_MEMBER_ID; an empty group id gets INVALID_GROUP_ID.
//!
//! Not here: the `reason` (v5) is accepted and ignored.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let leaving: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|i| i.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    match state.groups.leave(&req.group_id.0, &leaving) {
        Err(error) => LeaveGroupResponse::default().with_error_code(error.0),
        Ok(results) if version < 3 => LeaveGroupResponse::default()
            .with_error_code(results.first().copied().unwrap_or(ErrorCode::NONE).0),
        Ok(results) => LeaveGroupResponse::default().with_members(
            req.members
                .into_iter()
                .zip(results)
                .map(|(m, error)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id)
                        .with_group_instance_id(m.group_instance_id)
                        .with_error_code(error.0)
                })
                .collect(),
        ),
    }
}
