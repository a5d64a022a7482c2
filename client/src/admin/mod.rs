//! [`Admin`]: the cluster's administrative operations, named as the Java AdminClient names
//! them, on top of a [`Client`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrokafka::Error> {
//! use ferrokafka::admin::{AlterConfigOp, ConfigResource, OffsetSpec};
//! use ferrokafka::{Admin, ClientConfig, NewTopic, TopicPartition};
//!
//! let admin = Admin::connect(ClientConfig::new("localhost:9092")?).await?;
//! for (topic, result) in admin.create_topics(&[NewTopic::new("events").partitions(6)]).await? {
//!     println!("{topic}: {result:?}"); // Err(TOPIC_ALREADY_EXISTS …) the second time
//! }
//! let events0 = TopicPartition { topic: "events".into(), partition: 0 };
//! admin.incremental_alter_configs(&[(
//!     ConfigResource::Topic("events".into()),
//!     vec![AlterConfigOp::Set("retention.ms".into(), "86400000".into())],
//! )]).await?;
//! let latest = admin.list_offsets(&[(events0.clone(), OffsetSpec::Latest)]).await?;
//! admin.delete_records(&[(events0, 100)]).await?; // the log now starts at offset 100
//! println!("{latest:?} {:?}", admin.list_group_offsets("billing").await?);
//! admin.close().await;
//! # Ok(()) }
//! ```
//!
//! Routing: topic creation, deletion and growth go to the controller (or any broker, which
//! forwards them, when the controller is unknown or unreachable), as [`Client::create_topics`]
//! does; ListOffsets and DeleteRecords go to each partition's leader, one request per leader;
//! group operations go to the group's coordinator, found and re-found through the consumer's
//! coordinator link; DescribeCluster, DescribeConfigs of topics and Metadata go to any broker,
//! a broker's own configs to that broker; ListGroups to every broker, as groups live on their
//! coordinators.
//!
//! Results: every operation on several items answers per item, in the order given, so one
//! failing topic or group does not fail the rest; the outer `Err` is for the request as a
//! whole (no broker reachable, the client closed). Kafka errors keep their code and message
//! ([`Error::Kafka`]).
//!
//! Retries: group operations retry retriable errors (coordinator moved or loading) with
//! `retry.backoff.ms` until the admin's timeout (Java's `default.api.timeout.ms`, 60 s);
//! the others are sent once, and a retriable per-item error is returned for the caller to
//! act on, as [`Client::create_topics`] always has.
//!
//! Producers, transactions, log dirs and leader elections are in `state.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request;
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{
    CreatePartitionsRequest, DeleteGroupsRequest, DeleteRecordsRequest, DeleteTopicsRequest,
    DescribeClusterRequest, DescribeConfigsRequest, DescribeGroupsRequest, GroupId,
    IncrementalAlterConfigsRequest, ListGroupsRequest, OffsetDeleteRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::client::Client;
use crate::config::ClientConfig;
use crate::consumer::group::coordinator::{Coordinator, CoordinatorLink};
use crate::consumer::group::protocol::Assignment;
use crate::consumer::offsets::{self, CommitEntry, Identity, ListQuery};
use crate::consumer::TopicPartition;
use crate::error::Error;
use crate::metadata::{Broker, PartitionInfo};
use crate::NewTopic;

mod state;

pub use state::{
    ElectionType, LogDirDescription, ProducerState, TransactionDescription, TransactionListing,
};

/// Java's `default.api.timeout.ms`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Java's `retry.backoff.ms`.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Per-item results, in the order the items were given.
pub type Results<K, T> = Vec<(K, Result<T, Error>)>;

/// Administrative operations on a cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
    timeout: Duration,
}

/// Which offset [`Admin::list_offsets`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark (the next offset to be written).
    Latest,
    /// The offset of the record with the largest timestamp (KIP-734).
    MaxTimestamp,
    /// The first offset whose timestamp is at or after this one (milliseconds).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => offsets::EARLIEST,
            OffsetSpec::Latest => offsets::LATEST,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(ts) => ts,
        }
    }
}

/// An offset [`Admin::list_offsets`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset.
    pub offset: i64,
    /// The record's timestamp for lookups by time (-1 for earliest and latest).
    pub timestamp: i64,
    /// The leader epoch it belongs to (-1 when the broker does not say).
    pub leader_epoch: i32,
}

