//! The client's view of the cluster: brokers by node id, topics, partitions and their leaders.
//!
//! A [`Cluster`] is an immutable snapshot; a refresh builds a new one and swaps it in, so
//! readers never see half an update and never hold a lock across an await. What is fetched is
//! the client's *interest*: the topics anyone asked about (or all topics, once someone asked
//! for all), so that the periodic refresh (`metadata.max.age.ms`) keeps every topic in use up
//! to date in one request.
//!
//! A broker that has not heard of a leader change yet may answer with an older view of a
//! partition: a partition whose leader epoch is lower than the one already known (same topic
//! id) keeps the known entry, as Java's client does, so routing never moves back to a deposed
//! leader.
//!
//! Auto-creation, as Java's clients: a Metadata request asks the broker to create the topics
//! it names when the client allows it ([`crate::Client`] takes that from the producer's or
//! the consumer's `allow.auto.create.topics`; a plain client and the admin helpers never
//! do). The broker's `auto.create.topics.enable` must allow it too. Before v4 a Metadata
//! request cannot say no: the broker decides alone.
//!
//! What not: no topic ids in routing (names only).

use std::collections::{BTreeMap, BTreeSet};

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::error::Error;

/// One broker as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Broker {
    /// The node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: u16,
    /// Rack, if the broker has one configured.
    pub rack: Option<String>,
}

impl Broker {
    /// A broker as a response names it.
    pub fn new(node_id: i32, host: String, port: u16, rack: Option<String>) -> Broker {
        Broker {
            node_id,
            host,
            port,
            rack,
        }
    }

    /// `host:port`, bracketing IPv6 literals.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionInfo {
    /// The partition index.
    pub partition: i32,
    /// The leader's node id; `None` while the partition has no leader.
    pub leader: Option<i32>,
    /// The leader epoch (-1 when the broker does not say).
    pub leader_epoch: i32,
    /// All replicas.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// The partition-level error (`NONE` when fine, `LEADER_NOT_AVAILABLE` during elections).
    pub error: ErrorCode,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicInfo {
    /// The topic name.
    pub name: String,
    /// The topic-level error (`UNKNOWN_TOPIC_OR_PARTITION` for a topic that does not exist).
    pub error: ErrorCode,
    /// Whether the topic is internal (`__consumer_offsets`).
    pub is_internal: bool,
    /// The topic id (KIP-516); nil when the broker's Metadata version predates ids (v10).
    pub id: uuid::Uuid,
    /// Partitions by index.
    pub partitions: BTreeMap<i32, PartitionInfo>,
}

/// A snapshot of the cluster.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Cluster {
    /// The cluster id, from Metadata v2 on.
    pub cluster_id: Option<String>,
    /// The controller's node id, if known (Kafka brokers in KRaft mode name a random broker).
    pub controller: Option<i32>,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, Broker>,
    /// Topics by name: those asked about, or all of them.
    pub topics: BTreeMap<String, TopicInfo>,
    /// When this snapshot was received.
    pub fetched_at: Instant,
}

impl Cluster {
    pub(crate) fn empty() -> Cluster {
        Cluster {
            cluster_id: None,
            controller: None,
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            fetched_at: Instant::now(),
        }
    }

    /// The leader of `topic`/`partition`, as an error naming both when there is none.
    ///
    /// A leader that is not among the known brokers counts as no leader.
    pub fn leader(&self, topic: &str, partition: i32) -> Result<i32, Error> {
        let unknown = |code: ErrorCode| Error::Kafka {
            code,
            message: None,
            topic: Some(topic.to_owned()),
            partition: Some(partition),
        };
        let info = self
            .topics
            .get(topic)
            .ok_or_else(|| unknown(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION))?;
        if !info.error.is_ok() {
            return Err(unknown(info.error));
        }
        let part = info
            .partitions
            .get(&partition)
            .ok_or_else(|| unknown(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION))?;
        match part.leader {
            Some(leader) if self.brokers.contains_key(&leader) => Ok(leader),
            _ if !part.error.is_ok() => Err(unknown(part.error)),
            _ => Err(unknown(ErrorCode::LEADER_NOT_AVAILABLE)),
        }
    }

