//! One module per Kafka API, and the dispatch that routes a request to it.
//!
//! A handler receives the decoded request and the negotiated version and returns the typed
//! response; Kafka errors travel in the response's `error_code` fields. [`dispatch`] returns
//! `Err` only when no answer is possible (unknown API, unsupported version, a body that does
//! not parse), and the server then closes the connection, as Kafka does.

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod alter_configs;
mod api_versions;
pub mod apis;
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
mod elect_leaders;
mod end_txn;
pub mod fetch;
mod find_coordinator;
mod heartbeat;
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
mod operations;
mod produce;
mod sasl_authenticate;
mod sasl_handshake;
mod scram_credentials;
mod sync_group;
mod txn_offset_commit;

use bytes::Bytes;
use ferrokafka_protocol::header::RequestHeader;
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};

use crate::connection::ConnectionContext;
use crate::state::BrokerState;

pub use apis::{served, Api, APIS};

/// What to send back for one request.
#[derive(Debug)]
pub enum Reply {
    /// A response, encoded at `version` (usually the request's).
    Response {
        /// Version to encode the body with.
        version: i16,
        /// The response body (boxed: the enum of all responses is large).
        body: Box<ResponseKind>,
    },
    /// A Fetch response, whose record data is written straight from the log's buffers.
    Fetch {
        /// Version to encode the body with.
        version: i16,
        /// The response and its record batches.
        output: Box<fetch::FetchOutput>,
    },
    /// Nothing: a Produce with `acks=0`.
    None,
}

/// Why a request got no answer and its connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// An API key this broker does not serve.
    #[error("unsupported api key")]
    UnknownApi,
    /// A version outside the range served for the API.
    #[error("unsupported version (served: {min}..={max})")]
    UnsupportedVersion {
        /// Lowest served.
        min: i16,
        /// Highest served.
        max: i16,
    },
    /// The body does not match the API's schema.
    #[error("malformed request body: {0}")]
    Malformed(String),
}

