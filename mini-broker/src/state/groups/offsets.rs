//! Committed offsets, and the group administration calls (describe, list, delete).
//!
//! A commit from a member of a live group must carry its current generation and member id;
//! a commit with generation -1 and no member id ("simple" consumers and admin tools) is only
//! accepted while the group has no members, and creates an offsets-only group if none exists.

use ferrokafka_protocol::ErrorCode;
use tokio::time::Instant;

use super::group::{Group, GroupState};
use super::{DescribedMember, GroupDescription, GroupListing, Groups, OffsetCommit};

impl Groups {
    pub(super) fn commit(&mut self, commit: OffsetCommit, now: Instant) -> ErrorCode {
        // An empty group id is a group like any other here, as in Kafka.
        if !self.map.contains_key(&commit.group_id) {
            if commit.generation >= 0 {
                return if commit.group_id_not_found {
                    ErrorCode::GROUP_ID_NOT_FOUND
                } else {
                    ErrorCode::ILLEGAL_GENERATION
                };
            }
            self.map
                .insert(commit.group_id.clone(), Group::new(&commit.group_id));
        }
        let Some(group) = self.map.get_mut(&commit.group_id) else {
            return ErrorCode::GROUP_ID_NOT_FOUND;
        };
        let error = group.validate_commit(&commit);
        if error != ErrorCode::NONE {
            return error;
        }
        if matches!(
            group.state,
            GroupState::Stable | GroupState::PreparingRebalance
        ) {
            // A commit keeps a member's session alive, as a heartbeat would.
            if let Some(member) = group.member_mut(&commit.member_id) {
                member.touch(now);
            }
        }
        for (topic, partition, offset) in commit.offsets {
            group.offsets.insert((topic, partition), offset);
        }
        ErrorCode::NONE
    }

    pub(super) fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if group_id.is_empty() {
            return Err(ErrorCode::INVALID_GROUP_ID);
        }
        let group = self
            .map
            .get_mut(group_id)
            .ok_or(ErrorCode::GROUP_ID_NOT_FOUND)?;
        match group.state {
            GroupState::Dead => return Err(ErrorCode::GROUP_ID_NOT_FOUND),
            GroupState::Empty => {}
            // Only consumer groups say which topics they use; others must be empty.
            _ if group.protocol_type.as_deref() != Some("consumer") => {
                return Err(ErrorCode::NON_EMPTY_GROUP)
            }
            _ => {}
        }
        Ok(partitions
            .iter()
            .map(|(topic, partition)| {
                if group.is_subscribed_to(topic) {
                    ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
                } else {
                    group.offsets.remove(&(topic.clone(), *partition));
                    ErrorCode::NONE
                }
            })
            .collect())
    }

    pub(super) fn delete_group(&mut self, group_id: &str) -> ErrorCode {
        match self.map.get(group_id).map(|g| g.state) {
            None | Some(GroupState::Dead) => ErrorCode::GROUP_ID_NOT_FOUND,
            Some(GroupState::Empty) => {
                self.map.remove(group_id);
                tracing::info!(group = group_id, "deleted group");
                ErrorCode::NONE
            }
            Some(_) => ErrorCode::NON_EMPTY_GROUP,
        }
    }

    pub(super) fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let group = self.map.get(group_id)?;
        // Metadata and assignments are only shown once they are settled.
        let stable = group.state == GroupState::Stable;
        let protocol = if stable {
            group.protocol.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let members = group
            .members
            .iter()
            .map(|m| DescribedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: if stable {
                    m.metadata(&protocol)
                } else {
                    Default::default()
                },
                assignment: if stable {
                    m.assignment.clone()
                } else {
                    Default::default()
                },
            })
            .collect();
        Some(GroupDescription {
            state: group.state,
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol,
            members,
        })
    }

    pub(super) fn list(&self) -> Vec<GroupListing> {
        self.map
            .values()
            .map(|g| GroupListing {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state,
            })
            .collect()
    }
}

impl Group {
    fn validate_commit(&self, commit: &OffsetCommit) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::COORDINATOR_NOT_AVAILABLE;
        }
        if commit.generation < 0 && self.state == GroupState::Empty {
            return ErrorCode::NONE;
        }
        if commit.generation >= 0 || !commit.member_id.is_empty() || commit.instance_id.is_some() {
            let error = self.validate_member(&commit.member_id, commit.instance_id.as_deref());
            if error != ErrorCode::NONE {
                return error;
            }
            if commit.generation != self.generation {
                return ErrorCode::ILLEGAL_GENERATION;
            }
        } else if self.state != GroupState::Empty {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        }
        if self.state == GroupState::CompletingRebalance {
            // Its generation is current but the assignment is not out yet.
            return ErrorCode::REBALANCE_IN_PROGRESS;
        }
        ErrorCode::NONE
    }
}
