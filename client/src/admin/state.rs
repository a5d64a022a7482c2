//! What the brokers hold beyond topics and groups: producer states (at partition leaders),
//! transactions (at their coordinators, listed from every broker), log directories (at each
//! broker) and leader elections (at the controller).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{
    DescribeLogDirsRequest, DescribeProducersRequest, DescribeTransactionsRequest,
    ElectLeadersRequest, ListTransactionsRequest, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::{by_topic, topic_name, unanswered, Admin, Results};
use crate::client::CoordinatorType;
use crate::consumer::TopicPartition;
use crate::error::Error;

/// One producer with state in a partition ([`Admin::describe_producers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i32,
    /// The last sequence it wrote here (-1 if unknown).
    pub last_sequence: i32,
    /// The timestamp of its last batch here (-1 if unknown).
    pub last_timestamp: i64,
    /// The epoch of the coordinator of its last transaction marker (-1 if none).
    pub coordinator_epoch: i32,
    /// The first offset of its open transaction here (`None` if none).
    pub current_transaction_start_offset: Option<i64>,
}

/// A transaction as [`Admin::list_transactions`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its state (`Ongoing`, `CompleteCommit`, `Empty`, …).
    pub state: String,
}

/// A transaction as [`Admin::describe_transactions`] describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// Its state.
    pub state: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its producer epoch.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// When the current transaction started (ms since the epoch; -1 if none is open).
    pub start_time_ms: i64,
    /// The partitions in the current transaction.
    pub partitions: Vec<TopicPartition>,
}

/// One log directory of a broker ([`Admin::describe_log_dirs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDirDescription {
    /// Its path.
    pub path: String,
    /// Its error (`Ok` when usable).
    pub error: Result<(), String>,
    /// The partitions it holds: `(partition, size in bytes, offset lag)`.
    pub replicas: Vec<(TopicPartition, i64, i64)>,
}

/// The kind of election [`Admin::elect_leaders`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// Move leadership to the preferred replica.
    Preferred,
    /// Elect an out-of-sync replica when no in-sync one is left (may lose data).
    Unclean,
}

impl Admin {
    /// The producers with state in each partition, at its leader (DescribeProducers).
    pub async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<Results<TopicPartition, Vec<ProducerState>>, Error> {
        let described = self
            .at_leaders(
                partitions,
                |tp| tp,
                |leader, tps| async move {
                    let request = DescribeProducersRequest::default().with_topics(
                        by_topic(tps.iter().map(|tp| (tp, ())))
                            .into_iter()
                            .map(|(t, ps)| {
                                TopicRequest::default()
                                    .with_name(topic_name(t))
                                    .with_partition_indexes(
                                        ps.into_iter().map(|(p, ())| p).collect(),
                                    )
                            })
                            .collect(),
                    );
                    let answer = self.client.send_to(leader, request).await?;
                    Ok(tps
                        .iter()
                        .map(|tp| {
                            let found = answer
                                .topics
                                .iter()
                                .filter(|t| t.name.0.as_str() == tp.topic)
                                .flat_map(|t| &t.partitions)
                                .find(|p| p.partition_index == tp.partition);
                            let result = match found {
                                None => Err(unanswered(&tp.topic, "DescribeProducers")),
                                Some(p) => Error::check_at(
                                    p.error_code,
                                    p.error_message.as_deref(),
                                    Some(&tp.topic),
                                    Some(tp.partition),
                                )
                                .map(|()| {
                                    p.active_producers
                                        .iter()
                                        .map(|s| ProducerState {
                                            producer_id: s.producer_id.0,
                                            producer_epoch: s.producer_epoch,
                                            last_sequence: s.last_sequence,
                                            last_timestamp: s.last_timestamp,
                                            coordinator_epoch: s.coordinator_epoch,
                                            current_transaction_start_offset: (s
                                                .current_txn_start_offset
                                                >= 0)
                                                .then_some(s.current_txn_start_offset),
                                        })
                                        .collect()
                                }),
                            };
                            (tp.clone(), result)
                        })
                        .collect())
                },
            )
            .await;
        Ok(described)
    }

    /// Every transaction on every broker (ListTransactions to each).
    pub async fn list_transactions(&self) -> Result<Vec<TransactionListing>, Error> {
        let cluster = self.client.metadata(&[]).await?;
        let mut out = Vec::new();
        for node in cluster.brokers.keys() {
            let answer = self
                .client
                .send_to(*node, ListTransactionsRequest::default())
                .await?;
            Error::check(answer.error_code, None)?;
            out.extend(
                answer
                    .transaction_states
                    .iter()
                    .map(|t| TransactionListing {
                        transactional_id: t.transactional_id.0.to_string(),
                        producer_id: t.producer_id.0,
                        state: t.transaction_state.to_string(),
                    }),
            );
        }
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        Ok(out)
    }

