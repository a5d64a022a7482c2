//! Populated sample messages for the wire_check tests, one module per request and response.
//!
//! `build(version, nulls)` fills every field that exists in `version` with a non-default value
//! and every array with one element, so nested structs and known tagged fields (which
//! kafka-protocol writes only when they differ from their default) are all on the wire. With
//! `nulls` set, every nullable field is null instead. Fields outside their versions stay at
//! their default, since kafka-protocol refuses to encode them otherwise.
//!
//! Generated once from the field lists of kafka-protocol 0.18, then kept by hand. Also compiled
//! as a test target of its own (it holds no tests), hence the `dead_code` allowance.
#![allow(dead_code, clippy::field_reassign_with_default)]

use bytes::Bytes;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::protocol::{Decodable, StrBytes};

fn text() -> StrBytes {
    StrBytes::from_static_str("text")
}

/// A non-nil UUID. kafka-protocol does not re-export the `uuid` crate, so take one from a
/// decoded message rather than add a dependency for the tests.
macro_rules! uuid {
    () => {
        samples_uuid().topic_id
    };
}

fn samples_uuid() -> MetadataRequestTopic {
    // 16 bytes of topic id, a null compact name, no tagged fields.
    let mut wire: &[u8] = &[
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        0x01, 0x00, 0x00,
    ];
    MetadataRequestTopic::decode(&mut wire, 10).expect("a uuid and a null name")
}

pub mod api_versions_request {
    use super::*;
    use kafka_protocol::messages::api_versions_request::*;

    pub fn build(v: i16, _n: bool) -> ApiVersionsRequest {
        let mut m = ApiVersionsRequest::default();
        if v >= 3 {
            m.client_software_name = text();
            m.client_software_version = text();
        }
        m
    }
}

pub mod api_versions_response {
    use super::*;
    use kafka_protocol::messages::api_versions_response::*;

    fn api_version(_v: i16, _n: bool) -> ApiVersion {
        let mut m = ApiVersion::default();
        m.api_key = 2;
        m.min_version = 2;
        m.max_version = 2;
        m
    }

    pub fn build(v: i16, n: bool) -> ApiVersionsResponse {
        let mut m = ApiVersionsResponse::default();
        m.error_code = 2;
        m.api_keys = vec![api_version(v, n)];
        if v >= 1 {
            m.throttle_time_ms = 3;
        }
        if v >= 3 {
            m.supported_features = vec![supported_feature_key(v, n)];
            m.finalized_features_epoch = 4;
            m.finalized_features = vec![finalized_feature_key(v, n)];
            m.zk_migration_ready = true;
        }
        m
    }

    fn finalized_feature_key(v: i16, _n: bool) -> FinalizedFeatureKey {
        let mut m = FinalizedFeatureKey::default();
        if v >= 3 {
            m.name = text();
            m.max_version_level = 2;
            m.min_version_level = 2;
        }
        m
    }

    fn supported_feature_key(v: i16, _n: bool) -> SupportedFeatureKey {
        let mut m = SupportedFeatureKey::default();
        if v >= 3 {
            m.name = text();
            m.min_version = 2;
            m.max_version = 2;
        }
        m
    }
}

pub mod metadata_request {
    use super::*;
    use kafka_protocol::messages::metadata_request::*;

    pub fn build(v: i16, n: bool) -> MetadataRequest {
        let mut m = MetadataRequest::default();
        m.topics = if n {
            None
        } else {
            Some(vec![metadata_request_topic(v, n)])
        };
        if v >= 4 {
            m.allow_auto_topic_creation = true;
        }
        if (8..=10).contains(&v) {
            m.include_cluster_authorized_operations = true;
        }
        if v >= 8 {
            m.include_topic_authorized_operations = true;
        }
        m
    }

    fn metadata_request_topic(v: i16, n: bool) -> MetadataRequestTopic {
        let mut m = MetadataRequestTopic::default();
        if v >= 10 {
            m.topic_id = uuid!();
        }
        m.name = if n { None } else { Some(text().into()) };
        m
    }
}

pub mod metadata_response {
    use super::*;
    use kafka_protocol::messages::metadata_response::*;

    pub fn build(v: i16, n: bool) -> MetadataResponse {
        let mut m = MetadataResponse::default();
        if v >= 3 {
            m.throttle_time_ms = 3;
        }
        m.brokers = vec![metadata_response_broker(v, n)];
        if v >= 2 {
            m.cluster_id = if n { None } else { Some(text()) };
        }
        if v >= 1 {
            m.controller_id = 3i32.into();
        }
        m.topics = vec![metadata_response_topic(v, n)];
        if (8..=10).contains(&v) {
            m.cluster_authorized_operations = 3;
        }
        if v >= 13 {
            m.error_code = 2;
        }
        m
    }

    fn metadata_response_broker(v: i16, n: bool) -> MetadataResponseBroker {
        let mut m = MetadataResponseBroker::default();
        m.node_id = 3i32.into();
        m.host = text();
        m.port = 3;
        if v >= 1 {
            m.rack = if n { None } else { Some(text()) };
        }
        m
    }

    fn metadata_response_partition(v: i16, _n: bool) -> MetadataResponsePartition {
        let mut m = MetadataResponsePartition::default();
        m.error_code = 2;
        m.partition_index = 3;
        m.leader_id = 3i32.into();
        if v >= 7 {
            m.leader_epoch = 3;
        }
        m.replica_nodes = vec![3i32.into()];
        m.isr_nodes = vec![3i32.into()];
        if v >= 5 {
            m.offline_replicas = vec![3i32.into()];
        }
        m
    }

    fn metadata_response_topic(v: i16, n: bool) -> MetadataResponseTopic {
        let mut m = MetadataResponseTopic::default();
        m.error_code = 2;
        m.name = if n { None } else { Some(text().into()) };
        if v >= 10 {
            m.topic_id = uuid!();
        }
        if v >= 1 {
            m.is_internal = true;
        }
        m.partitions = vec![metadata_response_partition(v, n)];
        if v >= 8 {
            m.topic_authorized_operations = 3;
        }
        m
    }
}

pub mod produce_request {
    use super::*;
    use kafka_protocol::messages::produce_request::*;

    fn partition_produce_data(_v: i16, n: bool) -> PartitionProduceData {
        let mut m = PartitionProduceData::default();
        m.index = 3;
        m.records = if n {
            None
        } else {
            Some(Bytes::from_static(b"bytes"))
        };
        m
    }

    pub fn build(v: i16, n: bool) -> ProduceRequest {
        let mut m = ProduceRequest::default();
        m.transactional_id = if n { None } else { Some(text().into()) };
        m.acks = 2;
        m.timeout_ms = 3;
        m.topic_data = vec![topic_produce_data(v, n)];
        m
    }

    fn topic_produce_data(v: i16, n: bool) -> TopicProduceData {
        let mut m = TopicProduceData::default();
        if (3..=12).contains(&v) {
            m.name = text().into();
        }
        if v >= 13 {
            m.topic_id = uuid!();
        }
        m.partition_data = vec![partition_produce_data(v, n)];
        m
    }
}

pub mod produce_response {
    use super::*;
    use kafka_protocol::messages::produce_response::*;

    fn batch_index_and_error_message(v: i16, n: bool) -> BatchIndexAndErrorMessage {
        let mut m = BatchIndexAndErrorMessage::default();
        if v >= 8 {
            m.batch_index = 3;
            m.batch_index_error_message = if n { None } else { Some(text()) };
        }
        m
    }

    fn leader_id_and_epoch(v: i16, _n: bool) -> LeaderIdAndEpoch {
        let mut m = LeaderIdAndEpoch::default();
        if v >= 10 {
            m.leader_id = 3i32.into();
            m.leader_epoch = 3;
        }
        m
    }

    fn node_endpoint(v: i16, n: bool) -> NodeEndpoint {
        let mut m = NodeEndpoint::default();
        if v >= 10 {
            m.node_id = 3i32.into();
            m.host = text();
            m.port = 3;
            m.rack = if n { None } else { Some(text()) };
        }
        m
    }

    fn partition_produce_response(v: i16, n: bool) -> PartitionProduceResponse {
        let mut m = PartitionProduceResponse::default();
        m.index = 3;
        m.error_code = 2;
        m.base_offset = 4;
        m.log_append_time_ms = 4;
        if v >= 5 {
            m.log_start_offset = 4;
        }
        if v >= 8 {
            m.record_errors = vec![batch_index_and_error_message(v, n)];
            m.error_message = if n { None } else { Some(text()) };
        }
        if v >= 10 {
            m.current_leader = leader_id_and_epoch(v, n);
        }
        m
    }

