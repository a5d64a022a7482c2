//! Which API keys and versions ferrokafka speaks, and how two sides settle on a version.
//!
//! [`SUPPORTED`] is the one table the client negotiates from (the mini-broker keeps its own, of
//! the APIs it serves, in `mini-broker/src/handlers/apis.rs`). A range stays within what the
//! `kafka-protocol` crate can encode and decode, and we raise a maximum only once the code
//! that handles the new version's fields exists.

use kafka_protocol::messages::ApiKey;

/// An inclusive range of versions of one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    /// The API.
    pub key: ApiKey,
    /// Lowest version spoken.
    pub min: i16,
    /// Highest version spoken.
    pub max: i16,
}

impl ApiRange {
    const fn new(key: ApiKey, min: i16, max: i16) -> Self {
        ApiRange { key, min, max }
    }

    /// True if `version` is in the range.
    pub fn contains(&self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }

    /// The highest version in both this range and `[their_min, their_max]`.
    pub fn highest_common(&self, their_min: i16, their_max: i16) -> Option<i16> {
        let max = self.max.min(their_max);
        (max >= self.min.max(their_min)).then_some(max)
    }
}

/// Every API we speak, with its version range.
pub const SUPPORTED: &[ApiRange] = &[
    ApiRange::new(ApiKey::Produce, 3, 12),
    ApiRange::new(ApiKey::Fetch, 4, 16),
    ApiRange::new(ApiKey::ListOffsets, 1, 10),
    ApiRange::new(ApiKey::Metadata, 0, 12),
    ApiRange::new(ApiKey::OffsetCommit, 2, 9),
    ApiRange::new(ApiKey::OffsetFetch, 1, 9),
    // Position validation after a leader change (KIP-320): v2 carries the current leader epoch.
    ApiRange::new(ApiKey::OffsetForLeaderEpoch, 2, 4),
    ApiRange::new(ApiKey::FindCoordinator, 0, 6),
    ApiRange::new(ApiKey::JoinGroup, 0, 9),
    ApiRange::new(ApiKey::Heartbeat, 0, 4),
    ApiRange::new(ApiKey::LeaveGroup, 0, 5),
    ApiRange::new(ApiKey::SyncGroup, 0, 5),
    ApiRange::new(ApiKey::DescribeGroups, 0, 6),
    ApiRange::new(ApiKey::ListGroups, 0, 5),
    ApiRange::new(ApiKey::DeleteGroups, 0, 2),
    ApiRange::new(ApiKey::OffsetDelete, 0, 0),
    ApiRange::new(ApiKey::ApiVersions, 0, 4),
    ApiRange::new(ApiKey::CreateTopics, 2, 7),
    ApiRange::new(ApiKey::DeleteTopics, 1, 6),
    ApiRange::new(ApiKey::DeleteRecords, 0, 2),
    ApiRange::new(ApiKey::InitProducerId, 0, 5),
    ApiRange::new(ApiKey::DescribeConfigs, 1, 4),
    ApiRange::new(ApiKey::IncrementalAlterConfigs, 0, 1),
    ApiRange::new(ApiKey::DescribeLogDirs, 1, 4),
    ApiRange::new(ApiKey::ElectLeaders, 0, 2),
    ApiRange::new(ApiKey::DescribeProducers, 0, 0),
    ApiRange::new(ApiKey::DescribeUserScramCredentials, 0, 0),
    ApiRange::new(ApiKey::AlterUserScramCredentials, 0, 0),
    ApiRange::new(ApiKey::CreatePartitions, 0, 3),
    ApiRange::new(ApiKey::DescribeCluster, 0, 1),
    // Transactions: EndTxn v5 and TxnOffsetCommit v5 are KIP-890's transaction version 2
    // (EndTxn bumps the epoch and answers the new producer id and epoch; TxnOffsetCommit adds
    // the group), which the mini-broker serves and advertises with the `transaction.version`
    // feature; a client that speaks version 1 caps its own requests at v4. ListTransactions
    // v2 filters by a Java regular expression.
    ApiRange::new(ApiKey::AddPartitionsToTxn, 0, 5),
    ApiRange::new(ApiKey::AddOffsetsToTxn, 0, 4),
    ApiRange::new(ApiKey::EndTxn, 0, 5),
    ApiRange::new(ApiKey::TxnOffsetCommit, 0, 5),
    ApiRange::new(ApiKey::DescribeTransactions, 0, 0),
    ApiRange::new(ApiKey::ListTransactions, 0, 1),
    // SASL (KIP-43, KIP-152, KIP-368): SaslHandshake v1 names the mechanism and says the
    // tokens follow in SaslAuthenticate (v0 sent them raw, which we do not); SaslAuthenticate
    // v1 adds the session lifetime, v2 is flexible. The mechanisms are in `crate::sasl`.
    ApiRange::new(ApiKey::SaslHandshake, 0, 1),
    ApiRange::new(ApiKey::SaslAuthenticate, 0, 2),
];

/// Our range for `key`, if we speak it at all.
pub fn supported(key: ApiKey) -> Option<ApiRange> {
    SUPPORTED.iter().copied().find(|r| r.key == key)
}

/// The versions a peer advertised in its ApiVersions response, as `(key, min, max)`.
pub type PeerVersions = [(i16, i16, i16)];

/// Picks, for every API we speak, the highest version the peer also speaks.
///
/// APIs the peer does not list, or lists with no overlap, are left out.
pub fn negotiate(peer: &PeerVersions) -> Vec<(ApiKey, i16)> {
    SUPPORTED
        .iter()
        .filter_map(|ours| {
            let (_, min, max) = peer.iter().find(|(k, _, _)| *k == ours.key as i16)?;
            Some((ours.key, ours.highest_common(*min, *max)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_is_within_kafka_protocol() {
        for r in SUPPORTED {
            let theirs = r.key.valid_versions();
            assert!(r.min <= r.max, "{:?}", r.key);
            assert!(
                theirs.min <= r.min && r.max <= theirs.max,
                "{:?} outside {theirs:?}",
                r.key
            );
        }
    }

    #[test]
    fn every_range_is_covered_by_wire_check() {
        for r in SUPPORTED {
            let covered = crate::wire_check::covered_apis()
                .find(|api| api.api_key == r.key as i16)
                .unwrap_or_else(|| panic!("{:?} has no wire_check table", r.key));
            for v in r.min..=r.max {
                assert!(
                    covered.request_versions.contains(&v) && covered.response_versions.contains(&v),
                    "{:?} v{v} is not covered by wire_check",
                    r.key
                );
            }
        }
    }

    #[test]
    fn negotiation_picks_highest_common() {
        let peer = [
            (ApiKey::Fetch as i16, 0, 11),
            (ApiKey::Metadata as i16, 13, 20),
            (999, 0, 1),
        ];
        assert_eq!(negotiate(&peer), vec![(ApiKey::Fetch, 11)]);
        let produce = supported(ApiKey::Produce).unwrap();
        assert_eq!(produce.highest_common(0, 2), None);
        assert_eq!(produce.highest_common(0, 100), Some(produce.max));
    }
}
