//! The three offset requests of a consumer: ListOffsets (where a partition starts and ends,
//! for `auto.offset.reset` and `seek_to_*`), OffsetFetch (what the group committed) and
//! OffsetCommit.
//!
//! Each builds its request for the negotiated version (fields a version lacks are left at
//! their defaults, or the encoder refuses the request), reads the answer defensively (a
//! partition the broker did not answer for is an error naming it, never a panic) and reports
//! per-partition results. Group requests go through the [`CoordinatorLink`] and are retried
//! while the error is retriable and the deadline allows, looking the coordinator up again when
//! it moved.
//!
//! What not: no OffsetCommit v10 (topic ids), no per-offset metadata strings (always empty),
//! no OffsetForLeaderEpoch truncation detection.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    BrokerId, GroupId, ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest,
    OffsetForLeaderEpochRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::group::coordinator::{Coordinator, CoordinatorLink};
use super::group::MemberShared;
use super::record::TopicPartition;
use crate::client::Client;
use crate::error::Error;

/// `timestamp` of ListOffsets for the log start.
pub(crate) const EARLIEST: i64 = -2;
/// `timestamp` of ListOffsets for the end of the log (the last stable offset under
/// `read_committed`).
pub(crate) const LATEST: i64 = -1;

/// An offset to commit, with the leader epoch of the record before it (-1 if unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommitEntry {
    pub offset: i64,
    pub leader_epoch: i32,
}

/// Who commits: a group member, or (generation -1, no member id) a consumer without
/// group membership that commits to its `group.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committer {
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
}

impl Committer {
    pub(crate) fn simple() -> Self {
        Committer {
            generation: -1,
            member_id: String::new(),
            instance_id: None,
        }
    }
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

fn by_topic<T: Clone>(items: &BTreeMap<TopicPartition, T>) -> BTreeMap<&str, Vec<(i32, T)>> {
    let mut out: BTreeMap<&str, Vec<(i32, T)>> = BTreeMap::new();
    for (tp, v) in items {
        out.entry(tp.topic.as_str())
            .or_default()
            .push((tp.partition, v.clone()));
    }
    out
}

/// Runs `op` against the coordinator until it succeeds, fails for good, or `deadline`
/// passes; the coordinator is looked up again after errors that say it moved.
pub(crate) async fn with_coordinator<T, F, Fut>(
    link: &CoordinatorLink,
    deadline: Instant,
    backoff: Duration,
    what: &str,
    mut op: F,
) -> Result<T, Error>
where
    F: FnMut(Arc<Coordinator>) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let started = Instant::now();
    let mut last_error = None;
    loop {
        let attempt = async {
            let c = link.get().await?;
            let r = op(Arc::clone(&c)).await;
            if let Err(err) = &r {
                link.invalidate_on(&c, err);
            }
            r
        };
        let err = match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(v)) => {
                link.progressed();
                return Ok(v);
            }
            Ok(Err(err)) => err,
            Err(_) => {
                return Err(Error::Timeout {
                    operation: format!("{what} for group {}", link.group_id()),
                    after: started.elapsed(),
                    last_error: last_error.map(Box::new),
                })
            }
        };
        if !err.is_retriable() || Instant::now() + backoff >= deadline {
            return Err(err);
        }
        link.failed(what, &err);
        tracing::debug!(group = link.group_id(), %err, "{what}: retrying");
        last_error = Some(err);
        tokio::time::sleep(backoff).await;
    }
}

/// Who commits, read afresh for every attempt.
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// No group membership: generation -1, no member id.
    Simple,
    /// A group member. A cooperative member keeps its partitions through a rebalance, so a
    /// commit refused with REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION is tried again with
    /// the generation the rebalance ends in. (An eager member has given everything up before
    /// it rejoins, so for it those errors are final.)
    Member {
        shared: Arc<MemberShared>,
        cooperative: bool,
    },
}

impl Identity {
    fn current(&self) -> Committer {
        match self {
            Identity::Simple => Committer::simple(),
            Identity::Member { shared, .. } => shared.committer(),
        }
    }

    fn waits_out_rebalances(&self) -> bool {
        matches!(
            self,
            Identity::Member {
                cooperative: true,
                ..
            }
        )
    }
}