    pub fn build(v: i16, n: bool) -> ProduceResponse {
        let mut m = ProduceResponse::default();
        m.responses = vec![topic_produce_response(v, n)];
        m.throttle_time_ms = 3;
        if v >= 10 {
            m.node_endpoints = vec![node_endpoint(v, n)];
        }
        m
    }

    fn topic_produce_response(v: i16, n: bool) -> TopicProduceResponse {
        let mut m = TopicProduceResponse::default();
        if (3..=12).contains(&v) {
            m.name = text().into();
        }
        if v >= 13 {
            m.topic_id = uuid!();
        }
        m.partition_responses = vec![partition_produce_response(v, n)];
        m
    }
}

pub mod fetch_request {
    use super::*;
    use kafka_protocol::messages::fetch_request::*;

    fn fetch_partition(v: i16, _n: bool) -> FetchPartition {
        let mut m = FetchPartition::default();
        m.partition = 3;
        if v >= 9 {
            m.current_leader_epoch = 3;
        }
        m.fetch_offset = 4;
        if v >= 12 {
            m.last_fetched_epoch = 3;
        }
        if v >= 5 {
            m.log_start_offset = 4;
        }
        m.partition_max_bytes = 3;
        if v >= 17 {
            m.replica_directory_id = uuid!();
        }
        if v >= 18 {
            m.high_watermark = 4;
        }
        m
    }

    pub fn build(v: i16, n: bool) -> FetchRequest {
        let mut m = FetchRequest::default();
        if (4..=14).contains(&v) {
            m.replica_id = 3i32.into();
        }
        m.max_wait_ms = 3;
        m.min_bytes = 3;
        m.max_bytes = 3;
        m.isolation_level = 1;
        if v >= 7 {
            m.session_id = 3;
            m.session_epoch = 3;
        }
        m.topics = vec![fetch_topic(v, n)];
        if v >= 7 {
            m.forgotten_topics_data = vec![forgotten_topic(v, n)];
        }
        if v >= 11 {
            m.rack_id = text();
        }
        if v >= 12 {
            m.cluster_id = if n { None } else { Some(text()) };
        }
        if v >= 15 {
            m.replica_state = replica_state(v, n);
        }
        m
    }

    fn fetch_topic(v: i16, n: bool) -> FetchTopic {
        let mut m = FetchTopic::default();
        if (4..=12).contains(&v) {
            m.topic = text().into();
        }
        if v >= 13 {
            m.topic_id = uuid!();
        }
        m.partitions = vec![fetch_partition(v, n)];
        m
    }

    fn forgotten_topic(v: i16, _n: bool) -> ForgottenTopic {
        let mut m = ForgottenTopic::default();
        if (7..=12).contains(&v) {
            m.topic = text().into();
        }
        if v >= 13 {
            m.topic_id = uuid!();
        }
        if v >= 7 {
            m.partitions = vec![3];
        }
        m
    }

    fn replica_state(v: i16, _n: bool) -> ReplicaState {
        let mut m = ReplicaState::default();
        if v >= 15 {
            m.replica_id = 3i32.into();
            m.replica_epoch = 4;
        }
        m
    }
}

pub mod fetch_response {
    use super::*;
    use kafka_protocol::messages::fetch_response::*;

    fn aborted_transaction(_v: i16, _n: bool) -> AbortedTransaction {
        let mut m = AbortedTransaction::default();
        m.producer_id = 4i64.into();
        m.first_offset = 4;
        m
    }

    fn epoch_end_offset(v: i16, _n: bool) -> EpochEndOffset {
        let mut m = EpochEndOffset::default();
        if v >= 12 {
            m.epoch = 3;
            m.end_offset = 4;
        }
        m
    }

    pub fn build(v: i16, n: bool) -> FetchResponse {
        let mut m = FetchResponse::default();
        m.throttle_time_ms = 3;
        if v >= 7 {
            m.error_code = 2;
            m.session_id = 3;
        }
        m.responses = vec![fetchable_topic_response(v, n)];
        if v >= 16 {
            m.node_endpoints = vec![node_endpoint(v, n)];
        }
        m
    }

    fn fetchable_topic_response(v: i16, n: bool) -> FetchableTopicResponse {
        let mut m = FetchableTopicResponse::default();
        if (4..=12).contains(&v) {
            m.topic = text().into();
        }
        if v >= 13 {
            m.topic_id = uuid!();
        }
        m.partitions = vec![partition_data(v, n)];
        m
    }

    fn leader_id_and_epoch(v: i16, _n: bool) -> LeaderIdAndEpoch {
        let mut m = LeaderIdAndEpoch::default();
        if v >= 12 {
            m.leader_id = 3i32.into();
            m.leader_epoch = 3;
        }
        m
    }

    fn node_endpoint(v: i16, n: bool) -> NodeEndpoint {
        let mut m = NodeEndpoint::default();
        if v >= 16 {
            m.node_id = 3i32.into();
            m.host = text();
            m.port = 3;
            m.rack = if n { None } else { Some(text()) };
        }
        m
    }

    fn partition_data(v: i16, n: bool) -> PartitionData {
        let mut m = PartitionData::default();
        m.partition_index = 3;
        m.error_code = 2;
        m.high_watermark = 4;
        m.last_stable_offset = 4;
        if v >= 5 {
            m.log_start_offset = 4;
        }
        m.aborted_transactions = if n {
            None
        } else {
            Some(vec![aborted_transaction(v, n)])
        };
        if v >= 11 {
            m.preferred_read_replica = 3i32.into();
        }
        m.records = if n {
            None
        } else {
            Some(Bytes::from_static(b"bytes"))
        };
        if v >= 12 {
            m.diverging_epoch = epoch_end_offset(v, n);
            m.current_leader = leader_id_and_epoch(v, n);
            m.snapshot_id = snapshot_id(v, n);
        }
        m
    }

    fn snapshot_id(_v: i16, _n: bool) -> SnapshotId {
        let mut m = SnapshotId::default();
        m.end_offset = 4;
        m.epoch = 3;
        m
    }
}

pub mod list_offsets_request {
    use super::*;
    use kafka_protocol::messages::list_offsets_request::*;

    fn list_offsets_partition(v: i16, _n: bool) -> ListOffsetsPartition {
        let mut m = ListOffsetsPartition::default();
        m.partition_index = 3;
        if v >= 4 {
            m.current_leader_epoch = 3;
        }
        m.timestamp = 4;
        m
    }

    pub fn build(v: i16, n: bool) -> ListOffsetsRequest {
        let mut m = ListOffsetsRequest::default();
        m.replica_id = 3i32.into();
        if v >= 2 {
            m.isolation_level = 1;
        }
        m.topics = vec![list_offsets_topic(v, n)];
        if v >= 10 {
            m.timeout_ms = 3;
        }
        m
    }

    fn list_offsets_topic(v: i16, n: bool) -> ListOffsetsTopic {
        let mut m = ListOffsetsTopic::default();
        m.name = text().into();
        m.partitions = vec![list_offsets_partition(v, n)];
        m
    }
}

pub mod list_offsets_response {
    use super::*;
    use kafka_protocol::messages::list_offsets_response::*;

    fn list_offsets_partition_response(v: i16, _n: bool) -> ListOffsetsPartitionResponse {
        let mut m = ListOffsetsPartitionResponse::default();
        m.partition_index = 3;
        m.error_code = 2;
        m.timestamp = 4;
        m.offset = 4;
        if v >= 4 {
            m.leader_epoch = 3;
        }
        m
    }

    pub fn build(v: i16, n: bool) -> ListOffsetsResponse {
        let mut m = ListOffsetsResponse::default();
        if v >= 2 {
            m.throttle_time_ms = 3;
        }
        m.topics = vec![list_offsets_topic_response(v, n)];
        m
    }

    fn list_offsets_topic_response(v: i16, n: bool) -> ListOffsetsTopicResponse {
        let mut m = ListOffsetsTopicResponse::default();
        m.name = text().into();
        m.partitions = vec![list_offsets_partition_response(v, n)];
        m
    }
}

pub mod offset_for_leader_epoch_request {
    use super::*;
    use kafka_protocol::messages::offset_for_leader_epoch_request::*;

    fn offset_for_leader_partition(_v: i16, _n: bool) -> OffsetForLeaderPartition {
        let mut m = OffsetForLeaderPartition::default();
        m.partition = 3;
        m.current_leader_epoch = 4;
        m.leader_epoch = 2;
        m
    }

