//! DescribeGroups (key 15), versions 0–6.
//!
//! Each group's state (Empty, PreparingRebalance, CompletingRebalance, Stable), protocol type
//! and members with their client ids. Only a Stable group shows its chosen protocol and each
//! member's metadata and assignment, as Kafka does. A group that does not exist (the empty id
//! included) is reported Dead, and from v6 also with GROUP_ID_NOT_FOUND.
//! Authorized operations (v3+), when asked for, are everything a group allows (there are no
//! ACLs): READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS and ALTER_CONFIGS, as Kafka 4.1 reports.
//!
//! Not here: client hosts (empty).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::groups::GroupState;
use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let operations = super::operations::reported(
        version >= 3 && req.include_authorized_operations,
        super::operations::GROUP,
    );
    let groups = req
        .groups
        .into_iter()
        .map(|group_id| {
            let result = DescribedGroup::default().with_authorized_operations(operations);
            let Some(group) = state.groups.describe(&group_id.0) else {
                let result =
                    result.with_group_state(StrBytes::from_static_str(GroupState::Dead.as_str()));
                if version < 6 {
                    return result.with_group_id(group_id);
                }
                let message = format!("group {} not found", group_id.0.as_str());
                return result
                    .with_group_id(group_id)
                    .with_error_code(ErrorCode::GROUP_ID_NOT_FOUND.0)
                    .with_error_message(Some(StrBytes::from_string(message)));
            };
            result
                .with_group_id(group_id)
                .with_group_state(StrBytes::from_static_str(group.state.as_str()))
                .with_protocol_type(StrBytes::from_string(group.protocol_type))
                .with_protocol_data(StrBytes::from_string(group.protocol))
                .with_members(
                    group
                        .members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(StrBytes::from_string(m.member_id))
                                .with_group_instance_id(m.instance_id.map(StrBytes::from_string))
                                .with_client_id(StrBytes::from_string(m.client_id))
                                .with_client_host(StrBytes::from_string(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
