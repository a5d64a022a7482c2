//! DescribeUserScramCredentials (key 50) and AlterUserScramCredentials (key 51), v0: the SASL
//! users over the wire, answered as Kafka answers them (its metadata image for Describe, its
//! controller's SCRAM manager for Alter), acting on the broker's live user store: a credential
//! upserted here is the one the next SCRAM or PLAIN login is checked against.
//!
//! Describe: no names (null or empty) lists every user with a credential; a user named twice
//! gets DUPLICATE_RESOURCE, one without credentials RESOURCE_NOT_FOUND. Alter: deletions,
//! then upsertions, each user at most once per request (a second entry: DUPLICATE_RESOURCE,
//! and none of that user's changes is made); an empty name is UNACCEPTABLE_CREDENTIAL, an
//! unknown mechanism UNSUPPORTED_SASL_MECHANISM, iterations outside 4096–16384
//! UNACCEPTABLE_CREDENTIAL, deleting a credential that does not exist RESOURCE_NOT_FOUND.
//! One result per user; the changes of users without an error are made.
//!
//! Not here: authorisation (no ACLs: everyone may describe and alter).

use std::collections::BTreeMap;

use ferrokafka_protocol::sasl::scram::{
    ScramCredential, ScramHash, MAX_ITERATIONS, MIN_ITERATIONS,
};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::state::BrokerState;

/// Kafka's mechanism bytes: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 (0 is "unknown").
fn hash_of(mechanism: i8) -> Option<ScramHash> {
    match mechanism {
        1 => Some(ScramHash::Sha256),
        2 => Some(ScramHash::Sha512),
        _ => None,
    }
}

fn mechanism_of(hash: ScramHash) -> i8 {
    match hash {
        ScramHash::Sha256 => 1,
        ScramHash::Sha512 => 2,
    }
}

pub(super) fn describe(
    state: &BrokerState,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let users = state.users.read();
    let known: BTreeMap<&str, Vec<(ScramHash, u32)>> = users.credentials().collect();
    let found = |name: &str, infos: &[(ScramHash, u32)]| {
        DescribeUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(name.to_owned()))
            .with_credential_infos(
                infos
                    .iter()
                    .map(|(hash, iterations)| {
                        CredentialInfo::default()
                            .with_mechanism(mechanism_of(*hash))
                            .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
                    })
                    .collect(),
            )
    };
    let results = match req.users.filter(|u| !u.is_empty()) {
        None => known
            .iter()
            .map(|(name, infos)| found(name, infos))
            .collect(),
        Some(asked) => {
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for u in &asked {
                *seen.entry(u.name.as_str()).or_default() += 1;
            }
            seen.iter()
                .map(|(name, count)| {
                    let refused = |code: ErrorCode, message: &str| {
                        DescribeUserScramCredentialsResult::default()
                            .with_user(StrBytes::from_string((*name).to_owned()))
                            .with_error_code(code.0)
                            .with_error_message(Some(StrBytes::from_string(format!(
                                "{message}: {name}"
                            ))))
                    };
                    match known.get(name) {
                        _ if *count > 1 => refused(
                            ErrorCode::DUPLICATE_RESOURCE,
                            "Cannot describe SCRAM credentials for the same user twice in a \
                             single request",
                        ),
                        Some(infos) => found(name, infos),
                        None => refused(
                            ErrorCode::RESOURCE_NOT_FOUND,
                            "Attempt to describe a user credential that does not exist",
                        ),
                    }
                })
                .collect()
        }
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

/// One user's change in an Alter request.
enum Change {
    Delete(ScramHash),
    Upsert(ScramHash, ScramCredential),
}

type Refusal = (ErrorCode, &'static str);

pub(super) fn alter(
    state: &BrokerState,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let mut users = state.users.write();
    // Per user, in request order: its one change, or why it is refused.
    let mut outcome: BTreeMap<String, Result<Change, Refusal>> = BTreeMap::new();
    let mut take = |name: &str, change: Result<Change, Refusal>| match outcome.get(name) {
        Some(Err(_)) => {}
        Some(Ok(_)) => {
            outcome.insert(
                name.to_owned(),
                Err((
                    ErrorCode::DUPLICATE_RESOURCE,
                    "A user credential cannot be altered twice in the same request",
                )),
            );
        }
        None => {
            outcome.insert(name.to_owned(), change);
        }
    };
    for d in &req.deletions {
        let change = check_name(&d.name).and_then(|()| {
            let hash = known_mechanism(d.mechanism)?;
            if users.scram(&d.name, hash).is_none() {
                return Err((
                    ErrorCode::RESOURCE_NOT_FOUND,
                    "Attempt to delete a user credential that does not exist",
                ));
            }
            Ok(Change::Delete(hash))
        });
        take(&d.name, change);
    }
    for u in &req.upsertions {
        let change = check_name(&u.name).and_then(|()| {
            let hash = known_mechanism(u.mechanism)?;
            let iterations = u32::try_from(u.iterations).unwrap_or(0);
            if iterations < MIN_ITERATIONS {
                return Err((ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too few iterations"));
            }
            if iterations > MAX_ITERATIONS {
                return Err((ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too many iterations"));
            }
            ScramCredential::from_salted_password(hash, &u.salted_password, &u.salt, iterations)
                .map(|credential| Change::Upsert(hash, credential))
                .map_err(|_| {
                    (
                        ErrorCode::UNACCEPTABLE_CREDENTIAL,
                        "The salt must not be empty",
                    )
                })
        });
        take(&u.name, change);
    }
    let results = outcome
        .into_iter()
        .map(|(name, change)| {
            let result = AlterUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(name.clone()));
            match change {
                Ok(Change::Delete(hash)) => {
                    users.remove_credential(&name, hash);
                    tracing::info!(user = %name, mechanism = %hash.mechanism(), "SCRAM credential deleted");
                    result
                }
                Ok(Change::Upsert(hash, credential)) => {
                    users.set_credential(&name, hash, credential);
                    tracing::info!(user = %name, mechanism = %hash.mechanism(), "SCRAM credential set");
                    result
                }
                Err((code, message)) => result
                    .with_error_code(code.0)
                    .with_error_message(Some(StrBytes::from_static_str(message))),
            }
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

fn check_name(name: &str) -> Result<(), Refusal> {
    if name.is_empty() {
        Err((
            ErrorCode::UNACCEPTABLE_CREDENTIAL,
            "Username must not be empty",
        ))
    } else {
        Ok(())
    }
}

fn known_mechanism(mechanism: i8) -> Result<ScramHash, Refusal> {
    hash_of(mechanism).ok_or((
        ErrorCode::UNSUPPORTED_SASL_MECHANISM,
        "Unknown SCRAM mechanism",
    ))
}