/// A topic as [`Admin::describe_topics`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Its name.
    pub name: String,
    /// Its id (KIP-516); nil from brokers that predate ids.
    pub id: uuid::Uuid,
    /// Whether it is internal (`__consumer_offsets`).
    pub internal: bool,
    /// Its partitions, by index.
    pub partitions: Vec<PartitionInfo>,
}

/// The cluster as [`Admin::describe_cluster`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// The controller's node id (-1 if none).
    pub controller: i32,
    /// Every broker.
    pub brokers: Vec<Broker>,
}

/// What [`Admin::describe_configs`] describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    /// A topic's configs.
    Topic(String),
    /// A broker's configs, by node id.
    Broker(i32),
}

impl ConfigResource {
    /// `(resource type, resource name, the broker to ask)`.
    fn wire(&self) -> (i8, String, Option<i32>) {
        match self {
            ConfigResource::Topic(t) => (2, t.clone(), None),
            ConfigResource::Broker(id) => (4, id.to_string(), Some(*id)),
        }
    }
}

/// One config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key.
    pub name: String,
    /// The value (`None` for sensitive values and unset ones).
    pub value: Option<String>,
    /// Whether it cannot be changed.
    pub read_only: bool,
    /// Whether it is the default (not set on the resource or the broker).
    pub is_default: bool,
    /// Whether the value is secret.
    pub sensitive: bool,
}

/// One change of [`Admin::incremental_alter_configs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Sets `key` to `value`.
    Set(String, String),
    /// Removes `key`'s setting: back to the default.
    Delete(String),
    /// Adds items to a list config (`cleanup.policy`).
    Append(String, String),
    /// Removes items from a list config.
    Subtract(String, String),
}

impl AlterConfigOp {
    fn wire(&self) -> (&str, i8, Option<&str>) {
        match self {
            AlterConfigOp::Set(k, v) => (k, 0, Some(v)),
            AlterConfigOp::Delete(k) => (k, 1, None),
            AlterConfigOp::Append(k, v) => (k, 2, Some(v)),
            AlterConfigOp::Subtract(k, v) => (k, 3, Some(v)),
        }
    }
}

/// A group as [`Admin::list_groups`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// The protocol type (`consumer` for consumer groups; empty for groups that only commit).
    pub protocol_type: String,
    /// Its state (`Stable`, `Empty`, …) when the broker says (ListGroups v4+).
    pub state: Option<String>,
}