    pub fn build(v: i16, n: bool) -> OffsetForLeaderEpochRequest {
        let mut m = OffsetForLeaderEpochRequest::default();
        if v >= 3 {
            m.replica_id = (-1i32).into();
        }
        let mut topic = OffsetForLeaderTopic::default();
        topic.topic = text().into();
        topic.partitions = vec![offset_for_leader_partition(v, n)];
        m.topics = vec![topic];
        m
    }
}

pub mod offset_for_leader_epoch_response {
    use super::*;
    use kafka_protocol::messages::offset_for_leader_epoch_response::*;

    fn epoch_end_offset(_v: i16, _n: bool) -> EpochEndOffset {
        let mut m = EpochEndOffset::default();
        m.error_code = 2;
        m.partition = 3;
        m.leader_epoch = 4;
        m.end_offset = 5;
        m
    }

    pub fn build(v: i16, n: bool) -> OffsetForLeaderEpochResponse {
        let mut m = OffsetForLeaderEpochResponse::default();
        m.throttle_time_ms = 3;
        let mut topic = OffsetForLeaderTopicResult::default();
        topic.topic = text().into();
        topic.partitions = vec![epoch_end_offset(v, n)];
        m.topics = vec![topic];
        m
    }
}

pub mod create_topics_request {
    use super::*;
    use kafka_protocol::messages::create_topics_request::*;

    fn creatable_replica_assignment(_v: i16, _n: bool) -> CreatableReplicaAssignment {
        let mut m = CreatableReplicaAssignment::default();
        m.partition_index = 3;
        m.broker_ids = vec![3i32.into()];
        m
    }

    fn creatable_topic(v: i16, n: bool) -> CreatableTopic {
        let mut m = CreatableTopic::default();
        m.name = text().into();
        m.num_partitions = 3;
        m.replication_factor = 2;
        m.assignments = vec![creatable_replica_assignment(v, n)];
        m.configs = vec![creatable_topic_config(v, n)];
        m
    }

    fn creatable_topic_config(_v: i16, n: bool) -> CreatableTopicConfig {
        let mut m = CreatableTopicConfig::default();
        m.name = text();
        m.value = if n { None } else { Some(text()) };
        m
    }

    pub fn build(v: i16, n: bool) -> CreateTopicsRequest {
        let mut m = CreateTopicsRequest::default();
        m.topics = vec![creatable_topic(v, n)];
        m.timeout_ms = 3;
        m.validate_only = true;
        m
    }
}

pub mod create_topics_response {
    use super::*;
    use kafka_protocol::messages::create_topics_response::*;

    fn creatable_topic_configs(v: i16, n: bool) -> CreatableTopicConfigs {
        let mut m = CreatableTopicConfigs::default();
        if v >= 5 {
            m.name = text();
            m.value = if n { None } else { Some(text()) };
            m.read_only = true;
            m.config_source = 1;
            m.is_sensitive = true;
        }
        m
    }

    fn creatable_topic_result(v: i16, n: bool) -> CreatableTopicResult {
        let mut m = CreatableTopicResult::default();
        m.name = text().into();
        if v >= 7 {
            m.topic_id = uuid!();
        }
        m.error_code = 2;
        m.error_message = if n { None } else { Some(text()) };
        if v >= 5 {
            m.num_partitions = 3;
            m.replication_factor = 2;
            m.configs = if n {
                None
            } else {
                Some(vec![creatable_topic_configs(v, n)])
            };
            m.topic_config_error_code = 2;
        }
        m
    }

    pub fn build(v: i16, n: bool) -> CreateTopicsResponse {
        let mut m = CreateTopicsResponse::default();
        m.throttle_time_ms = 3;
        m.topics = vec![creatable_topic_result(v, n)];
        m
    }
}

pub mod delete_topics_request {
    use super::*;
    use kafka_protocol::messages::delete_topics_request::*;

    fn delete_topic_state(v: i16, n: bool) -> DeleteTopicState {
        let mut m = DeleteTopicState::default();
        if v >= 6 {
            m.name = if n { None } else { Some(text().into()) };
            m.topic_id = uuid!();
        }
        m
    }

    pub fn build(v: i16, n: bool) -> DeleteTopicsRequest {
        let mut m = DeleteTopicsRequest::default();
        if v >= 6 {
            m.topics = vec![delete_topic_state(v, n)];
        }
        if (1..=5).contains(&v) {
            m.topic_names = vec![text().into()];
        }
        m.timeout_ms = 3;
        m
    }
}

pub mod delete_topics_response {
    use super::*;
    use kafka_protocol::messages::delete_topics_response::*;

    fn deletable_topic_result(v: i16, n: bool) -> DeletableTopicResult {
        let mut m = DeletableTopicResult::default();
        m.name = if n { None } else { Some(text().into()) };
        if v >= 6 {
            m.topic_id = uuid!();
        }
        m.error_code = 2;
        if v >= 5 {
            m.error_message = if n { None } else { Some(text()) };
        }
        m
    }

    pub fn build(v: i16, n: bool) -> DeleteTopicsResponse {
        let mut m = DeleteTopicsResponse::default();
        m.throttle_time_ms = 3;
        m.responses = vec![deletable_topic_result(v, n)];
        m
    }
}

pub mod create_partitions_request {
    use super::*;
    use kafka_protocol::messages::create_partitions_request::*;

    fn create_partitions_assignment(_v: i16, _n: bool) -> CreatePartitionsAssignment {
        let mut m = CreatePartitionsAssignment::default();
        m.broker_ids = vec![3i32.into()];
        m
    }

    pub fn build(v: i16, n: bool) -> CreatePartitionsRequest {
        let mut m = CreatePartitionsRequest::default();
        m.topics = vec![create_partitions_topic(v, n)];
        m.timeout_ms = 3;
        m.validate_only = true;
        m
    }

    fn create_partitions_topic(v: i16, n: bool) -> CreatePartitionsTopic {
        let mut m = CreatePartitionsTopic::default();
        m.name = text().into();
        m.count = 3;
        m.assignments = if n {
            None
        } else {
            Some(vec![create_partitions_assignment(v, n)])
        };
        m
    }
}

pub mod create_partitions_response {
    use super::*;
    use kafka_protocol::messages::create_partitions_response::*;

    pub fn build(v: i16, n: bool) -> CreatePartitionsResponse {
        let mut m = CreatePartitionsResponse::default();
        m.throttle_time_ms = 3;
        m.results = vec![create_partitions_topic_result(v, n)];
        m
    }

    fn create_partitions_topic_result(_v: i16, n: bool) -> CreatePartitionsTopicResult {
        let mut m = CreatePartitionsTopicResult::default();
        m.name = text().into();
        m.error_code = 2;
        m.error_message = if n { None } else { Some(text()) };
        m
    }
}

pub mod describe_configs_request {
    use super::*;
    use kafka_protocol::messages::describe_configs_request::*;

    pub fn build(v: i16, n: bool) -> DescribeConfigsRequest {
        let mut m = DescribeConfigsRequest::default();
        m.resources = vec![describe_configs_resource(v, n)];
        m.include_synonyms = true;
        if v >= 3 {
            m.include_documentation = true;
        }
        m
    }

    fn describe_configs_resource(_v: i16, n: bool) -> DescribeConfigsResource {
        let mut m = DescribeConfigsResource::default();
        m.resource_type = 1;
        m.resource_name = text();
        m.configuration_keys = if n { None } else { Some(vec![text()]) };
        m
    }
}

pub mod describe_configs_response {
    use super::*;
    use kafka_protocol::messages::describe_configs_response::*;

    fn describe_configs_resource_result(v: i16, n: bool) -> DescribeConfigsResourceResult {
        let mut m = DescribeConfigsResourceResult::default();
        m.name = text();
        m.value = if n { None } else { Some(text()) };
        m.read_only = true;
        m.config_source = 1;
        m.is_sensitive = true;
        m.synonyms = vec![describe_configs_synonym(v, n)];
        if v >= 3 {
            m.config_type = 1;
            m.documentation = if n { None } else { Some(text()) };
        }
        m
    }

    pub fn build(v: i16, n: bool) -> DescribeConfigsResponse {
        let mut m = DescribeConfigsResponse::default();
        m.throttle_time_ms = 3;
        m.results = vec![describe_configs_result(v, n)];
        m
    }

    fn describe_configs_result(v: i16, n: bool) -> DescribeConfigsResult {
        let mut m = DescribeConfigsResult::default();
        m.error_code = 2;
        m.error_message = if n { None } else { Some(text()) };
        m.resource_type = 1;
        m.resource_name = text();
        m.configs = vec![describe_configs_resource_result(v, n)];
        m
    }