    /// The leader epoch of a partition, -1 when unknown.
    pub fn leader_epoch(&self, tp: &crate::consumer::TopicPartition) -> i32 {
        self.topics
            .get(&tp.topic)
            .and_then(|t| t.partitions.get(&tp.partition))
            .map_or(-1, |p| p.leader_epoch)
    }

    /// The broker with `node_id`.
    pub fn broker(&self, node_id: i32) -> Option<&Broker> {
        self.brokers.get(&node_id)
    }
}

/// Which topics the client keeps up to date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Interest {
    pub(crate) all: bool,
    pub(crate) topics: BTreeSet<String>,
}

impl Interest {
    /// Adds `topics`; an empty list means all topics, from now on.
    pub(crate) fn add(&mut self, topics: &[&str]) {
        if topics.is_empty() {
            self.all = true;
        }
        self.topics.extend(topics.iter().map(|t| (*t).to_owned()));
    }
}

/// A Metadata request for `interest` at `version`; `auto_create` asks the broker to create
/// the topics it names that do not exist.
pub(crate) fn request(interest: &Interest, version: i16, auto_create: bool) -> MetadataRequest {
    let topics = if interest.all {
        // v0 has no null array: an empty one means all topics there.
        (version == 0).then(Vec::new)
    } else {
        Some(
            interest
                .topics
                .iter()
                .map(|name| {
                    MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                })
                .collect(),
        )
    };
    let mut req = MetadataRequest::default().with_topics(topics);
    if version >= 4 {
        req.allow_auto_topic_creation = auto_create;
    }
    req
}

