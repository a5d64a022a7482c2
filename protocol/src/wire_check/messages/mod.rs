//! One table per API key: the request and response bodies, field by field.
//!
//! Facts from the Kafka message JSON definitions (clients/src/main/resources/common/message),
//! restricted to the versions kafka-protocol 0.18 encodes and decodes: where that crate
//! dropped a version or a field, so do the tables, since they guard its decoders.

use super::schema::{Api, Message};

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod alter_configs;
mod alter_user_scram_credentials;
mod api_versions;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod describe_log_dirs;
mod describe_producers;
mod describe_transactions;
mod describe_user_scram_credentials;
mod elect_leaders;
mod end_txn;
mod fetch;
mod find_coordinator;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod list_transactions;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod sasl_authenticate;
mod sasl_handshake;
mod sync_group;
mod txn_offset_commit;

/// Every API key the checker knows; the first ten are the ones the broker needs first.
pub(crate) const APIS: &[Api] = &[
    api(18, "ApiVersions", &api_versions::REQUEST, &api_versions::RESPONSE),
    api(3, "Metadata", &metadata::REQUEST, &metadata::RESPONSE),
    api(0, "Produce", &produce::REQUEST, &produce::RESPONSE),
    api(1, "Fetch", &fetch::REQUEST, &fetch::RESPONSE),
    api(2, "ListOffsets", &list_offsets::REQUEST, &list_offsets::RESPONSE),
    api(19, "CreateTopics", &create_topics::REQUEST, &create_topics::RESPONSE),
    api(20, "DeleteTopics", &delete_topics::REQUEST, &delete_topics::RESPONSE),
    api(37, "CreatePartitions", &create_partitions::REQUEST, &create_partitions::RESPONSE),
    api(32, "DescribeConfigs", &describe_configs::REQUEST, &describe_configs::RESPONSE),
    api(60, "DescribeCluster", &describe_cluster::REQUEST, &describe_cluster::RESPONSE),
    api(22, "InitProducerId", &init_producer_id::REQUEST, &init_producer_id::RESPONSE),
    api(10, "FindCoordinator", &find_coordinator::REQUEST, &find_coordinator::RESPONSE),
    api(11, "JoinGroup", &join_group::REQUEST, &join_group::RESPONSE),
    api(14, "SyncGroup", &sync_group::REQUEST, &sync_group::RESPONSE),
    api(12, "Heartbeat", &heartbeat::REQUEST, &heartbeat::RESPONSE),
    api(13, "LeaveGroup", &leave_group::REQUEST, &leave_group::RESPONSE),
    api(8, "OffsetCommit", &offset_commit::REQUEST, &offset_commit::RESPONSE),
    api(9, "OffsetFetch", &offset_fetch::REQUEST, &offset_fetch::RESPONSE),
    api(15, "DescribeGroups", &describe_groups::REQUEST, &describe_groups::RESPONSE),
    api(16, "ListGroups", &list_groups::REQUEST, &list_groups::RESPONSE),
    api(42, "DeleteGroups", &delete_groups::REQUEST, &delete_groups::RESPONSE),
    api(47, "OffsetDelete", &offset_delete::REQUEST, &offset_delete::RESPONSE),
    api(21, "DeleteRecords", &delete_records::REQUEST, &delete_records::RESPONSE),
    api(44, "IncrementalAlterConfigs", &incremental_alter_configs::REQUEST, &incremental_alter_configs::RESPONSE),
    api(33, "AlterConfigs", &alter_configs::REQUEST, &alter_configs::RESPONSE),
    api(61, "DescribeProducers", &describe_producers::REQUEST, &describe_producers::RESPONSE),
    api(35, "DescribeLogDirs", &describe_log_dirs::REQUEST, &describe_log_dirs::RESPONSE),
    api(43, "ElectLeaders", &elect_leaders::REQUEST, &elect_leaders::RESPONSE),
    api(50, "DescribeUserScramCredentials", &describe_user_scram_credentials::REQUEST, &describe_user_scram_credentials::RESPONSE),
    api(51, "AlterUserScramCredentials", &alter_user_scram_credentials::REQUEST, &alter_user_scram_credentials::RESPONSE),
    api(23, "OffsetForLeaderEpoch", &offset_for_leader_epoch::REQUEST, &offset_for_leader_epoch::RESPONSE),
    api(24, "AddPartitionsToTxn", &add_partitions_to_txn::REQUEST, &add_partitions_to_txn::RESPONSE),
    api(25, "AddOffsetsToTxn", &add_offsets_to_txn::REQUEST, &add_offsets_to_txn::RESPONSE),
    api(28, "TxnOffsetCommit", &txn_offset_commit::REQUEST, &txn_offset_commit::RESPONSE),
    api(26, "EndTxn", &end_txn::REQUEST, &end_txn::RESPONSE),
    api(65, "DescribeTransactions", &describe_transactions::REQUEST, &describe_transactions::RESPONSE),
    api(66, "ListTransactions", &list_transactions::REQUEST, &list_transactions::RESPONSE),
    api(17, "SaslHandshake", &sasl_handshake::REQUEST, &sasl_handshake::RESPONSE),
    api(36, "SaslAuthenticate", &sasl_authenticate::REQUEST, &sasl_authenticate::RESPONSE),
];

const fn api(key: i16, name: &'static str, request: &'static Message, response: &'static Message) -> Api {
    Api { key, name, request, response }
}