    fn describe_configs_synonym(_v: i16, n: bool) -> DescribeConfigsSynonym {
        let mut m = DescribeConfigsSynonym::default();
        m.name = text();
        m.value = if n { None } else { Some(text()) };
        m.source = 1;
        m
    }
}

pub mod describe_cluster_request {
    use kafka_protocol::messages::describe_cluster_request::*;

    pub fn build(v: i16, _n: bool) -> DescribeClusterRequest {
        let mut m = DescribeClusterRequest::default();
        m.include_cluster_authorized_operations = true;
        if v >= 1 {
            m.endpoint_type = 1;
        }
        if v >= 2 {
            m.include_fenced_brokers = true;
        }
        m
    }
}

pub mod describe_cluster_response {
    use super::*;
    use kafka_protocol::messages::describe_cluster_response::*;

    fn describe_cluster_broker(v: i16, n: bool) -> DescribeClusterBroker {
        let mut m = DescribeClusterBroker::default();
        m.broker_id = 3i32.into();
        m.host = text();
        m.port = 3;
        m.rack = if n { None } else { Some(text()) };
        if v >= 2 {
            m.is_fenced = true;
        }
        m
    }

    pub fn build(v: i16, n: bool) -> DescribeClusterResponse {
        let mut m = DescribeClusterResponse::default();
        m.throttle_time_ms = 3;
        m.error_code = 2;
        m.error_message = if n { None } else { Some(text()) };
        if v >= 1 {
            m.endpoint_type = 1;
        }
        m.cluster_id = text();
        m.controller_id = 3i32.into();
        m.brokers = vec![describe_cluster_broker(v, n)];
        m.cluster_authorized_operations = 3;
        m
    }
}

pub mod init_producer_id_request {
    use super::*;
    use kafka_protocol::messages::init_producer_id_request::*;

    pub fn build(v: i16, n: bool) -> InitProducerIdRequest {
        let mut m = InitProducerIdRequest::default();
        m.transactional_id = if n { None } else { Some(text().into()) };
        m.transaction_timeout_ms = 3;
        if v >= 3 {
            m.producer_id = 4i64.into();
            m.producer_epoch = 2;
        }
        m
    }
}

pub mod init_producer_id_response {
    use kafka_protocol::messages::init_producer_id_response::*;

    pub fn build(v: i16, _n: bool) -> InitProducerIdResponse {
        let mut m = InitProducerIdResponse::default();
        m.throttle_time_ms = 3;
        m.error_code = 2;
        m.producer_id = 4i64.into();
        m.producer_epoch = 2;
        if v >= 6 {
            m.ongoing_txn_producer_id = 4i64.into();
            m.ongoing_txn_producer_epoch = 2;
        }
        m
    }
}

pub mod find_coordinator_request {
    use super::*;
    use kafka_protocol::messages::find_coordinator_request::*;

    pub fn build(v: i16, _n: bool) -> FindCoordinatorRequest {
        let mut m = FindCoordinatorRequest::default();
        if (0..=3).contains(&v) {
            m.key = text();
        }
        if v >= 1 {
            m.key_type = 1;
        }
        if v >= 4 {
            m.coordinator_keys = vec![text()];
        }
        m
    }
}

pub mod find_coordinator_response {
    use super::*;
    use kafka_protocol::messages::find_coordinator_response::*;

    fn coordinator(v: i16, n: bool) -> Coordinator {
        let mut m = Coordinator::default();
        if v >= 4 {
            m.key = text();
            m.node_id = 3i32.into();
            m.host = text();
            m.port = 3;
            m.error_code = 2;
            m.error_message = if n { None } else { Some(text()) };
        }
        m
    }

    pub fn build(v: i16, n: bool) -> FindCoordinatorResponse {
        let mut m = FindCoordinatorResponse::default();
        if v >= 1 {
            m.throttle_time_ms = 3;
        }
        if (0..=3).contains(&v) {
            m.error_code = 2;
        }
        if (1..=3).contains(&v) {
            m.error_message = if n { None } else { Some(text()) };
        }
        if (0..=3).contains(&v) {
            m.node_id = 3i32.into();
            m.host = text();
            m.port = 3;
        }
        if v >= 4 {
            m.coordinators = vec![coordinator(v, n)];
        }
        m
    }
}

pub mod join_group_request {
    use super::*;
    use kafka_protocol::messages::join_group_request::*;

    pub fn build(v: i16, n: bool) -> JoinGroupRequest {
        let mut m = JoinGroupRequest::default();
        m.group_id = text().into();
        m.session_timeout_ms = 3;
        if v >= 1 {
            m.rebalance_timeout_ms = 3;
        }
        m.member_id = text();
        if v >= 5 {
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        m.protocol_type = text();
        m.protocols = vec![join_group_request_protocol(v, n)];
        if v >= 8 {
            m.reason = if n { None } else { Some(text()) };
        }
        m
    }

    fn join_group_request_protocol(_v: i16, _n: bool) -> JoinGroupRequestProtocol {
        let mut m = JoinGroupRequestProtocol::default();
        m.name = text();
        m.metadata = Bytes::from_static(b"bytes");
        m
    }
}

pub mod join_group_response {
    use super::*;
    use kafka_protocol::messages::join_group_response::*;

    pub fn build(v: i16, n: bool) -> JoinGroupResponse {
        let mut m = JoinGroupResponse::default();
        if v >= 2 {
            m.throttle_time_ms = 3;
        }
        m.error_code = 2;
        m.generation_id = 3;
        if v >= 7 {
            m.protocol_type = if n { None } else { Some(text()) };
        }
        m.protocol_name = if n { None } else { Some(text()) };
        m.leader = text();
        if v >= 9 {
            m.skip_assignment = true;
        }
        m.member_id = text();
        m.members = vec![join_group_response_member(v, n)];
        m
    }

    fn join_group_response_member(v: i16, n: bool) -> JoinGroupResponseMember {
        let mut m = JoinGroupResponseMember::default();
        m.member_id = text();
        if v >= 5 {
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        m.metadata = Bytes::from_static(b"bytes");
        m
    }
}

pub mod sync_group_request {
    use super::*;
    use kafka_protocol::messages::sync_group_request::*;

    pub fn build(v: i16, n: bool) -> SyncGroupRequest {
        let mut m = SyncGroupRequest::default();
        m.group_id = text().into();
        m.generation_id = 3;
        m.member_id = text();
        if v >= 3 {
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        if v >= 5 {
            m.protocol_type = if n { None } else { Some(text()) };
            m.protocol_name = if n { None } else { Some(text()) };
        }
        m.assignments = vec![sync_group_request_assignment(v, n)];
        m
    }

    fn sync_group_request_assignment(_v: i16, _n: bool) -> SyncGroupRequestAssignment {
        let mut m = SyncGroupRequestAssignment::default();
        m.member_id = text();
        m.assignment = Bytes::from_static(b"bytes");
        m
    }
}

pub mod sync_group_response {
    use super::*;
    use kafka_protocol::messages::sync_group_response::*;

    pub fn build(v: i16, n: bool) -> SyncGroupResponse {
        let mut m = SyncGroupResponse::default();
        if v >= 1 {
            m.throttle_time_ms = 3;
        }
        m.error_code = 2;
        if v >= 5 {
            m.protocol_type = if n { None } else { Some(text()) };
            m.protocol_name = if n { None } else { Some(text()) };
        }
        m.assignment = Bytes::from_static(b"bytes");
        m
    }
}

pub mod heartbeat_request {
    use super::*;
    use kafka_protocol::messages::heartbeat_request::*;

    pub fn build(v: i16, n: bool) -> HeartbeatRequest {
        let mut m = HeartbeatRequest::default();
        m.group_id = text().into();
        m.generation_id = 3;
        m.member_id = text();
        if v >= 3 {
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        m
    }
}

pub mod heartbeat_response {
    use kafka_protocol::messages::heartbeat_response::*;

    pub fn build(v: i16, _n: bool) -> HeartbeatResponse {
        let mut m = HeartbeatResponse::default();
        if v >= 1 {
            m.throttle_time_ms = 3;
        }
        m.error_code = 2;
        m
    }
}

pub mod leave_group_request {
    use super::*;
    use kafka_protocol::messages::leave_group_request::*;

    pub fn build(v: i16, n: bool) -> LeaveGroupRequest {
        let mut m = LeaveGroupRequest::default();
        m.group_id = text().into();
        if (0..=2).contains(&v) {
            m.member_id = text();
        }
        if v >= 3 {
            m.members = vec![member_identity(v, n)];
        }
        m
    }