/// A group as [`Admin::describe_groups`] describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// Its state (`Stable`, `Empty`, `Dead`, …).
    pub state: String,
    /// The protocol type (`consumer`).
    pub protocol_type: String,
    /// The chosen assignor (`range`, `cooperative-sticky`, …).
    pub protocol: String,
    /// Its members.
    pub members: Vec<MemberDescription>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id`, for static members.
    pub group_instance_id: Option<String>,
    /// Its `client.id`.
    pub client_id: String,
    /// The host it connected from.
    pub client_host: String,
    /// Its partitions (decoded for consumer groups; empty otherwise).
    pub assignment: Vec<TopicPartition>,
}

impl Admin {
    /// Connects a [`Client`] with `config` for admin use.
    pub async fn connect(config: ClientConfig) -> Result<Admin, Error> {
        Ok(Admin::new(Client::connect(config).await?))
    }

    /// Admin operations on an existing client (sharing its connections and metadata).
    pub fn new(client: Client) -> Admin {
        Admin {
            client,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How long group operations keep retrying (Java's `default.api.timeout.ms`, 60 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Admin {
        self.timeout = timeout;
        self
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Closes the client underneath.
    pub async fn close(&self) {
        self.client.close().await;
    }

    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.client.config().request_timeout.as_millis()).unwrap_or(i32::MAX)
    }

    /// Creates topics (see [`Client::create_topics`]).
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<Results<String, ()>, Error> {
        self.client.create_topics(topics).await
    }

    /// Deletes topics by name; per topic `Ok` or, for instance, UNKNOWN_TOPIC_OR_PARTITION.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<Results<String, ()>, Error> {
        let timeout_ms = self.timeout_ms();
        let answer = self
            .client
            .send_to_controller(|version| {
                let mut req = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
                if version >= 6 {
                    req.topics = names
                        .iter()
                        .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
                        .collect();
                } else {
                    req.topic_names = names.iter().map(|n| topic_name(n)).collect();
                }
                req
            })
            .await?;
        Ok(names
            .iter()
            .map(|n| {
                let found = answer
                    .responses
                    .iter()
                    .find(|r| r.name.as_ref().is_some_and(|r| r.0.as_str() == *n))
                    .map(|r| (r.error_code, r.error_message.as_deref()));
                topic_result(n, "DeleteTopics", found)
            })
            .collect())
    }

    /// Grows topics to the given partition counts (Java's `createPartitions`).
    pub async fn create_partitions(
        &self,
        counts: &[(&str, i32)],
    ) -> Result<Results<String, ()>, Error> {
        let timeout_ms = self.timeout_ms();
        let answer = self
            .client
            .send_to_controller(|_| {
                CreatePartitionsRequest::default()
                    .with_timeout_ms(timeout_ms)
                    .with_topics(
                        counts
                            .iter()
                            .map(|(n, count)| {
                                CreatePartitionsTopic::default()
                                    .with_name(topic_name(n))
                                    .with_count(*count)
                                    .with_assignments(None)
                            })
                            .collect(),
                    )
            })
            .await?;
        Ok(counts
            .iter()
            .map(|(n, _)| {
                let found = answer
                    .results
                    .iter()
                    .find(|r| r.name.0.as_str() == *n)
                    .map(|r| (r.error_code, r.error_message.as_deref()));
                topic_result(n, "CreatePartitions", found)
            })
            .collect())
    }

    /// Describes topics from fresh metadata; an unknown topic is UNKNOWN_TOPIC_OR_PARTITION.
    pub async fn describe_topics(
        &self,
        names: &[&str],
    ) -> Result<Results<String, TopicDescription>, Error> {
        let cluster = self.client.metadata(names).await?;
        Ok(names
            .iter()
            .map(|n| {
                let result = match cluster.topics.get(*n) {
                    None => Err(unanswered(n, "Metadata")),
                    Some(t) => {
                        Error::check_at(t.error.0, None, Some(n), None).map(|()| TopicDescription {
                            name: t.name.clone(),
                            id: t.id,
                            internal: t.is_internal,
                            partitions: t.partitions.values().cloned().collect(),
                        })
                    }
                };
                ((*n).to_owned(), result)
            })
            .collect())
    }

    /// The cluster id, the controller and every broker (DescribeCluster).
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, Error> {
        let answer = self
            .client
            .send_to_any(DescribeClusterRequest::default())
            .await?;
        Error::check(answer.error_code, answer.error_message.as_deref())?;
        Ok(ClusterDescription {
            cluster_id: answer.cluster_id.to_string(),
            controller: answer.controller_id.0,
            brokers: answer
                .brokers
                .iter()
                .map(|b| {
                    Broker::new(
                        b.broker_id.0,
                        b.host.to_string(),
                        u16::try_from(b.port).unwrap_or(0),
                        b.rack.as_ref().map(|r| r.to_string()),
                    )
                })
                .collect(),
        })
    }

    /// Looks offsets up on each partition's leader (ListOffsets, read_uncommitted).
    pub async fn list_offsets(
        &self,
        specs: &[(TopicPartition, OffsetSpec)],
    ) -> Result<Results<TopicPartition, ListedOffset>, Error> {
        self.list_offsets_at(specs, 0).await
    }

    /// [`Admin::list_offsets`] with an isolation level (1: read_committed).
    pub(crate) async fn list_offsets_at(
        &self,
        specs: &[(TopicPartition, OffsetSpec)],
        isolation_level: i8,
    ) -> Result<Results<TopicPartition, ListedOffset>, Error> {
        let queries: Vec<ListQuery> = specs
            .iter()
            .map(|(tp, spec)| ListQuery {
                tp: tp.clone(),
                timestamp: spec.wire(),
                leader_epoch: -1,
            })
            .collect();
        let listed = self
            .at_leaders(
                &queries,
                |q| &q.tp,
                |leader, queries| async move {
                    let answered =
                        offsets::list_offsets(&self.client, leader, &queries, isolation_level)
                            .await?;
                    Ok(answered
                        .into_iter()
                        .map(|(tp, result)| {
                            let listed = result.map(|found| ListedOffset {
                                offset: found.offset,
                                timestamp: found.timestamp,
                                leader_epoch: found.leader_epoch,
                            });
                            (tp, listed)
                        })
                        .collect())
                },
            )
            .await;
        Ok(listed)
    }

    /// Deletes the records before each given offset (-1: up to the high watermark) on each
    /// partition's leader; per partition the new low watermark.
    pub async fn delete_records(
        &self,
        before: &[(TopicPartition, i64)],
    ) -> Result<Results<TopicPartition, i64>, Error> {
        let timeout_ms = self.timeout_ms();
        let deleted = self
            .at_leaders(
                before,
                |(tp, _)| tp,
                |leader, items| async move {
                    let request = DeleteRecordsRequest::default()
                        .with_timeout_ms(timeout_ms)
                        .with_topics(
                            by_topic(items.iter().map(|(tp, offset)| (tp, *offset)))
                                .into_iter()
                                .map(|(t, ps)| {
                                    DeleteRecordsTopic::default()
                                        .with_name(topic_name(t))
                                        .with_partitions(
                                            ps.into_iter()
                                                .map(|(p, offset)| {
                                                    DeleteRecordsPartition::default()
                                                        .with_partition_index(p)
                                                        .with_offset(offset)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        );
                    let answer = self.client.send_to(leader, request).await?;
                    Ok(items
                        .iter()
                        .map(|(tp, _)| {
                            let found = answer
                                .topics
                                .iter()
                                .filter(|t| t.name.0.as_str() == tp.topic)
                                .flat_map(|t| &t.partitions)
                                .find(|p| p.partition_index == tp.partition);
                            let result = match found {
                                None => Err(unanswered(&tp.topic, "DeleteRecords")),
                                Some(p) => Error::check_at(
                                    p.error_code,
                                    None,
                                    Some(&tp.topic),
                                    Some(tp.partition),
                                )
                                .map(|()| p.low_watermark),
                            };
                            (tp.clone(), result)
                        })
                        .collect())
                },
            )
            .await;
        Ok(deleted)
    }

    /// Describes configs: topics from any broker, a broker's from that broker.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<Results<ConfigResource, Vec<ConfigEntry>>, Error> {
        let mut out = Vec::with_capacity(resources.len());
        for resource in resources {
            let (kind, name, node) = resource.wire();
            let request = DescribeConfigsRequest::default().with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(kind)
                    .with_resource_name(StrBytes::from_string(name))
                    .with_configuration_keys(None),
            ]);
            let answer = match node {
                Some(node) => self.client.send_to(node, request).await,
                None => self.client.send_to_any(request).await,
            };
            let result = answer.and_then(|answer| {
                let r = answer.results.first().ok_or_else(|| Error::Kafka {
                    code: ferrokafka_protocol::ErrorCode::UNKNOWN_SERVER_ERROR,
                    message: Some("DescribeConfigs answered no resource".into()),
                    topic: None,
                    partition: None,
                })?;
                Error::check(r.error_code, r.error_message.as_deref())?;
                Ok(r.configs
                    .iter()
                    .map(|c| ConfigEntry {
                        name: c.name.to_string(),
                        value: c.value.as_ref().map(|v| v.to_string()),
                        read_only: c.read_only,
                        // Config source 5 is DEFAULT_CONFIG (v1+).
                        is_default: c.config_source == 5,
                        sensitive: c.is_sensitive,
                    })
                    .collect())
            });
            out.push((resource.clone(), result));
        }
        Ok(out)
    }

    /// Changes configs item by item (IncrementalAlterConfigs): topics at any broker, a
    /// broker's at that broker. Each resource is changed whole or not at all; per resource
    /// `Ok` or, for instance, INVALID_CONFIG with the broker's message.
    pub async fn incremental_alter_configs(
        &self,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
    ) -> Result<Results<ConfigResource, ()>, Error> {
        let mut out = Vec::with_capacity(changes.len());
        for (resource, ops) in changes {
            let (kind, name, node) = resource.wire();
            let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(kind)
                    .with_resource_name(StrBytes::from_string(name))
                    .with_configs(
                        ops.iter()
                            .map(|op| {
                                let (key, operation, value) = op.wire();
                                incremental_alter_configs_request::AlterableConfig::default()
                                    .with_name(StrBytes::from_string(key.to_owned()))
                                    .with_config_operation(operation)
                                    .with_value(value.map(|v| StrBytes::from_string(v.to_owned())))
                            })
                            .collect(),
                    ),
            ]);
            let answer = match node {
                Some(node) => self.client.send_to(node, request).await,
                None => self.client.send_to_any(request).await,
            };
            let result = answer.and_then(|answer| {
                let r = answer
                    .responses
                    .first()
                    .ok_or_else(|| unanswered("the resource", "IncrementalAlterConfigs"))?;
                Error::check(r.error_code, r.error_message.as_deref())
            });
            out.push((resource.clone(), result));
        }
        Ok(out)
    }

    /// Every group on every broker (ListGroups to each). A broker that cannot be asked fails
    /// the whole call, as Java's does, since its groups would be missing.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>, Error> {
        let cluster = self.client.metadata(&[]).await?;
        let mut out = Vec::new();
        for node in cluster.brokers.keys() {
            let answer = self
                .client
                .connection(*node)
                .await?
                .send_with(|_| ListGroupsRequest::default())
                .await?;
            Error::check(answer.error_code, None)?;
            out.extend(answer.groups.iter().map(|g| GroupListing {
                group_id: g.group_id.0.to_string(),
                protocol_type: g.protocol_type.to_string(),
                state: (!g.group_state.is_empty()).then(|| g.group_state.to_string()),
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    /// Describes groups at their coordinators; an unknown group is `Dead` with no members
    /// (or GROUP_ID_NOT_FOUND from brokers that say so).
    pub async fn describe_groups(
        &self,
        ids: &[&str],
    ) -> Result<Results<String, GroupDescription>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let result = self
                .at_coordinator(id, "DescribeGroups", |c| async move {
                    let answer = c
                        .short()
                        .send(DescribeGroupsRequest::default().with_groups(vec![group_id(id)]))
                        .await?;
                    let g = answer
                        .groups
                        .into_iter()
                        .find(|g| g.group_id.0.as_str() == *id)
                        .ok_or_else(|| unanswered(id, "DescribeGroups"))?;
                    Error::check(g.error_code, g.error_message.as_deref())?;
                    let consumer = g.protocol_type.as_str() == "consumer";
                    Ok(GroupDescription {
                        group_id: g.group_id.0.to_string(),
                        state: g.group_state.to_string(),
                        protocol_type: g.protocol_type.to_string(),
                        protocol: g.protocol_data.to_string(),
                        members: g
                            .members
                            .iter()
                            .map(|m| MemberDescription {
                                member_id: m.member_id.to_string(),
                                group_instance_id: m
                                    .group_instance_id
                                    .as_ref()
                                    .map(|i| i.to_string()),
                                client_id: m.client_id.to_string(),
                                client_host: m.client_host.to_string(),
                                assignment: consumer
                                    .then(|| Assignment::decode(&m.member_assignment).ok())
                                    .flatten()
                                    .map(|a| a.partitions)
                                    .unwrap_or_default(),
                            })
                            .collect(),
                    })
                })
                .await;
            out.push(((*id).to_owned(), result));
        }
        Ok(out)
    }

    /// Deletes empty groups and their committed offsets (NON_EMPTY_GROUP otherwise).
    pub async fn delete_groups(&self, ids: &[&str]) -> Result<Results<String, ()>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let result = self
                .at_coordinator(id, "DeleteGroups", |c| async move {
                    let answer = c
                        .short()
                        .send(DeleteGroupsRequest::default().with_groups_names(vec![group_id(id)]))
                        .await?;
                    let r = answer
                        .results
                        .iter()
                        .find(|r| r.group_id.0.as_str() == *id)
                        .ok_or_else(|| unanswered(id, "DeleteGroups"))?;
                    Error::check(r.error_code, None)
                })
                .await;
            out.push(((*id).to_owned(), result));
        }
        Ok(out)
    }

    /// Every committed offset of a group (Java's `listConsumerGroupOffsets`), by partition.
    pub async fn list_group_offsets(
        &self,
        id: &str,
    ) -> Result<BTreeMap<TopicPartition, i64>, Error> {
        self.at_coordinator(id, "OffsetFetch", |c| async move {
            offsets::fetch_all_committed(c.short(), id).await
        })
        .await
    }

    /// Sets a group's committed offsets (Java's `alterConsumerGroupOffsets`), as a consumer
    /// without membership commits: the group must have no active members (else, for
    /// instance, UNKNOWN_MEMBER_ID). The first partition error is the result.
    pub async fn alter_group_offsets(
        &self,
        id: &str,
        offsets: &[(TopicPartition, i64)],
    ) -> Result<(), Error> {
        let link = CoordinatorLink::new(self.client.clone(), id.to_owned(), Duration::ZERO);
        let entries = offsets
            .iter()
            .map(|(tp, offset)| {
                (
                    tp.clone(),
                    CommitEntry {
                        offset: *offset,
                        leader_epoch: -1,
                    },
                )
            })
            .collect();
        let deadline = Instant::now() + self.timeout;
        offsets::commit(&link, &Identity::Simple, &entries, deadline, RETRY_BACKOFF).await
    }

    /// Deletes a group's committed offsets for some partitions (OffsetDelete): per partition
    /// `Ok` or, for instance, GROUP_SUBSCRIBED_TO_TOPIC; the outer error is the group's
    /// (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP).
    pub async fn delete_group_offsets(
        &self,
        id: &str,
        partitions: &[TopicPartition],
    ) -> Result<Results<TopicPartition, ()>, Error> {
        let request = OffsetDeleteRequest::default()
            .with_group_id(group_id(id))
            .with_topics(
                by_topic(partitions.iter().map(|tp| (tp, ())))
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetDeleteRequestTopic::default()
                            .with_name(topic_name(t))
                            .with_partitions(
                                ps.into_iter()
                                    .map(|(p, ())| {
                                        OffsetDeleteRequestPartition::default()
                                            .with_partition_index(p)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let answer = self
            .at_coordinator(id, "OffsetDelete", |c| {
                let request = request.clone();
                async move {
                    let answer = c.short().send(request).await?;
                    Error::check(answer.error_code, None)?;
                    Ok(answer)
                }
            })
            .await?;
        Ok(partitions
            .iter()
            .map(|tp| {
                let found = answer
                    .topics
                    .iter()
                    .filter(|t| t.name.0.as_str() == tp.topic)
                    .flat_map(|t| &t.partitions)
                    .find(|p| p.partition_index == tp.partition);
                let result = match found {
                    Some(p) => {
                        Error::check_at(p.error_code, None, Some(&tp.topic), Some(tp.partition))
                    }
                    None => Err(unanswered(&tp.topic, "OffsetDelete")),
                };
                (tp.clone(), result)
            })
            .collect())
    }

    /// Sends one request per partition leader for `items` (each naming its partition by
    /// `key`) and gathers the per-partition results in the order given: `ask(leader, items)`
    /// sends the request for the items `leader` leads and answers per partition. A partition
    /// whose leader cannot be found gets that error, one whose leader's request failed as a
    /// whole that failure ([`Error::Shared`]); a repeated one INVALID_REQUEST.
    async fn at_leaders<I, T, K, F, Fut>(
        &self,
        items: &[I],
        key: K,
        mut ask: F,
    ) -> Results<TopicPartition, T>
    where
        I: Clone,
        K: Fn(&I) -> &TopicPartition,
        F: FnMut(i32, Vec<I>) -> Fut,
        Fut: std::future::Future<Output = Result<Results<TopicPartition, T>, Error>>,
    {
        let mut per_leader: BTreeMap<i32, Vec<I>> = BTreeMap::new();
        let mut results: BTreeMap<TopicPartition, Result<T, Error>> = BTreeMap::new();
        for item in items {
            let tp = key(item);
            if results.contains_key(tp) || per_leader.values().flatten().any(|i| key(i) == tp) {
                continue;
            }
            match self.client.leader_for(&tp.topic, tp.partition).await {
                Ok(leader) => per_leader.entry(leader).or_default().push(item.clone()),
                Err(err) => {
                    results.insert(tp.clone(), Err(err));
                }
            }
        }
        for (leader, batch) in per_leader {
            match ask(leader, batch.clone()).await {
                Ok(answered) => {
                    for (item, result) in per_item(&batch, &key, answered) {
                        results.insert(key(item).clone(), result);
                    }
                }
                // This leader's partitions fail; the other leaders' are still asked.
                Err(err) => {
                    tracing::warn!(leader, %err, partitions = batch.len(), "admin request to a partition leader failed");
                    let err = Arc::new(err);
                    for item in &batch {
                        results.insert(key(item).clone(), Err(Error::Shared(Arc::clone(&err))));
                    }
                }
            }
        }
        in_order(items.iter().map(key), results)
    }

    /// Runs `op` at `group`'s coordinator, finding it again and retrying retriable errors
    /// (with `retry.backoff.ms`) until the admin's timeout.
    async fn at_coordinator<T, F, Fut>(&self, group: &str, what: &str, op: F) -> Result<T, Error>
    where
        F: FnMut(Arc<Coordinator>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let link = CoordinatorLink::new(self.client.clone(), group.to_owned(), Duration::ZERO);
        let deadline = Instant::now() + self.timeout;
        offsets::with_coordinator(&link, deadline, RETRY_BACKOFF, what, op).await
    }
}

/// Each item of `items` with its result from `results` (found by `key`).
fn per_item<I, T>(
    items: &[I],
    key: impl Fn(&I) -> &TopicPartition,
    results: Results<TopicPartition, T>,
) -> Vec<(&I, Result<T, Error>)> {
    let mut by_tp: BTreeMap<TopicPartition, Result<T, Error>> = results.into_iter().collect();
    items
        .iter()
        .map(|i| {
            let tp = key(i);
            let r = by_tp
                .remove(tp)
                .unwrap_or_else(|| Err(unanswered(&tp.topic, "the request")));
            (i, r)
        })
        .collect()
}

/// `results` in the order of `keys`; a partition given more than once is answered for its
/// first appearance, and its repeats get INVALID_REQUEST (as a Java map would not hold them).
fn in_order<'k, T>(
    keys: impl Iterator<Item = &'k TopicPartition>,
    mut results: BTreeMap<TopicPartition, Result<T, Error>>,
) -> Results<TopicPartition, T> {
    let mut seen = std::collections::BTreeSet::new();
    keys.map(|tp| {
        let r = if seen.insert(tp) {
            results
                .remove(tp)
                .unwrap_or_else(|| Err(unanswered(&tp.topic, "the request")))
        } else {
            Err(Error::Kafka {
                code: ferrokafka_protocol::ErrorCode::INVALID_REQUEST,
                message: Some("the partition is given more than once".into()),
                topic: Some(tp.topic.clone()),
                partition: Some(tp.partition),
            })
        };
        (tp.clone(), r)
    })
    .collect()
}

/// A topic's result from the `(error code, message)` an answer has for it, if any.
fn topic_result(
    topic: &str,
    api: &str,
    found: Option<(i16, Option<&str>)>,
) -> (String, Result<(), Error>) {
    let result = match found {
        Some((code, message)) => Error::check_at(code, message, Some(topic), None),
        None => Err(unanswered(topic, api)),
    };
    (topic.to_owned(), result)
}

fn unanswered(item: &str, api: &str) -> Error {
    Error::Kafka {
        code: ferrokafka_protocol::ErrorCode::UNKNOWN_SERVER_ERROR,
        message: Some(format!("{api} did not answer for {item}")),
        topic: None,
        partition: None,
    }
}

/// Partitions (with a value each) grouped by topic, for requests that name topics once.
fn by_topic<'a, T>(
    items: impl IntoIterator<Item = (&'a TopicPartition, T)>,
) -> BTreeMap<&'a str, Vec<(i32, T)>> {
    let mut out: BTreeMap<&str, Vec<(i32, T)>> = BTreeMap::new();
    for (tp, value) in items {
        out.entry(&tp.topic)
            .or_default()
            .push((tp.partition, value));
    }
    out
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

fn group_id(id: &str) -> GroupId {
    GroupId(StrBytes::from_string(id.to_owned()))
}