/// Commits `offsets` for the group. The first partition error is the result.
pub(crate) async fn commit(
    link: &CoordinatorLink,
    identity: &Identity,
    offsets: &BTreeMap<TopicPartition, CommitEntry>,
    deadline: Instant,
    backoff: Duration,
) -> Result<(), Error> {
    if offsets.is_empty() {
        return Ok(());
    }
    let group = link.group_id().to_owned();
    loop {
        let who = identity.current();
        let result = with_coordinator(link, deadline, backoff, "OffsetCommit", |c| {
            let group = group.clone();
            let who = &who;
            async move {
                let response = c
                    .short()
                    .send_with(|version| commit_request(&group, who, offsets, version))
                    .await?;
                check_commit(&response, offsets)
            }
        })
        .await;
        let rebalancing = matches!(
            result.as_ref().err().and_then(Error::code),
            Some(ErrorCode::REBALANCE_IN_PROGRESS | ErrorCode::ILLEGAL_GENERATION)
        );
        if rebalancing && identity.waits_out_rebalances() && Instant::now() + backoff < deadline {
            tracing::debug!(
                group = link.group_id(),
                "commit during a rebalance; retrying"
            );
            tokio::time::sleep(backoff).await;
            continue;
        }
        return result;
    }
}

fn commit_request(
    group: &str,
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, CommitEntry>,
    version: i16,
) -> OffsetCommitRequest {
    let topics = by_topic(offsets)
        .into_iter()
        .map(|(topic, parts)| {
            OffsetCommitRequestTopic::default()
                .with_name(name(topic))
                .with_partitions(
                    parts
                        .into_iter()
                        .map(|(p, e)| {
                            let mut part = OffsetCommitRequestPartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(e.offset);
                            if version >= 6 {
                                part.committed_leader_epoch = e.leader_epoch;
                            }
                            part
                        })
                        .collect(),
                )
        })
        .collect();
    let mut req = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_generation_id_or_member_epoch(who.generation)
        .with_member_id(StrBytes::from_string(who.member_id.clone()))
        .with_topics(topics);
    if version >= 7 {
        req.group_instance_id = who.instance_id.clone().map(StrBytes::from_string);
    }
    req
}

fn check_commit(
    response: &kafka_protocol::messages::OffsetCommitResponse,
    offsets: &BTreeMap<TopicPartition, CommitEntry>,
) -> Result<(), Error> {
    for tp in offsets.keys() {
        let answer = response
            .topics
            .iter()
            .filter(|t| t.name.0.as_str() == tp.topic)
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == tp.partition);
        match answer {
            Some(p) => Error::check_at(p.error_code, None, Some(&tp.topic), Some(tp.partition))?,
            None => return Err(unanswered(tp, "OffsetCommit")),
        }
    }
    Ok(())
}

fn unanswered(tp: &TopicPartition, api: &str) -> Error {
    Error::Kafka {
        code: ErrorCode::UNKNOWN_SERVER_ERROR,
        message: Some(format!(
            "the {api} response has no answer for this partition"
        )),
        topic: Some(tp.topic.clone()),
        partition: Some(tp.partition),
    }
}

/// A committed offset: where to resume, and the leader epoch stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
}

/// The group's committed offsets for `partitions`; `None` for a partition without one.
/// `require_stable` (for `read_committed`) makes the broker refuse offsets that an open
/// transaction may still change, with the retriable UNSTABLE_OFFSET_COMMIT.
pub(crate) async fn fetch_committed(
    link: &CoordinatorLink,
    partitions: &[TopicPartition],
    require_stable: bool,
    deadline: Instant,
    backoff: Duration,
) -> Result<BTreeMap<TopicPartition, Option<Committed>>, Error> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let group = link.group_id().to_owned();
    with_coordinator(link, deadline, backoff, "OffsetFetch", |c| {
        let group = group.clone();
        async move {
            let response = c
                .short()
                .send_with(|version| fetch_request(&group, partitions, require_stable, version))
                .await?;
            read_committed(response, partitions)
        }
    })
    .await
}

fn fetch_request(
    group: &str,
    partitions: &[TopicPartition],
    require_stable: bool,
    version: i16,
) -> OffsetFetchRequest {
    let mut grouped: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        grouped.entry(&tp.topic).or_default().push(tp.partition);
    }
    let mut req = OffsetFetchRequest::default();
    if version >= 8 {
        let topics = grouped
            .into_iter()
            .map(|(t, ps)| {
                OffsetFetchRequestTopics::default()
                    .with_name(name(t))
                    .with_partition_indexes(ps)
            })
            .collect();
        req.groups = vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
            .with_topics(Some(topics))];
    } else {
        req.group_id = GroupId(StrBytes::from_string(group.to_owned()));
        req.topics = Some(
            grouped
                .into_iter()
                .map(|(t, ps)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(name(t))
                        .with_partition_indexes(ps)
                })
                .collect(),
        );
    }
    if version >= 7 {
        req.require_stable = require_stable;
    }
    req
}