/// Routes one request to its handler.
pub async fn dispatch(
    state: &BrokerState,
    conn: &mut ConnectionContext,
    header: &RequestHeader,
    mut body: Bytes,
) -> Result<Reply, DispatchError> {
    let version = header.api_version;
    let key = ApiKey::try_from(header.api_key).map_err(|_| DispatchError::UnknownApi)?;
    let range = apis::find(key).ok_or(DispatchError::UnknownApi)?;
    if !(range.min..=range.max).contains(&version) {
        if key == ApiKey::ApiVersions {
            // A client newer than us asks first; answer in v0 so it can read the answer.
            return Ok(respond(
                0,
                ResponseKind::ApiVersions(api_versions::unsupported()),
            ));
        }
        return Err(DispatchError::UnsupportedVersion {
            min: range.min,
            max: range.max,
        });
    }
    ferrokafka_protocol::wire_check::check_request(header.api_key, version, &body)
        .map_err(|err| DispatchError::Malformed(err.to_string()))?;
    let request = RequestKind::decode(key, &mut body, version)
        .map_err(|err| DispatchError::Malformed(err.to_string()))?;
    let response = match request {
        RequestKind::ApiVersions(req) => ResponseKind::ApiVersions(api_versions::handle(
            version,
            &req,
            state.config.transaction_version,
        )),
        RequestKind::SaslHandshake(req) => {
            ResponseKind::SaslHandshake(sasl_handshake::handle(conn.sasl.as_mut(), version, &req))
        }
        RequestKind::SaslAuthenticate(req) => ResponseKind::SaslAuthenticate(
            sasl_authenticate::handle(conn.sasl.as_mut(), version, req).await,
        ),
        RequestKind::Metadata(req) => {
            ResponseKind::Metadata(metadata::handle(state, &conn.endpoint, version, req))
        }
        RequestKind::CreateTopics(req) => {
            ResponseKind::CreateTopics(create_topics::handle(state, version, req))
        }
        RequestKind::DeleteTopics(req) => {
            ResponseKind::DeleteTopics(delete_topics::handle(state, version, req))
        }
        RequestKind::DeleteRecords(req) => {
            ResponseKind::DeleteRecords(delete_records::handle(state, req))
        }
        RequestKind::CreatePartitions(req) => {
            ResponseKind::CreatePartitions(create_partitions::handle(state, req))
        }
        RequestKind::Produce(req) => match produce::handle(state, version, req).await {
            Some(resp) => ResponseKind::Produce(resp),
            None => return Ok(Reply::None),
        },
        RequestKind::Fetch(req) => {
            let output = Box::new(fetch::handle(state, version, req).await);
            return Ok(Reply::Fetch { version, output });
        }
        RequestKind::ListOffsets(req) => {
            ResponseKind::ListOffsets(list_offsets::handle(state, version, req))
        }
        RequestKind::DescribeConfigs(req) => {
            ResponseKind::DescribeConfigs(describe_configs::handle(state, version, req))
        }
        RequestKind::IncrementalAlterConfigs(req) => {
            ResponseKind::IncrementalAlterConfigs(alter_configs::incremental(state, req))
        }
        RequestKind::AlterConfigs(req) => {
            ResponseKind::AlterConfigs(alter_configs::legacy(state, req))
        }
        RequestKind::OffsetForLeaderEpoch(req) => {
            ResponseKind::OffsetForLeaderEpoch(offset_for_leader_epoch::handle(state, req))
        }
        RequestKind::DescribeProducers(req) => {
            ResponseKind::DescribeProducers(describe_producers::handle(state, req))
        }
        RequestKind::DescribeLogDirs(req) => {
            ResponseKind::DescribeLogDirs(describe_log_dirs::handle(state, req))
        }
        RequestKind::ElectLeaders(req) => {
            ResponseKind::ElectLeaders(elect_leaders::handle(state, req))
        }
        RequestKind::DescribeUserScramCredentials(req) => {
            ResponseKind::DescribeUserScramCredentials(scram_credentials::describe(state, req))
        }
        RequestKind::AlterUserScramCredentials(req) => {
            ResponseKind::AlterUserScramCredentials(scram_credentials::alter(state, req))
        }
        RequestKind::DescribeCluster(req) => ResponseKind::DescribeCluster(
            describe_cluster::handle(state, &conn.endpoint, version, req),
        ),
        RequestKind::InitProducerId(req) => {
            ResponseKind::InitProducerId(init_producer_id::handle(state, version, req))
        }
        RequestKind::FindCoordinator(req) => ResponseKind::FindCoordinator(
            find_coordinator::handle(state, &conn.endpoint, version, req),
        ),
        RequestKind::JoinGroup(req) => ResponseKind::JoinGroup(
            join_group::handle(state, version, header.client_id.as_deref(), req).await,
        ),
        RequestKind::SyncGroup(req) => {
            ResponseKind::SyncGroup(sync_group::handle(state, version, req).await)
        }
        RequestKind::Heartbeat(req) => ResponseKind::Heartbeat(heartbeat::handle(state, req)),
        RequestKind::LeaveGroup(req) => {
            ResponseKind::LeaveGroup(leave_group::handle(state, version, req))
        }
        RequestKind::OffsetCommit(req) => {
            ResponseKind::OffsetCommit(offset_commit::handle(state, version, req))
        }
        RequestKind::OffsetFetch(req) => {
            ResponseKind::OffsetFetch(offset_fetch::handle(state, version, req))
        }
        RequestKind::DescribeGroups(req) => {
            ResponseKind::DescribeGroups(describe_groups::handle(state, version, req))
        }
        RequestKind::ListGroups(req) => {
            ResponseKind::ListGroups(list_groups::handle(state, version, req))
        }
        RequestKind::DeleteGroups(req) => {
            ResponseKind::DeleteGroups(delete_groups::handle(state, req))
        }
        RequestKind::OffsetDelete(req) => {
            ResponseKind::OffsetDelete(offset_delete::handle(state, req))
        }
        RequestKind::AddPartitionsToTxn(req) => {
            ResponseKind::AddPartitionsToTxn(add_partitions_to_txn::handle(state, version, req))
        }
        RequestKind::AddOffsetsToTxn(req) => {
            ResponseKind::AddOffsetsToTxn(add_offsets_to_txn::handle(state, version, req))
        }
        RequestKind::EndTxn(req) => ResponseKind::EndTxn(end_txn::handle(state, version, req)),
        RequestKind::TxnOffsetCommit(req) => {
            ResponseKind::TxnOffsetCommit(txn_offset_commit::handle(state, version, req))
        }
        RequestKind::DescribeTransactions(req) => {
            ResponseKind::DescribeTransactions(describe_transactions::handle(state, req))
        }
        RequestKind::ListTransactions(req) => {
            ResponseKind::ListTransactions(list_transactions::handle(state, version, req))
        }
        _ => return Err(DispatchError::UnknownApi),
    };
    Ok(respond(version, response))
}

fn respond(version: i16, body: ResponseKind) -> Reply {
    Reply::Response {
        version,
        body: Box::new(body),
    }
}