    fn member_identity(v: i16, n: bool) -> MemberIdentity {
        let mut m = MemberIdentity::default();
        if v >= 3 {
            m.member_id = text();
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        if v >= 5 {
            m.reason = if n { None } else { Some(text()) };
        }
        m
    }
}

pub mod leave_group_response {
    use super::*;
    use kafka_protocol::messages::leave_group_response::*;

    pub fn build(v: i16, n: bool) -> LeaveGroupResponse {
        let mut m = LeaveGroupResponse::default();
        if v >= 1 {
            m.throttle_time_ms = 3;
        }
        m.error_code = 2;
        if v >= 3 {
            m.members = vec![member_response(v, n)];
        }
        m
    }

    fn member_response(v: i16, n: bool) -> MemberResponse {
        let mut m = MemberResponse::default();
        if v >= 3 {
            m.member_id = text();
            m.group_instance_id = if n { None } else { Some(text()) };
            m.error_code = 2;
        }
        m
    }
}

pub mod offset_commit_request {
    use super::*;
    use kafka_protocol::messages::offset_commit_request::*;

    pub fn build(v: i16, n: bool) -> OffsetCommitRequest {
        let mut m = OffsetCommitRequest::default();
        m.group_id = text().into();
        m.generation_id_or_member_epoch = 3;
        m.member_id = text();
        if v >= 7 {
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        if (2..=4).contains(&v) {
            m.retention_time_ms = 4;
        }
        m.topics = vec![offset_commit_request_topic(v, n)];
        m
    }

    fn offset_commit_request_partition(v: i16, n: bool) -> OffsetCommitRequestPartition {
        let mut m = OffsetCommitRequestPartition::default();
        m.partition_index = 3;
        m.committed_offset = 4;
        if v >= 6 {
            m.committed_leader_epoch = 3;
        }
        m.committed_metadata = if n { None } else { Some(text()) };
        m
    }

    fn offset_commit_request_topic(v: i16, n: bool) -> OffsetCommitRequestTopic {
        let mut m = OffsetCommitRequestTopic::default();
        m.name = text().into();
        m.partitions = vec![offset_commit_request_partition(v, n)];
        m
    }
}

pub mod offset_commit_response {
    use super::*;
    use kafka_protocol::messages::offset_commit_response::*;

    pub fn build(v: i16, n: bool) -> OffsetCommitResponse {
        let mut m = OffsetCommitResponse::default();
        if v >= 3 {
            m.throttle_time_ms = 3;
        }
        m.topics = vec![offset_commit_response_topic(v, n)];
        m
    }

    fn offset_commit_response_partition(_v: i16, _n: bool) -> OffsetCommitResponsePartition {
        let mut m = OffsetCommitResponsePartition::default();
        m.partition_index = 3;
        m.error_code = 2;
        m
    }

    fn offset_commit_response_topic(v: i16, n: bool) -> OffsetCommitResponseTopic {
        let mut m = OffsetCommitResponseTopic::default();
        if (2..=9).contains(&v) {
            m.name = text().into();
        }
        if v >= 10 {
            m.topic_id = uuid!();
        }
        m.partitions = vec![offset_commit_response_partition(v, n)];
        m
    }
}

pub mod offset_fetch_request {
    use super::*;
    use kafka_protocol::messages::offset_fetch_request::*;

    pub fn build(v: i16, n: bool) -> OffsetFetchRequest {
        let mut m = OffsetFetchRequest::default();
        if (1..=7).contains(&v) {
            m.group_id = text().into();
            m.topics = if n {
                None
            } else {
                Some(vec![offset_fetch_request_topic(v, n)])
            };
        }
        if v >= 8 {
            m.groups = vec![offset_fetch_request_group(v, n)];
        }
        if v >= 7 {
            m.require_stable = true;
        }
        m
    }

    fn offset_fetch_request_group(v: i16, n: bool) -> OffsetFetchRequestGroup {
        let mut m = OffsetFetchRequestGroup::default();
        if v >= 8 {
            m.group_id = text().into();
        }
        if v >= 9 {
            m.member_id = if n { None } else { Some(text()) };
            m.member_epoch = 3;
        }
        if v >= 8 {
            m.topics = if n {
                None
            } else {
                Some(vec![offset_fetch_request_topics(v, n)])
            };
        }
        m
    }

    fn offset_fetch_request_topic(v: i16, _n: bool) -> OffsetFetchRequestTopic {
        let mut m = OffsetFetchRequestTopic::default();
        if (1..=7).contains(&v) {
            m.name = text().into();
            m.partition_indexes = vec![3];
        }
        m
    }

    fn offset_fetch_request_topics(v: i16, _n: bool) -> OffsetFetchRequestTopics {
        let mut m = OffsetFetchRequestTopics::default();
        if v >= 8 {
            m.name = text().into();
            m.partition_indexes = vec![3];
        }
        m
    }
}

pub mod offset_fetch_response {
    use super::*;
    use kafka_protocol::messages::offset_fetch_response::*;

    pub fn build(v: i16, n: bool) -> OffsetFetchResponse {
        let mut m = OffsetFetchResponse::default();
        if v >= 3 {
            m.throttle_time_ms = 3;
        }
        if (1..=7).contains(&v) {
            m.topics = vec![offset_fetch_response_topic(v, n)];
        }
        if (2..=7).contains(&v) {
            m.error_code = 2;
        }
        if v >= 8 {
            m.groups = vec![offset_fetch_response_group(v, n)];
        }
        m
    }

    fn offset_fetch_response_group(v: i16, n: bool) -> OffsetFetchResponseGroup {
        let mut m = OffsetFetchResponseGroup::default();
        if v >= 8 {
            m.group_id = text().into();
            m.topics = vec![offset_fetch_response_topics(v, n)];
            m.error_code = 2;
        }
        m
    }

    fn offset_fetch_response_partition(v: i16, n: bool) -> OffsetFetchResponsePartition {
        let mut m = OffsetFetchResponsePartition::default();
        if (1..=7).contains(&v) {
            m.partition_index = 3;
            m.committed_offset = 4;
        }
        if (5..=7).contains(&v) {
            m.committed_leader_epoch = 3;
        }
        if (1..=7).contains(&v) {
            m.metadata = if n { None } else { Some(text()) };
            m.error_code = 2;
        }
        m
    }

    fn offset_fetch_response_partitions(v: i16, n: bool) -> OffsetFetchResponsePartitions {
        let mut m = OffsetFetchResponsePartitions::default();
        if v >= 8 {
            m.partition_index = 3;
            m.committed_offset = 4;
            m.committed_leader_epoch = 3;
            m.metadata = if n { None } else { Some(text()) };
            m.error_code = 2;
        }
        m
    }

    fn offset_fetch_response_topic(v: i16, n: bool) -> OffsetFetchResponseTopic {
        let mut m = OffsetFetchResponseTopic::default();
        if (1..=7).contains(&v) {
            m.name = text().into();
            m.partitions = vec![offset_fetch_response_partition(v, n)];
        }
        m
    }

    fn offset_fetch_response_topics(v: i16, n: bool) -> OffsetFetchResponseTopics {
        let mut m = OffsetFetchResponseTopics::default();
        if (8..=9).contains(&v) {
            m.name = text().into();
        }
        if v >= 10 {
            m.topic_id = uuid!();
        }
        if v >= 8 {
            m.partitions = vec![offset_fetch_response_partitions(v, n)];
        }
        m
    }
}

pub mod describe_groups_request {
    use super::*;
    use kafka_protocol::messages::describe_groups_request::*;

    pub fn build(v: i16, _n: bool) -> DescribeGroupsRequest {
        let mut m = DescribeGroupsRequest::default();
        m.groups = vec![text().into()];
        if v >= 3 {
            m.include_authorized_operations = true;
        }
        m
    }
}

pub mod describe_groups_response {
    use super::*;
    use kafka_protocol::messages::describe_groups_response::*;

    pub fn build(v: i16, n: bool) -> DescribeGroupsResponse {
        let mut m = DescribeGroupsResponse::default();
        if v >= 1 {
            m.throttle_time_ms = 3;
        }
        m.groups = vec![described_group(v, n)];
        m
    }

    fn described_group(v: i16, n: bool) -> DescribedGroup {
        let mut m = DescribedGroup::default();
        m.error_code = 2;
        if v >= 6 {
            m.error_message = if n { None } else { Some(text()) };
        }
        m.group_id = text().into();
        m.group_state = text();
        m.protocol_type = text();
        m.protocol_data = text();
        m.members = vec![described_group_member(v, n)];
        if v >= 3 {
            m.authorized_operations = 3;
        }
        m
    }