/// Every committed offset of `group` (OffsetFetch with no topics named), by partition;
/// partitions without a commit are left out.
pub(crate) async fn fetch_all_committed(
    conn: &crate::Connection,
    group: &str,
) -> Result<BTreeMap<TopicPartition, i64>, Error> {
    let response = conn
        .send_with(|version| {
            let mut req = fetch_request(group, &[], false, version);
            match req.groups.first_mut() {
                Some(g) => g.topics = None,
                None => req.topics = None,
            }
            req
        })
        .await?;
    let mut out = BTreeMap::new();
    for (topic, partition, offset, _, code) in committed_entries(&response)? {
        Error::check_at(code, None, Some(&topic), Some(partition))?;
        if offset >= 0 {
            out.insert(TopicPartition { topic, partition }, offset);
        }
    }
    Ok(out)
}

/// One partition's answer in an OffsetFetch response: `(topic, partition, offset, leader
/// epoch, error)`.
type CommittedEntry = (String, i32, i64, i32, i16);

/// The answers of an OffsetFetch response, whichever layout its version has, as
/// `(topic, partition, offset, leader epoch, error)`; a group-level error is the `Err`.
fn committed_entries(
    response: &kafka_protocol::messages::OffsetFetchResponse,
) -> Result<Vec<CommittedEntry>, Error> {
    let mut answers = Vec::new();
    if let Some(group) = response.groups.first() {
        Error::check(group.error_code, None)?;
        for t in &group.topics {
            for p in &t.partitions {
                answers.push((
                    t.name.0.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.error_code,
                ));
            }
        }
    } else {
        Error::check(response.error_code, None)?;
        for t in &response.topics {
            for p in &t.partitions {
                answers.push((
                    t.name.0.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.error_code,
                ));
            }
        }
    }
    Ok(answers)
}

fn read_committed(
    response: kafka_protocol::messages::OffsetFetchResponse,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Option<Committed>>, Error> {
    let answers = committed_entries(&response)?;
    let mut out = BTreeMap::new();
    for tp in partitions {
        let Some((_, _, offset, epoch, code)) = answers
            .iter()
            .find(|(t, p, ..)| *t == tp.topic && *p == tp.partition)
        else {
            return Err(unanswered(tp, "OffsetFetch"));
        };
        Error::check_at(*code, None, Some(&tp.topic), Some(tp.partition))?;
        let committed = (*offset >= 0).then_some(Committed {
            offset: *offset,
            leader_epoch: *epoch,
        });
        out.insert(tp.clone(), committed);
    }
    Ok(out)
}

/// One partition to look up with ListOffsets.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub tp: TopicPartition,
    /// [`EARLIEST`], [`LATEST`] or a timestamp.
    pub timestamp: i64,
    /// The leader epoch from metadata, for fencing (-1 if unknown).
    pub leader_epoch: i32,
}

/// What ListOffsets found for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub offset: i64,
    /// The record's timestamp for lookups by time (-1 for earliest and latest).
    pub timestamp: i64,
    pub leader_epoch: i32,
}

/// ListOffsets answers: per partition what was found or its error; the outer error is for
/// the request as a whole.
pub(crate) type Listed = Result<Vec<(TopicPartition, Result<Found, Error>)>, Error>;

/// Offsets (and their leader epochs) for `queries`, all led by `node`.
pub(crate) async fn list_offsets(
    client: &Client,
    node: i32,
    queries: &[ListQuery],
    isolation_level: i8,
) -> Listed {
    let mut grouped: BTreeMap<&str, Vec<&ListQuery>> = BTreeMap::new();
    for q in queries {
        grouped.entry(&q.tp.topic).or_default().push(q);
    }
    let conn = client.connection(node).await?;
    let timeout_ms = i32::try_from(client.config().request_timeout.as_millis()).unwrap_or(i32::MAX);
    let response = conn
        .send_with(|version| {
            let topics = grouped
                .iter()
                .map(|(t, qs)| {
                    ListOffsetsTopic::default()
                        .with_name(name(t))
                        .with_partitions(
                            qs.iter()
                                .map(|q| {
                                    let mut p = ListOffsetsPartition::default()
                                        .with_partition_index(q.tp.partition)
                                        .with_timestamp(q.timestamp);
                                    if version >= 4 {
                                        p.current_leader_epoch = q.leader_epoch;
                                    }
                                    p
                                })
                                .collect(),
                        )
                })
                .collect();
            let mut req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(topics);
            if version >= 2 {
                req.isolation_level = isolation_level;
            }
            if version >= 10 {
                req.timeout_ms = timeout_ms;
            }
            req
        })
        .await?;
    Ok(queries
        .iter()
        .map(|q| {
            let answer = response
                .topics
                .iter()
                .filter(|t| t.name.0.as_str() == q.tp.topic)
                .flat_map(|t| &t.partitions)
                .find(|p| p.partition_index == q.tp.partition);
            let result = match answer {
                None => Err(unanswered(&q.tp, "ListOffsets")),
                Some(p) => {
                    Error::check_at(p.error_code, None, Some(&q.tp.topic), Some(q.tp.partition))
                        .and_then(|()| {
                            if p.offset < 0 {
                                // Kafka answers -1 for a timestamp after the last record.
                                Err(Error::Kafka {
                                    code: ErrorCode::OFFSET_NOT_AVAILABLE,
                                    message: Some(format!(
                                        "no offset for timestamp {}",
                                        q.timestamp
                                    )),
                                    topic: Some(q.tp.topic.clone()),
                                    partition: Some(q.tp.partition),
                                })
                            } else {
                                Ok(Found {
                                    offset: p.offset,
                                    timestamp: p.timestamp,
                                    leader_epoch: p.leader_epoch,
                                })
                            }
                        })
                }
            };
            (q.tp.clone(), result)
        })
        .collect())
}