/// The snapshot a response (from `broker`, at `version`) describes. With a partial interest,
/// topics outside it keep their entries from `previous`.
pub(crate) fn update(
    previous: &Cluster,
    interest: &Interest,
    response: MetadataResponse,
    (broker, version): (&str, i16),
) -> Result<Cluster, Error> {
    let mut brokers = BTreeMap::new();
    for b in response.brokers {
        let port = u16::try_from(b.port).map_err(|_| Error::MalformedResponse {
            broker: broker.to_owned(),
            api: ApiKey::Metadata,
            version,
            reason: format!("broker {} has port {}", b.node_id.0, b.port),
        })?;
        brokers.insert(
            b.node_id.0,
            Broker {
                node_id: b.node_id.0,
                host: b.host.to_string(),
                port,
                rack: b.rack.map(|r| r.to_string()),
            },
        );
    }
    let mut topics = if interest.all {
        BTreeMap::new()
    } else {
        previous.topics.clone()
    };
    for t in response.topics {
        // Names are null only in answers to requests by topic id, which we do not send.
        let Some(name) = t.name else { continue };
        let name = name.0.to_string();
        let partitions = t
            .partitions
            .into_iter()
            .map(|p| {
                let info = PartitionInfo {
                    partition: p.partition_index,
                    leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|n| n.0).collect(),
                    isr: p.isr_nodes.iter().map(|n| n.0).collect(),
                    error: ErrorCode(p.error_code),
                };
                // Same topic id: a topic deleted and created again starts its epochs over.
                let known = previous
                    .topics
                    .get(&name)
                    .filter(|known| known.id == t.topic_id)
                    .and_then(|t| t.partitions.get(&p.partition_index))
                    .filter(|k| info.leader_epoch >= 0 && k.leader_epoch > info.leader_epoch);
                (p.partition_index, known.cloned().unwrap_or(info))
            })
            .collect();
        let info = TopicInfo {
            name: name.clone(),
            error: ErrorCode(t.error_code),
            is_internal: t.is_internal,
            id: t.topic_id,
            partitions,
        };
        topics.insert(name, info);
    }
    Ok(Cluster {
        cluster_id: response.cluster_id.map(|id| id.to_string()),
        controller: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
        brokers,
        topics,
        fetched_at: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::BrokerId;

    const AT: (&str, i16) = ("h:9092", 12);

    fn response(topic: &str, leader: i32) -> MetadataResponse {
        MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("h"))
                .with_port(9092)])
            .with_controller_id(BrokerId(1))
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.to_owned()))))
                .with_partitions(vec![MetadataResponsePartition::default()
                    .with_partition_index(0)
                    .with_leader_id(BrokerId(leader))])])
    }

    #[test]
    fn leaders_and_their_errors() {
        let mut interest = Interest::default();
        interest.add(&["a"]);
        let c = update(&Cluster::empty(), &interest, response("a", 1), AT).unwrap();
        assert_eq!(c.leader("a", 0).unwrap(), 1);
        assert_eq!(c.broker(1).unwrap().address(), "h:9092");
        let e = c.leader("a", 1).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
        assert!(e.to_string().contains("topic a partition 1"), "{e}");
        assert!(c.leader("b", 0).is_err());

        // A leader that is not a known broker, or none at all.
        for leader in [-1, 7] {
            let c = update(&c, &interest, response("a", leader), AT).unwrap();
            let e = c.leader("a", 0).unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::LEADER_NOT_AVAILABLE));
        }
    }

    #[test]
    fn an_older_leader_epoch_does_not_replace_a_newer_one() {
        let mut interest = Interest::default();
        interest.add(&["a"]);
        let with_epoch = |leader: i32, epoch: i32| {
            let mut r = response("a", leader);
            for t in &mut r.topics {
                for p in &mut t.partitions {
                    p.leader_epoch = epoch;
                }
            }
            r
        };
        let c = update(&Cluster::empty(), &interest, with_epoch(1, 5), AT).unwrap();
        // A broker that lags behind answers with epoch 4 and another leader: ignored.
        let c = update(&c, &interest, with_epoch(-1, 4), AT).unwrap();
        assert_eq!(c.topics["a"].partitions[&0].leader_epoch, 5);
        assert_eq!(c.leader("a", 0).unwrap(), 1);
        // A newer epoch wins, and so does an answer without an epoch (old brokers).
        let c = update(&c, &interest, with_epoch(-1, 6), AT).unwrap();
        assert_eq!(c.topics["a"].partitions[&0].leader_epoch, 6);
        let c = update(&c, &interest, with_epoch(1, -1), AT).unwrap();
        assert_eq!(c.leader("a", 0).unwrap(), 1);
    }

    #[test]
    fn partial_refresh_keeps_other_topics_full_refresh_replaces() {
        let mut interest = Interest::default();
        interest.add(&["a"]);
        let c = update(&Cluster::empty(), &interest, response("a", 1), AT).unwrap();
        interest.add(&["b"]);
        let c = update(&c, &interest, response("b", 1), AT).unwrap();
        assert_eq!(c.topics.keys().collect::<Vec<_>>(), ["a", "b"]);
        interest.add(&[]);
        let c = update(&c, &interest, response("b", 1), AT).unwrap();
        assert_eq!(c.topics.keys().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn all_topics_request_per_version() {
        let mut all = Interest::default();
        all.add(&[]);
        assert_eq!(request(&all, 0, false).topics, Some(vec![]));
        assert_eq!(request(&all, 12, false).topics, None);
        assert!(!request(&all, 12, false).allow_auto_topic_creation);
        assert!(
            request(&all, 3, false).allow_auto_topic_creation,
            "v3 cannot say no"
        );
    }

    #[test]
    fn auto_creation_is_asked_for_only_when_allowed() {
        let mut some = Interest::default();
        some.add(&["a"]);
        assert!(request(&some, 12, true).allow_auto_topic_creation);
        assert!(!request(&some, 12, false).allow_auto_topic_creation);
        assert!(request(&some, 4, true).allow_auto_topic_creation);
        assert!(!request(&some, 4, false).allow_auto_topic_creation);
    }
}