    fn described_group_member(v: i16, n: bool) -> DescribedGroupMember {
        let mut m = DescribedGroupMember::default();
        m.member_id = text();
        if v >= 4 {
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        m.client_id = text();
        m.client_host = text();
        m.member_metadata = Bytes::from_static(b"bytes");
        m.member_assignment = Bytes::from_static(b"bytes");
        m
    }
}

pub mod list_groups_request {
    use super::*;
    use kafka_protocol::messages::list_groups_request::*;

    pub fn build(v: i16, _n: bool) -> ListGroupsRequest {
        let mut m = ListGroupsRequest::default();
        if v >= 4 {
            m.states_filter = vec![text()];
        }
        if v >= 5 {
            m.types_filter = vec![text()];
        }
        m
    }
}

pub mod list_groups_response {
    use super::*;
    use kafka_protocol::messages::list_groups_response::*;

    pub fn build(v: i16, n: bool) -> ListGroupsResponse {
        let mut m = ListGroupsResponse::default();
        if v >= 1 {
            m.throttle_time_ms = 3;
        }
        m.error_code = 2;
        m.groups = vec![listed_group(v, n)];
        m
    }

    fn listed_group(v: i16, _n: bool) -> ListedGroup {
        let mut m = ListedGroup::default();
        m.group_id = text().into();
        m.protocol_type = text();
        if v >= 4 {
            m.group_state = text();
        }
        if v >= 5 {
            m.group_type = text();
        }
        m
    }
}

pub mod delete_groups_request {
    use super::*;
    use kafka_protocol::messages::delete_groups_request::*;

    pub fn build(_v: i16, _n: bool) -> DeleteGroupsRequest {
        let mut m = DeleteGroupsRequest::default();
        m.groups_names = vec![text().into()];
        m
    }
}

pub mod delete_groups_response {
    use super::*;
    use kafka_protocol::messages::delete_groups_response::*;

    fn deletable_group_result(_v: i16, _n: bool) -> DeletableGroupResult {
        let mut m = DeletableGroupResult::default();
        m.group_id = text().into();
        m.error_code = 2;
        m
    }

    pub fn build(v: i16, n: bool) -> DeleteGroupsResponse {
        let mut m = DeleteGroupsResponse::default();
        m.throttle_time_ms = 3;
        m.results = vec![deletable_group_result(v, n)];
        m
    }
}

pub mod offset_delete_request {
    use super::*;
    use kafka_protocol::messages::offset_delete_request::*;

    pub fn build(v: i16, n: bool) -> OffsetDeleteRequest {
        let mut m = OffsetDeleteRequest::default();
        m.group_id = text().into();
        m.topics = vec![offset_delete_request_topic(v, n)];
        m
    }

    fn offset_delete_request_partition(_v: i16, _n: bool) -> OffsetDeleteRequestPartition {
        let mut m = OffsetDeleteRequestPartition::default();
        m.partition_index = 3;
        m
    }

    fn offset_delete_request_topic(v: i16, n: bool) -> OffsetDeleteRequestTopic {
        let mut m = OffsetDeleteRequestTopic::default();
        m.name = text().into();
        m.partitions = vec![offset_delete_request_partition(v, n)];
        m
    }
}

pub mod offset_delete_response {
    use super::*;
    use kafka_protocol::messages::offset_delete_response::*;

    pub fn build(v: i16, n: bool) -> OffsetDeleteResponse {
        let mut m = OffsetDeleteResponse::default();
        m.error_code = 2;
        m.throttle_time_ms = 3;
        m.topics = vec![offset_delete_response_topic(v, n)];
        m
    }

    fn offset_delete_response_partition(_v: i16, _n: bool) -> OffsetDeleteResponsePartition {
        let mut m = OffsetDeleteResponsePartition::default();
        m.partition_index = 3;
        m.error_code = 2;
        m
    }

    fn offset_delete_response_topic(v: i16, n: bool) -> OffsetDeleteResponseTopic {
        let mut m = OffsetDeleteResponseTopic::default();
        m.name = text().into();
        m.partitions = vec![offset_delete_response_partition(v, n)];
        m
    }
}

pub mod add_partitions_to_txn_request {
    use super::*;
    use kafka_protocol::messages::add_partitions_to_txn_request::*;

    pub fn build(v: i16, n: bool) -> AddPartitionsToTxnRequest {
        let mut m = AddPartitionsToTxnRequest::default();
        if v >= 4 {
            m.transactions = vec![add_partitions_to_txn_transaction(v, n)];
        }
        if (0..=3).contains(&v) {
            m.v3_and_below_transactional_id = text().into();
            m.v3_and_below_producer_id = 4i64.into();
            m.v3_and_below_producer_epoch = 2;
            m.v3_and_below_topics = vec![add_partitions_to_txn_topic(v, n)];
        }
        m
    }

    fn add_partitions_to_txn_topic(_v: i16, _n: bool) -> AddPartitionsToTxnTopic {
        let mut m = AddPartitionsToTxnTopic::default();
        m.name = text().into();
        m.partitions = vec![3];
        m
    }

    fn add_partitions_to_txn_transaction(v: i16, n: bool) -> AddPartitionsToTxnTransaction {
        let mut m = AddPartitionsToTxnTransaction::default();
        if v >= 4 {
            m.transactional_id = text().into();
            m.producer_id = 4i64.into();
            m.producer_epoch = 2;
            m.verify_only = true;
            m.topics = vec![add_partitions_to_txn_topic(v, n)];
        }
        m
    }
}

pub mod add_partitions_to_txn_response {
    use super::*;
    use kafka_protocol::messages::add_partitions_to_txn_response::*;

    fn add_partitions_to_txn_partition_result(
        _v: i16,
        _n: bool,
    ) -> AddPartitionsToTxnPartitionResult {
        let mut m = AddPartitionsToTxnPartitionResult::default();
        m.partition_index = 3;
        m.partition_error_code = 2;
        m
    }

    pub fn build(v: i16, n: bool) -> AddPartitionsToTxnResponse {
        let mut m = AddPartitionsToTxnResponse::default();
        m.throttle_time_ms = 3;
        if v >= 4 {
            m.error_code = 2;
            m.results_by_transaction = vec![add_partitions_to_txn_result(v, n)];
        }
        if (0..=3).contains(&v) {
            m.results_by_topic_v3_and_below = vec![add_partitions_to_txn_topic_result(v, n)];
        }
        m
    }

    fn add_partitions_to_txn_result(v: i16, n: bool) -> AddPartitionsToTxnResult {
        let mut m = AddPartitionsToTxnResult::default();
        if v >= 4 {
            m.transactional_id = text().into();
            m.topic_results = vec![add_partitions_to_txn_topic_result(v, n)];
        }
        m
    }

    fn add_partitions_to_txn_topic_result(v: i16, n: bool) -> AddPartitionsToTxnTopicResult {
        let mut m = AddPartitionsToTxnTopicResult::default();
        m.name = text().into();
        m.results_by_partition = vec![add_partitions_to_txn_partition_result(v, n)];
        m
    }
}

pub mod add_offsets_to_txn_request {
    use super::*;
    use kafka_protocol::messages::add_offsets_to_txn_request::*;

    pub fn build(_v: i16, _n: bool) -> AddOffsetsToTxnRequest {
        let mut m = AddOffsetsToTxnRequest::default();
        m.transactional_id = text().into();
        m.producer_id = 4i64.into();
        m.producer_epoch = 2;
        m.group_id = text().into();
        m
    }
}

pub mod add_offsets_to_txn_response {
    use kafka_protocol::messages::add_offsets_to_txn_response::*;

    pub fn build(_v: i16, _n: bool) -> AddOffsetsToTxnResponse {
        let mut m = AddOffsetsToTxnResponse::default();
        m.throttle_time_ms = 3;
        m.error_code = 2;
        m
    }
}

pub mod txn_offset_commit_request {
    use super::*;
    use kafka_protocol::messages::txn_offset_commit_request::*;

    pub fn build(v: i16, n: bool) -> TxnOffsetCommitRequest {
        let mut m = TxnOffsetCommitRequest::default();
        m.transactional_id = text().into();
        m.group_id = text().into();
        m.producer_id = 4i64.into();
        m.producer_epoch = 2;
        if v >= 3 {
            m.generation_id = 3;
            m.member_id = text();
            m.group_instance_id = if n { None } else { Some(text()) };
        }
        m.topics = vec![txn_offset_commit_request_topic(v, n)];
        m
    }

    fn txn_offset_commit_request_partition(v: i16, n: bool) -> TxnOffsetCommitRequestPartition {
        let mut m = TxnOffsetCommitRequestPartition::default();
        m.partition_index = 3;
        m.committed_offset = 4;
        if v >= 2 {
            m.committed_leader_epoch = 3;
        }
        m.committed_metadata = if n { None } else { Some(text()) };
        m
    }