    /// Describes transactions at their coordinators; an unknown transactional id is
    /// TRANSACTIONAL_ID_NOT_FOUND.
    pub async fn describe_transactions(
        &self,
        ids: &[&str],
    ) -> Result<Results<String, TransactionDescription>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let result = async {
                let coordinator = self
                    .client
                    .find_coordinator(CoordinatorType::Transaction, id)
                    .await?;
                let answer = self
                    .client
                    .send_to(
                        coordinator.node_id,
                        DescribeTransactionsRequest::default().with_transactional_ids(vec![
                            TransactionalId(StrBytes::from_string((*id).to_owned())),
                        ]),
                    )
                    .await?;
                let t = answer
                    .transaction_states
                    .iter()
                    .find(|t| t.transactional_id.0.as_str() == *id)
                    .ok_or_else(|| unanswered(id, "DescribeTransactions"))?;
                Error::check(t.error_code, None)?;
                Ok(TransactionDescription {
                    state: t.transaction_state.to_string(),
                    producer_id: t.producer_id.0,
                    producer_epoch: t.producer_epoch,
                    timeout_ms: t.transaction_timeout_ms,
                    start_time_ms: t.transaction_start_time_ms,
                    partitions: t
                        .topics
                        .iter()
                        .flat_map(|topic| {
                            topic.partitions.iter().map(|p| TopicPartition {
                                topic: topic.topic.0.to_string(),
                                partition: *p,
                            })
                        })
                        .collect(),
                })
            }
            .await;
            out.push(((*id).to_owned(), result));
        }
        Ok(out)
    }

    /// Each broker's log directories and the partitions in them (DescribeLogDirs, all
    /// partitions).
    pub async fn describe_log_dirs(
        &self,
        brokers: &[i32],
    ) -> Result<Results<i32, Vec<LogDirDescription>>, Error> {
        let mut out = Vec::with_capacity(brokers.len());
        for node in brokers {
            let result = self
                .client
                .send_to(*node, DescribeLogDirsRequest::default().with_topics(None))
                .await
                .and_then(|answer| {
                    Error::check(answer.error_code, None)?;
                    Ok(answer
                        .results
                        .iter()
                        .map(|d| LogDirDescription {
                            path: d.log_dir.to_string(),
                            error: Error::check(d.error_code, None).map_err(|e| e.to_string()),
                            replicas: d
                                .topics
                                .iter()
                                .flat_map(|t| {
                                    t.partitions.iter().map(|p| {
                                        (
                                            TopicPartition {
                                                topic: t.name.0.to_string(),
                                                partition: p.partition_index,
                                            },
                                            p.partition_size,
                                            p.offset_lag,
                                        )
                                    })
                                })
                                .collect(),
                        })
                        .collect())
                });
            out.push((*node, result));
        }
        Ok(out)
    }

    /// Asks the controller for leader elections: per partition `Ok`, or, for instance,
    /// ELECTION_NOT_NEEDED when its preferred replica leads already. With `partitions`
    /// `None`, every partition (and only those where an election happened are answered).
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<Results<TopicPartition, ()>, Error> {
        let timeout_ms = self.timeout_ms();
        let named = partitions.map(|tps| {
            by_topic(tps.iter().map(|tp| (tp, ())))
                .into_iter()
                .map(|(t, ps)| {
                    TopicPartitions::default()
                        .with_topic(topic_name(t))
                        .with_partitions(ps.into_iter().map(|(p, ())| p).collect())
                })
                .collect::<Vec<_>>()
        });
        let answer = self
            .client
            .send_to_controller(|_| {
                ElectLeadersRequest::default()
                    .with_election_type(match election {
                        ElectionType::Preferred => 0,
                        ElectionType::Unclean => 1,
                    })
                    .with_topic_partitions(named.clone())
                    .with_timeout_ms(timeout_ms)
            })
            .await?;
        Error::check(answer.error_code, None)?;
        let mut results = Vec::new();
        for r in &answer.replica_election_results {
            for p in &r.partition_result {
                let tp = TopicPartition {
                    topic: r.topic.0.to_string(),
                    partition: p.partition_id,
                };
                let result = Error::check_at(
                    p.error_code,
                    p.error_message.as_deref(),
                    Some(&tp.topic),
                    Some(tp.partition),
                );
                results.push((tp, result));
            }
        }
        if let Some(asked) = partitions {
            let by_tp: BTreeMap<TopicPartition, Result<(), Error>> = results.into_iter().collect();
            return Ok(super::in_order(asked.iter(), by_tp));
        }
        Ok(results)
    }
}