/// One partition whose position is validated after a leader change (KIP-320).
#[derive(Debug, Clone)]
pub(crate) struct EpochQuery {
    pub tp: TopicPartition,
    /// The leader epoch from metadata, for fencing.
    pub current_leader_epoch: i32,
    /// The epoch of the last record before the position.
    pub leader_epoch: i32,
}

/// OffsetForLeaderEpoch answers: per partition the end of `leader_epoch` in the leader's log
/// as `(epoch, end offset)` (the largest epoch not above it, and where it ends), or its
/// error; the outer error is for the request as a whole.
pub(crate) type EpochEnds = Result<Vec<(TopicPartition, Result<(i32, i64), Error>)>, Error>;

/// Asks `node`, the leader of every partition in `queries`, where each partition's
/// `leader_epoch` ends in its log.
pub(crate) async fn epoch_ends(client: &Client, node: i32, queries: &[EpochQuery]) -> EpochEnds {
    let mut grouped: BTreeMap<&str, Vec<&EpochQuery>> = BTreeMap::new();
    for q in queries {
        grouped.entry(&q.tp.topic).or_default().push(q);
    }
    let conn = client.connection(node).await?;
    let response = conn
        .send_with(|version| {
            let topics = grouped
                .iter()
                .map(|(t, qs)| {
                    OffsetForLeaderTopic::default()
                        .with_topic(name(t))
                        .with_partitions(
                            qs.iter()
                                .map(|q| {
                                    OffsetForLeaderPartition::default()
                                        .with_partition(q.tp.partition)
                                        .with_current_leader_epoch(q.current_leader_epoch)
                                        .with_leader_epoch(q.leader_epoch)
                                })
                                .collect(),
                        )
                })
                .collect();
            let mut req = OffsetForLeaderEpochRequest::default().with_topics(topics);
            if version >= 3 {
                req.replica_id = BrokerId(-1);
            }
            req
        })
        .await?;
    Ok(queries
        .iter()
        .map(|q| {
            let answer = response
                .topics
                .iter()
                .filter(|t| t.topic.0.as_str() == q.tp.topic)
                .flat_map(|t| &t.partitions)
                .find(|p| p.partition == q.tp.partition);
            let result = match answer {
                None => Err(unanswered(&q.tp, "OffsetForLeaderEpoch")),
                Some(p) => {
                    Error::check_at(p.error_code, None, Some(&q.tp.topic), Some(q.tp.partition))
                        .map(|()| (p.leader_epoch, p.end_offset))
                }
            };
            (q.tp.clone(), result)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use ferrokafka_protocol::versions::supported;
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::protocol::Encodable;

    fn tps() -> Vec<TopicPartition> {
        vec![TopicPartition::new("a", 0), TopicPartition::new("b", 3)]
    }

    #[test]
    fn requests_encode_at_every_version_we_speak() {
        let offsets: BTreeMap<TopicPartition, CommitEntry> = tps()
            .into_iter()
            .map(|tp| {
                (
                    tp,
                    CommitEntry {
                        offset: 5,
                        leader_epoch: 2,
                    },
                )
            })
            .collect();
        let who = Committer {
            generation: 3,
            member_id: "m".into(),
            instance_id: Some("i".into()),
        };
        let range = supported(ApiKey::OffsetCommit).unwrap();
        for v in range.min..=range.max {
            commit_request("g", &who, &offsets, v)
                .encode(&mut BytesMut::new(), v)
                .unwrap_or_else(|e| panic!("OffsetCommit v{v}: {e}"));
        }
        let range = supported(ApiKey::OffsetFetch).unwrap();
        for v in range.min..=range.max {
            fetch_request("g", &tps(), true, v)
                .encode(&mut BytesMut::new(), v)
                .unwrap_or_else(|e| panic!("OffsetFetch v{v}: {e}"));
        }
    }

    #[test]
    fn missing_answers_are_errors_naming_the_partition() {
        use kafka_protocol::messages::OffsetFetchResponse;
        let err = read_committed(OffsetFetchResponse::default(), &tps()).unwrap_err();
        assert!(err.to_string().contains("topic a partition 0"), "{err}");
    }
}