    fn txn_offset_commit_request_topic(v: i16, n: bool) -> TxnOffsetCommitRequestTopic {
        let mut m = TxnOffsetCommitRequestTopic::default();
        m.name = text().into();
        m.partitions = vec![txn_offset_commit_request_partition(v, n)];
        m
    }
}

pub mod txn_offset_commit_response {
    use super::*;
    use kafka_protocol::messages::txn_offset_commit_response::*;

    pub fn build(v: i16, n: bool) -> TxnOffsetCommitResponse {
        let mut m = TxnOffsetCommitResponse::default();
        m.throttle_time_ms = 3;
        m.topics = vec![txn_offset_commit_response_topic(v, n)];
        m
    }

    fn txn_offset_commit_response_partition(_v: i16, _n: bool) -> TxnOffsetCommitResponsePartition {
        let mut m = TxnOffsetCommitResponsePartition::default();
        m.partition_index = 3;
        m.error_code = 2;
        m
    }

    fn txn_offset_commit_response_topic(v: i16, n: bool) -> TxnOffsetCommitResponseTopic {
        let mut m = TxnOffsetCommitResponseTopic::default();
        m.name = text().into();
        m.partitions = vec![txn_offset_commit_response_partition(v, n)];
        m
    }
}

pub mod end_txn_request {
    use super::*;
    use kafka_protocol::messages::end_txn_request::*;

    pub fn build(_v: i16, _n: bool) -> EndTxnRequest {
        let mut m = EndTxnRequest::default();
        m.transactional_id = text().into();
        m.producer_id = 4i64.into();
        m.producer_epoch = 2;
        m.committed = true;
        m
    }
}

pub mod end_txn_response {
    use kafka_protocol::messages::end_txn_response::*;

    pub fn build(v: i16, _n: bool) -> EndTxnResponse {
        let mut m = EndTxnResponse::default();
        m.throttle_time_ms = 3;
        m.error_code = 2;
        if v >= 5 {
            m.producer_id = 4i64.into();
            m.producer_epoch = 2;
        }
        m
    }
}

pub mod describe_transactions_request {
    use super::*;
    use kafka_protocol::messages::describe_transactions_request::*;

    pub fn build(_v: i16, _n: bool) -> DescribeTransactionsRequest {
        let mut m = DescribeTransactionsRequest::default();
        m.transactional_ids = vec![text().into()];
        m
    }
}

pub mod describe_transactions_response {
    use super::*;
    use kafka_protocol::messages::describe_transactions_response::*;

    pub fn build(v: i16, n: bool) -> DescribeTransactionsResponse {
        let mut m = DescribeTransactionsResponse::default();
        m.throttle_time_ms = 3;
        m.transaction_states = vec![transaction_state(v, n)];
        m
    }

    fn topic_data(_v: i16, _n: bool) -> TopicData {
        let mut m = TopicData::default();
        m.topic = text().into();
        m.partitions = vec![3];
        m
    }

    fn transaction_state(v: i16, n: bool) -> TransactionState {
        let mut m = TransactionState::default();
        m.error_code = 2;
        m.transactional_id = text().into();
        m.transaction_state = text();
        m.transaction_timeout_ms = 3;
        m.transaction_start_time_ms = 4;
        m.producer_id = 4i64.into();
        m.producer_epoch = 2;
        m.topics = vec![topic_data(v, n)];
        m
    }
}

pub mod list_transactions_request {
    use super::*;
    use kafka_protocol::messages::list_transactions_request::*;

    pub fn build(v: i16, n: bool) -> ListTransactionsRequest {
        let mut m = ListTransactionsRequest::default();
        m.state_filters = vec![text()];
        m.producer_id_filters = vec![4i64.into()];
        if v >= 1 {
            m.duration_filter = 4;
        }
        if v >= 2 {
            m.transactional_id_pattern = if n { None } else { Some(text()) };
        }
        m
    }
}

pub mod list_transactions_response {
    use super::*;
    use kafka_protocol::messages::list_transactions_response::*;

    pub fn build(v: i16, n: bool) -> ListTransactionsResponse {
        let mut m = ListTransactionsResponse::default();
        m.throttle_time_ms = 3;
        m.error_code = 2;
        m.unknown_state_filters = vec![text()];
        m.transaction_states = vec![transaction_state(v, n)];
        m
    }

    fn transaction_state(_v: i16, _n: bool) -> TransactionState {
        let mut m = TransactionState::default();
        m.transactional_id = text().into();
        m.producer_id = 4i64.into();
        m.transaction_state = text();
        m
    }
}

pub mod sasl_handshake_request {
    use super::*;
    use kafka_protocol::messages::sasl_handshake_request::*;

    pub fn build(_v: i16, _n: bool) -> SaslHandshakeRequest {
        let mut m = SaslHandshakeRequest::default();
        m.mechanism = text();
        m
    }
}

pub mod sasl_handshake_response {
    use super::*;
    use kafka_protocol::messages::sasl_handshake_response::*;

    pub fn build(_v: i16, _n: bool) -> SaslHandshakeResponse {
        let mut m = SaslHandshakeResponse::default();
        m.error_code = 2;
        m.mechanisms = vec![text()];
        m
    }
}

pub mod sasl_authenticate_request {
    use super::*;
    use kafka_protocol::messages::sasl_authenticate_request::*;

    pub fn build(_v: i16, _n: bool) -> SaslAuthenticateRequest {
        let mut m = SaslAuthenticateRequest::default();
        m.auth_bytes = Bytes::from_static(b"bytes");
        m
    }
}

pub mod sasl_authenticate_response {
    use super::*;
    use kafka_protocol::messages::sasl_authenticate_response::*;

    pub fn build(v: i16, n: bool) -> SaslAuthenticateResponse {
        let mut m = SaslAuthenticateResponse::default();
        m.error_code = 2;
        m.error_message = if n { None } else { Some(text()) };
        m.auth_bytes = Bytes::from_static(b"bytes");
        if v >= 1 {
            m.session_lifetime_ms = 4;
        }
        m
    }
}

pub mod delete_records_request {
    use super::*;
    use kafka_protocol::messages::delete_records_request::*;

    pub fn build(v: i16, n: bool) -> DeleteRecordsRequest {
        let mut m = DeleteRecordsRequest::default();
        m.topics = vec![delete_records_topic(v, n)];
        m.timeout_ms = 3;
        m
    }

    fn delete_records_partition(_v: i16, _n: bool) -> DeleteRecordsPartition {
        let mut m = DeleteRecordsPartition::default();
        m.partition_index = 3;
        m.offset = 4;
        m
    }

    fn delete_records_topic(v: i16, n: bool) -> DeleteRecordsTopic {
        let mut m = DeleteRecordsTopic::default();
        m.name = text().into();
        m.partitions = vec![delete_records_partition(v, n)];
        m
    }
}

pub mod delete_records_response {
    use super::*;
    use kafka_protocol::messages::delete_records_response::*;

    pub fn build(v: i16, n: bool) -> DeleteRecordsResponse {
        let mut m = DeleteRecordsResponse::default();
        m.throttle_time_ms = 3;
        m.topics = vec![delete_records_topic_result(v, n)];
        m
    }

    fn delete_records_partition_result(_v: i16, _n: bool) -> DeleteRecordsPartitionResult {
        let mut m = DeleteRecordsPartitionResult::default();
        m.partition_index = 3;
        m.low_watermark = 4;
        m.error_code = 2;
        m
    }

    fn delete_records_topic_result(v: i16, n: bool) -> DeleteRecordsTopicResult {
        let mut m = DeleteRecordsTopicResult::default();
        m.name = text().into();
        m.partitions = vec![delete_records_partition_result(v, n)];
        m
    }
}

pub mod incremental_alter_configs_request {
    use super::*;
    use kafka_protocol::messages::incremental_alter_configs_request::*;

    pub fn build(v: i16, n: bool) -> IncrementalAlterConfigsRequest {
        let mut m = IncrementalAlterConfigsRequest::default();
        m.resources = vec![alter_configs_resource(v, n)];
        m.validate_only = true;
        m
    }

    fn alterable_config(_v: i16, n: bool) -> AlterableConfig {
        let mut m = AlterableConfig::default();
        m.name = text();
        m.config_operation = 2;
        m.value = if n { None } else { Some(text()) };
        m
    }

    fn alter_configs_resource(v: i16, n: bool) -> AlterConfigsResource {
        let mut m = AlterConfigsResource::default();
        m.resource_type = 2;
        m.resource_name = text();
        m.configs = vec![alterable_config(v, n)];
        m
    }
}

pub mod incremental_alter_configs_response {
    use super::*;
    use kafka_protocol::messages::incremental_alter_configs_response::*;

    pub fn build(v: i16, n: bool) -> IncrementalAlterConfigsResponse {
        let mut m = IncrementalAlterConfigsResponse::default();
        m.throttle_time_ms = 3;
        m.responses = vec![alter_configs_resource_response(v, n)];
        m
    }

    fn alter_configs_resource_response(_v: i16, n: bool) -> AlterConfigsResourceResponse {
        let mut m = AlterConfigsResourceResponse::default();
        m.error_code = 2;
        m.error_message = if n { None } else { Some(text()) };
        m.resource_type = 2;
        m.resource_name = text();
        m
    }
}

pub mod alter_configs_request {
    use super::*;
    use kafka_protocol::messages::alter_configs_request::*;

    pub fn build(v: i16, n: bool) -> AlterConfigsRequest {
        let mut m = AlterConfigsRequest::default();
        m.resources = vec![alter_configs_resource(v, n)];
        m.validate_only = true;
        m
    }

    fn alterable_config(_v: i16, n: bool) -> AlterableConfig {
        let mut m = AlterableConfig::default();
        m.name = text();
        m.value = if n { None } else { Some(text()) };
        m
    }

    fn alter_configs_resource(v: i16, n: bool) -> AlterConfigsResource {
        let mut m = AlterConfigsResource::default();
        m.resource_type = 2;
        m.resource_name = text();
        m.configs = vec![alterable_config(v, n)];
        m
    }
}

pub mod alter_configs_response {
    use super::*;
    use kafka_protocol::messages::alter_configs_response::*;

    pub fn build(v: i16, n: bool) -> AlterConfigsResponse {
        let mut m = AlterConfigsResponse::default();
        m.throttle_time_ms = 3;
        m.responses = vec![alter_configs_resource_response(v, n)];
        m
    }

    fn alter_configs_resource_response(_v: i16, n: bool) -> AlterConfigsResourceResponse {
        let mut m = AlterConfigsResourceResponse::default();
        m.error_code = 2;
        m.error_message = if n { None } else { Some(text()) };
        m.resource_type = 2;
        m.resource_name = text();
        m
    }
}

pub mod describe_producers_request {
    use super::*;
    use kafka_protocol::messages::describe_producers_request::*;

    pub fn build(_v: i16, _n: bool) -> DescribeProducersRequest {
        let mut t = TopicRequest::default();
        t.name = text().into();
        t.partition_indexes = vec![3];
        let mut m = DescribeProducersRequest::default();
        m.topics = vec![t];
        m
    }
}

pub mod describe_producers_response {
    use super::*;
    use kafka_protocol::messages::describe_producers_response::*;

    pub fn build(_v: i16, n: bool) -> DescribeProducersResponse {
        let mut s = ProducerState::default();
        s.producer_id = 5.into();
        s.producer_epoch = 6;
        s.last_sequence = 7;
        s.last_timestamp = 8;
        s.coordinator_epoch = 9;
        s.current_txn_start_offset = 10;
        let mut p = PartitionResponse::default();
        p.partition_index = 3;
        p.error_code = 2;
        p.error_message = if n { None } else { Some(text()) };
        p.active_producers = vec![s];
        let mut t = TopicResponse::default();
        t.name = text().into();
        t.partitions = vec![p];
        let mut m = DescribeProducersResponse::default();
        m.throttle_time_ms = 3;
        m.topics = vec![t];
        m
    }
}

pub mod describe_log_dirs_request {
    use super::*;
    use kafka_protocol::messages::describe_log_dirs_request::*;

    pub fn build(_v: i16, n: bool) -> DescribeLogDirsRequest {
        let mut t = DescribableLogDirTopic::default();
        t.topic = text().into();
        t.partitions = vec![3];
        let mut m = DescribeLogDirsRequest::default();
        m.topics = if n { None } else { Some(vec![t]) };
        m
    }
}

pub mod describe_log_dirs_response {
    use super::*;
    use kafka_protocol::messages::describe_log_dirs_response::*;

    pub fn build(v: i16, _n: bool) -> DescribeLogDirsResponse {
        let mut p = DescribeLogDirsPartition::default();
        p.partition_index = 3;
        p.partition_size = 4;
        p.offset_lag = 5;
        p.is_future_key = true;
        let mut t = DescribeLogDirsTopic::default();
        t.name = text().into();
        t.partitions = vec![p];
        let mut r = DescribeLogDirsResult::default();
        r.error_code = 2;
        r.log_dir = text();
        r.topics = vec![t];
        if v >= 4 {
            r.total_bytes = 6;
            r.usable_bytes = 7;
        }
        let mut m = DescribeLogDirsResponse::default();
        m.throttle_time_ms = 3;
        if v >= 3 {
            m.error_code = 2;
        }
        m.results = vec![r];
        m
    }
}

pub mod elect_leaders_request {
    use super::*;
    use kafka_protocol::messages::elect_leaders_request::*;

    pub fn build(v: i16, n: bool) -> ElectLeadersRequest {
        let mut t = TopicPartitions::default();
        t.topic = text().into();
        t.partitions = vec![3];
        let mut m = ElectLeadersRequest::default();
        if v >= 1 {
            m.election_type = 1;
        }
        m.topic_partitions = if n { None } else { Some(vec![t]) };
        m.timeout_ms = 3;
        m
    }
}

pub mod elect_leaders_response {
    use super::*;
    use kafka_protocol::messages::elect_leaders_response::*;

    pub fn build(v: i16, n: bool) -> ElectLeadersResponse {
        let mut p = PartitionResult::default();
        p.partition_id = 3;
        p.error_code = 2;
        p.error_message = if n { None } else { Some(text()) };
        let mut r = ReplicaElectionResult::default();
        r.topic = text().into();
        r.partition_result = vec![p];
        let mut m = ElectLeadersResponse::default();
        m.throttle_time_ms = 3;
        if v >= 1 {
            m.error_code = 2;
        }
        m.replica_election_results = vec![r];
        m
    }
}

pub mod describe_user_scram_credentials_request {
    use super::*;
    use kafka_protocol::messages::describe_user_scram_credentials_request::*;

    pub fn build(_v: i16, n: bool) -> DescribeUserScramCredentialsRequest {
        let mut u = UserName::default();
        u.name = text();
        let mut m = DescribeUserScramCredentialsRequest::default();
        m.users = if n { None } else { Some(vec![u]) };
        m
    }
}

pub mod describe_user_scram_credentials_response {
    use super::*;
    use kafka_protocol::messages::describe_user_scram_credentials_response::*;

    pub fn build(_v: i16, n: bool) -> DescribeUserScramCredentialsResponse {
        let mut c = CredentialInfo::default();
        c.mechanism = 2;
        c.iterations = 4096;
        let mut r = DescribeUserScramCredentialsResult::default();
        r.user = text();
        r.error_code = 3;
        r.error_message = if n { None } else { Some(text()) };
        r.credential_infos = vec![c];
        let mut m = DescribeUserScramCredentialsResponse::default();
        m.throttle_time_ms = 4;
        m.error_code = 5;
        m.error_message = if n { None } else { Some(text()) };
        m.results = vec![r];
        m
    }
}

pub mod alter_user_scram_credentials_request {
    use super::*;
    use kafka_protocol::messages::alter_user_scram_credentials_request::*;

    pub fn build(_v: i16, _n: bool) -> AlterUserScramCredentialsRequest {
        let mut d = ScramCredentialDeletion::default();
        d.name = text();
        d.mechanism = 1;
        let mut u = ScramCredentialUpsertion::default();
        u.name = text();
        u.mechanism = 2;
        u.iterations = 8192;
        u.salt = Bytes::from_static(b"salt");
        u.salted_password = Bytes::from_static(b"salted");
        let mut m = AlterUserScramCredentialsRequest::default();
        m.deletions = vec![d];
        m.upsertions = vec![u];
        m
    }
}

pub mod alter_user_scram_credentials_response {
    use super::*;
    use kafka_protocol::messages::alter_user_scram_credentials_response::*;

    pub fn build(_v: i16, n: bool) -> AlterUserScramCredentialsResponse {
        let mut r = AlterUserScramCredentialsResult::default();
        r.user = text();
        r.error_code = 3;
        r.error_message = if n { None } else { Some(text()) };
        let mut m = AlterUserScramCredentialsResponse::default();
        m.throttle_time_ms = 4;
        m.results = vec![r];
        m
    }
}
