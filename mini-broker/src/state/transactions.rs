//! The transaction coordinator (KIP-98, with KIP-360's epoch bumps and KIP-447's offset
//! commits), modelled on Kafka's TransactionCoordinator and TransactionStateManager, for both
//! transaction versions of KIP-890, decided per request by its version ([`TxnVersion`]):
//! version 1, where the client adds partitions with AddPartitionsToTxn and the epoch only
//! moves on InitProducerId or when the broker fences; and version 2, where Produce and
//! TxnOffsetCommit add their partition or group implicitly and every EndTxn bumps the epoch
//! (markers written with the bumped epoch, a new producer id once the epoch is exhausted).
//!
//! Why it looks like this: Kafka persists every state change to `__transaction_state` and
//! sends markers to partition leaders asynchronously, so a client can observe PrepareCommit
//! and PrepareAbort (and gets CONCURRENT_TRANSACTIONS meanwhile). Here markers are appended
//! to in-memory logs under the same locks that change the transaction, so a transaction goes
//! from Ongoing straight to CompleteCommit or CompleteAbort and no reader ever sees a partly
//! written outcome. The Prepare states still exist as names (ListTransactions accepts them as
//! filters, and the checks answer CONCURRENT_TRANSACTIONS for them as Kafka does) but nothing
//! is ever in them.
//!
//! Locks are taken in one order everywhere: transactions, then topics, then groups. Produce
//! holds the transactions lock while it appends transactional batches, so a batch and the
//! markers of its transaction can never interleave (the "hanging transaction" KIP-890 fixes
//! in Kafka cannot happen here).
//!
//! With a data dir, each transactional id's producer id, epochs and last outcome are
//! journalled (`disk/journal.rs`) at InitProducerId and whenever a transaction ends, so fencing
//! and KIP-360 retries hold across a restart; a transaction started by AddPartitionsToTxn,
//! AddOffsetsToTxn or TxnOffsetCommit is journalled as Ongoing (one started by a transaction
//! version 2 Produce shows in the partition's log instead). What an ongoing transaction holds
//! (its partitions, staged offsets) is not journalled: a restart aborts it with a bumped
//! epoch, as Kafka's coordinator aborts a transaction that timed out (the producer learns it
//! is fenced and starts again), so an offsets-only transaction cannot look committed after a
//! restart that lost its offsets.
//!
//! Not here: `__transaction_state` and `__consumer_offsets` as topics (a group added with
//! AddOffsetsToTxn is kept by name, not as an offsets-topic partition), expiry of idle
//! transactional ids (`transactional.id.expiration.ms`), KIP-939's prepared transactions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ferrokafka_protocol::ErrorCode;

use super::disk::{SavedOffset, SavedTxnId};
use super::groups::CommittedOffset;
use super::topics::{TimestampType, Topic};
use super::{now_ms, BrokerState};

/// No producer epoch yet (Kafka's `RecordBatch.NO_PRODUCER_EPOCH`).
const NO_EPOCH: i16 = -1;

/// Which transaction protocol a request speaks (KIP-890's `transaction.version`). Kafka
/// decides it per request, from the request's version: EndTxn above v4, Produce above v11,
/// TxnOffsetCommit above v4 and AddPartitionsToTxn above v3 are version 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnVersion {
    /// The classic protocol: partitions and groups added explicitly, the epoch kept across
    /// transactions.
    V1,
    /// KIP-890 part 2: partitions and groups added by the requests that write to them, the
    /// epoch bumped by every EndTxn.
    V2,
}

impl TxnVersion {
    /// `V2` when `v2` holds (the caller compares its request's version), else `V1`.
    pub fn from_v2(v2: bool) -> Self {
        if v2 {
            TxnVersion::V2
        } else {
            TxnVersion::V1
        }
    }
}

/// The states of Kafka's transaction state machine, by the names DescribeTransactions and
/// ListTransactions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// No transaction since the producer was initialised.
    Empty,
    /// Partitions or a group were added; not ended yet.
    Ongoing,
    /// Committing (never observable here: markers are written at once).
    PrepareCommit,
    /// Aborting (never observable here).
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
    /// Being expired (never observable here).
    Dead,
    /// Being fenced (never observable here).
    PrepareEpochFence,
}

impl TxnState {
    const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// Kafka's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// The state with Kafka's name `name`.
    pub fn from_name(name: &str) -> Option<TxnState> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One transactional id's metadata (Kafka's TransactionMetadata).
#[derive(Debug, Clone)]
struct TxnMetadata {
    producer_id: i64,
    /// The id before the last rotation, so a retried InitProducerId that overflowed the
    /// epoch can still be recognised.
    previous_producer_id: i64,
    epoch: i16,
    /// The epoch before the last bump by the same producer (KIP-360 retries), or -1 when a
    /// new producer fenced the old one.
    last_epoch: i16,
    timeout_ms: i32,
    state: TxnState,
    partitions: BTreeSet<(String, i32)>,
    /// Groups added with AddOffsetsToTxn.
    groups: BTreeSet<String>,
    /// Offsets staged by TxnOffsetCommit: group -> partition -> offset.
    staged: BTreeMap<String, BTreeMap<(String, i32), CommittedOffset>>,
    /// Wall-clock ms when the current (or last) transaction began; -1 for none.
    start_ms: i64,
}

impl TxnMetadata {
    fn new(producer_id: i64, timeout_ms: i32) -> Self {
        TxnMetadata {
            producer_id,
            previous_producer_id: -1,
            epoch: NO_EPOCH,
            last_epoch: NO_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            staged: BTreeMap::new(),
            start_ms: -1,
        }
    }

    /// Checks the producer id and epoch of a client request, as Kafka's coordinator does for
    /// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and verification.
    fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
        if self.producer_id != producer_id {
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
        } else if self.epoch != epoch {
            Err(ErrorCode::PRODUCER_FENCED)
        } else {
            Ok(())
        }
    }

    /// True while a transaction is being completed or fenced (never observable here, see the
    /// module header): Kafka answers CONCURRENT_TRANSACTIONS to what would add to it.
    fn completing(&self) -> bool {
        matches!(
            self.state,
            TxnState::PrepareCommit
                | TxnState::PrepareAbort
                | TxnState::PrepareEpochFence
                | TxnState::Dead
        )
    }

    /// What the data dir keeps of it.
    fn saved(&self, transactional_id: &str) -> SavedTxnId {
        SavedTxnId {
            transactional_id: transactional_id.to_owned(),
            producer_id: self.producer_id,
            previous_producer_id: self.previous_producer_id,
            epoch: self.epoch,
            last_epoch: self.last_epoch,
            timeout_ms: self.timeout_ms,
            state: self.state.as_str().to_owned(),
            pending_offsets: Vec::new(),
        }
    }

    /// Starts a transaction if none is open, as Kafka's `prepareAddPartitions`; true if it
    /// started one.
    fn begin(&mut self, now: i64) -> bool {
        let idle = matches!(
            self.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        );
        if idle {
            self.state = TxnState::Ongoing;
            self.start_ms = now;
            self.partitions.clear();
            self.groups.clear();
            self.staged.clear();
        }
        idle
    }
}

/// Kafka refuses epochs this close to `i16::MAX`, so the coordinator can always fence.
fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// The coordinator's state: every transactional id.
#[derive(Debug, Default)]
pub struct Transactions {
    by_id: BTreeMap<String, TxnMetadata>,
}

/// Why a transactional batch may not be written (Kafka's partition verification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnBatchError {
    /// The transactional id is unknown or belongs to another producer id.
    ProducerIdMapping,
    /// The batch's epoch is not the transaction's.
    Fenced,
    /// The partition was not added to the producer's ongoing transaction.
    NotInTransaction,
    /// The transaction is being completed (transaction version 2 would add the partition).
    Concurrent,
}

impl Transactions {
    /// Whether a transactional batch of `(producer_id, epoch)` from `transactional_id` may go
    /// to `topic`/`partition`: it must belong to the producer's ongoing transaction. With
    /// transaction version 2 (Produce v12) a partition not yet in it is added, starting a
    /// transaction if none is open, as Kafka's leader asks its coordinator to.
    pub fn verify_partition(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        (topic, partition): (&str, i32),
        version: TxnVersion,
    ) -> Result<(), TxnBatchError> {
        let meta = self
            .by_id
            .get_mut(transactional_id)
            .ok_or(TxnBatchError::ProducerIdMapping)?;
        match meta.check_producer(producer_id, epoch) {
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING) => {
                return Err(TxnBatchError::ProducerIdMapping)
            }
            Err(_) => return Err(TxnBatchError::Fenced),
            Ok(()) => {}
        }
        let key = (topic.to_owned(), partition);
        if meta.state == TxnState::Ongoing && meta.partitions.contains(&key) {
            return Ok(());
        }
        match version {
            TxnVersion::V1 => Err(TxnBatchError::NotInTransaction),
            TxnVersion::V2 if meta.completing() => Err(TxnBatchError::Concurrent),
            TxnVersion::V2 => {
                // Not journalled: the batch that follows shows it in the partition's log.
                meta.begin(now_ms());
                meta.partitions.insert(key);
                Ok(())
            }
        }
    }

    /// Whether an ongoing transaction holds staged offsets of `group` for the partition
    /// (OffsetFetch with `require_stable` answers UNSTABLE_OFFSET_COMMIT then).
    pub fn has_pending_offsets(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.by_id.values().any(|m| {
            m.state == TxnState::Ongoing
                && m.staged
                    .get(group)
                    .is_some_and(|o| o.contains_key(&(topic.to_owned(), partition)))
        })
    }
}

/// The transaction coordinator of this broker.
#[derive(Debug)]
pub struct TransactionCoordinator {
    inner: Mutex<Transactions>,
    max_timeout: Duration,
}

/// What DescribeTransactions reports for one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDescription {
    /// The current state.
    pub state: TxnState,
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The transaction timeout, ms.
    pub timeout_ms: i32,
    /// When the current (or last) transaction began, wall-clock ms; -1 for none.
    pub start_ms: i64,
    /// The partitions of the ongoing transaction.
    pub partitions: Vec<(String, i32)>,
}

/// One transactional id as ListTransactions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its state.
    pub state: TxnState,
}

/// A TxnOffsetCommit, as the coordinator needs it.
#[derive(Debug, Clone)]
pub struct TxnOffsetCommit {
    /// The transactional id.
    pub transactional_id: String,
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The consumer group.
    pub group_id: String,
    /// The committer's generation (KIP-447, v3+), or -1.
    pub generation: i32,
    /// The committer's member id (v3+), or empty.
    pub member_id: String,
    /// The committer's `group.instance.id` (v3+).
    pub instance_id: Option<String>,
    /// Offsets to stage.
    pub offsets: Vec<(String, i32, CommittedOffset)>,
    /// V2 (v5 requests) adds the group to the transaction itself.
    pub version: TxnVersion,
}

impl TransactionCoordinator {
    /// A coordinator with no transactional ids; `max_timeout` is `transaction.max.timeout.ms`.
    pub fn new(max_timeout: Duration) -> Self {
        TransactionCoordinator {
            inner: Mutex::new(Transactions::default()),
            max_timeout,
        }
    }

    /// The coordinator's state. Every change is a few field writes that leave it consistent,
    /// so a panic elsewhere under the lock is no reason to stop serving.
    pub fn lock(&self) -> MutexGuard<'_, Transactions> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn timeout_valid(&self, timeout_ms: i32) -> bool {
        timeout_ms > 0 && u128::from(timeout_ms.unsigned_abs()) <= self.max_timeout.as_millis()
    }

    /// DescribeTransactions for one id: TRANSACTIONAL_ID_NOT_FOUND when unknown.
    pub fn describe(&self, transactional_id: &str) -> Result<TxnDescription, ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        let txns = self.lock();
        let meta = txns
            .by_id
            .get(transactional_id)
            .ok_or(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)?;
        Ok(TxnDescription {
            state: meta.state,
            producer_id: meta.producer_id,
            producer_epoch: meta.epoch,
            timeout_ms: meta.timeout_ms,
            start_ms: meta.start_ms,
            partitions: meta.partitions.iter().cloned().collect(),
        })
    }

    /// ListTransactions: ids matching every given filter (an empty filter matches all; a
    /// negative `min_duration_ms` none), and the state names that are not Kafka states.
    pub fn list(
        &self,
        states: &[String],
        producer_ids: &[i64],
        min_duration_ms: i64,
    ) -> (Vec<TxnListing>, Vec<String>) {
        let unknown: Vec<String> = states
            .iter()
            .filter(|s| TxnState::from_name(s).is_none())
            .cloned()
            .collect();
        let wanted: Vec<TxnState> = states
            .iter()
            .filter_map(|s| TxnState::from_name(s))
            .collect();
        let now = now_ms();
        let txns = self.lock();
        let listed = txns
            .by_id
            .iter()
            .filter(|(_, m)| {
                (producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
                    && (states.is_empty() || wanted.contains(&m.state))
                    // As Kafka: a transaction counts as running since its start, -1 included.
                    && (min_duration_ms < 0 || now.saturating_sub(m.start_ms) > min_duration_ms)
            })
            .map(|(id, m)| TxnListing {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                state: m.state,
            })
            .collect();
        (listed, unknown)
    }
}

impl BrokerState {
    /// InitProducerId with a transactional id (Kafka's `handleInitProducerId`).
    ///
    /// A new id gets a producer id at epoch 0. A known one in Empty, CompleteCommit or
    /// CompleteAbort gets its epoch bumped (fencing the previous instance; a new producer id
    /// once the epoch is exhausted); `expected` (KIP-360: the caller's current id and epoch)
    /// must name the current producer, or repeat the last bump (answered with the same
    /// epoch), else PRODUCER_FENCED. With a transaction still Ongoing, the old instance is
    /// fenced (epoch + 1), its transaction aborted, and CONCURRENT_TRANSACTIONS returned: the
    /// client retries and then gets the epoch after that, as with Kafka.
    pub fn init_transactional_producer(
        &self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if !self.transactions.timeout_valid(timeout_ms) {
            return Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT);
        }
        let mut txns = self.transactions.lock();
        if !txns.by_id.contains_key(transactional_id) {
            let producer_id = self.allocate_producer_id();
            txns.by_id.insert(
                transactional_id.to_owned(),
                TxnMetadata::new(producer_id, timeout_ms),
            );
        }
        let Some(meta) = txns.by_id.get_mut(transactional_id) else {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        };
        if let Some((producer_id, epoch)) = expected {
            let valid = meta.epoch == NO_EPOCH
                || producer_id == meta.producer_id
                || (producer_id == meta.previous_producer_id && epoch_exhausted(epoch));
            if !valid {
                return Err(ErrorCode::PRODUCER_FENCED);
            }
        }
        match meta.state {
            TxnState::Ongoing => {
                let fenced = meta.epoch.saturating_add(1);
                tracing::info!(
                    transactional_id,
                    producer_id = meta.producer_id,
                    epoch = fenced,
                    "fencing the previous producer and aborting its transaction"
                );
                meta.epoch = fenced;
                meta.last_epoch = NO_EPOCH;
                self.complete(transactional_id, meta, false);
                self.save_txn_id(transactional_id, meta);
                Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let exhausted = epoch_exhausted(meta.epoch)
                    && expected.is_none_or(|(_, epoch)| epoch == meta.epoch);
                if exhausted {
                    let producer_id = self.allocate_producer_id();
                    meta.last_epoch = if expected.is_some() {
                        meta.epoch
                    } else {
                        NO_EPOCH
                    };
                    meta.previous_producer_id = meta.producer_id;
                    meta.producer_id = producer_id;
                    meta.epoch = 0;
                } else {
                    let bumped = meta.epoch.saturating_add(1);
                    match expected {
                        None => {
                            meta.last_epoch = NO_EPOCH;
                            meta.epoch = bumped;
                        }
                        Some((_, epoch)) if meta.epoch == NO_EPOCH || epoch == meta.epoch => {
                            meta.last_epoch = meta.epoch;
                            meta.epoch = bumped;
                        }
                        // A retry of a bump that succeeded: the same answer again.
                        Some((_, epoch)) if epoch == meta.last_epoch => {}
                        Some(_) => return Err(ErrorCode::PRODUCER_FENCED),
                    }
                }
                meta.state = TxnState::Empty;
                meta.timeout_ms = timeout_ms;
                meta.start_ms = -1;
                meta.partitions.clear();
                meta.groups.clear();
                meta.staged.clear();
                self.save_txn_id(transactional_id, meta);
                Ok((meta.producer_id, meta.epoch))
            }
            // Never entered here (see the module header).
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::Dead
            | TxnState::PrepareEpochFence => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        }
    }

    /// AddPartitionsToTxn (client form): checks the producer, then adds the partitions and
    /// makes the transaction Ongoing. The caller has checked that the partitions exist.
    pub fn add_partitions_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> ErrorCode {
        self.add_to_txn(transactional_id, producer_id, epoch, |meta| {
            meta.partitions.extend(partitions.iter().cloned());
        })
    }

    /// AddPartitionsToTxn with `verify_only` (what a partition leader asks before a
    /// transactional write): one error per partition, or one for all.
    pub fn verify_partitions_in_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        let txns = self.transactions.lock();
        let meta = txns
            .by_id
            .get(transactional_id)
            .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        meta.check_producer(producer_id, epoch)?;
        Ok(partitions
            .iter()
            .map(|p| {
                if meta.state == TxnState::Ongoing && meta.partitions.contains(p) {
                    ErrorCode::NONE
                } else {
                    // What Kafka's coordinator answers; the leader turns it into the error
                    // its producer's version knows.
                    ErrorCode::TRANSACTION_ABORTABLE
                }
            })
            .collect())
    }

    /// AddOffsetsToTxn: like adding the group's offsets partition in Kafka.
    pub fn add_offsets_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> ErrorCode {
        self.add_to_txn(transactional_id, producer_id, epoch, |meta| {
            meta.groups.insert(group_id.to_owned());
        })
    }

    fn add_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        add: impl FnOnce(&mut TxnMetadata),
    ) -> ErrorCode {
        if transactional_id.is_empty() {
            return ErrorCode::INVALID_REQUEST;
        }
        let mut txns = self.transactions.lock();
        let Some(meta) = txns.by_id.get_mut(transactional_id) else {
            return ErrorCode::INVALID_PRODUCER_ID_MAPPING;
        };
        if let Err(code) = meta.check_producer(producer_id, epoch) {
            return code;
        }
        if meta.begin(now_ms()) {
            self.save_txn_id(transactional_id, meta);
        }
        add(meta);
        ErrorCode::NONE
    }

    /// TxnOffsetCommit: the producer must be the transaction's and the group added with
    /// AddOffsetsToTxn (with transaction version 2 the request adds it, starting a
    /// transaction if none is open); the group checks the member as KIP-447 asks; then the
    /// offsets are staged until EndTxn. The error applies to every partition.
    pub fn txn_offset_commit(&self, commit: TxnOffsetCommit) -> ErrorCode {
        if commit.group_id.is_empty() {
            return ErrorCode::INVALID_GROUP_ID;
        }
        let mut txns = self.transactions.lock();
        let Some(meta) = txns.by_id.get_mut(&commit.transactional_id) else {
            return ErrorCode::INVALID_PRODUCER_ID_MAPPING;
        };
        if let Err(code) = meta.check_producer(commit.producer_id, commit.producer_epoch) {
            return code;
        }
        match commit.version {
            TxnVersion::V2 if meta.completing() => return ErrorCode::CONCURRENT_TRANSACTIONS,
            TxnVersion::V2 => {
                if meta.begin(now_ms()) {
                    self.save_txn_id(&commit.transactional_id, meta);
                }
                meta.groups.insert(commit.group_id.clone());
            }
            TxnVersion::V1 => {
                if meta.state != TxnState::Ongoing || !meta.groups.contains(&commit.group_id) {
                    return ErrorCode::TRANSACTION_ABORTABLE;
                }
            }
        }
        let error = self.groups.validate_txn_offset_commit(
            &commit.group_id,
            commit.generation,
            &commit.member_id,
            commit.instance_id.as_deref(),
        );
        if error != ErrorCode::NONE {
            return error;
        }
        let staged = meta.staged.entry(commit.group_id).or_default();
        for (topic, partition, offset) in commit.offsets {
            staged.insert((topic, partition), offset);
        }
        ErrorCode::NONE
    }

    /// EndTxn (Kafka's `endTransaction` for a client): writes COMMIT or ABORT markers to every
    /// partition of the transaction and applies or drops its staged offsets; answers the
    /// producer id and epoch the client goes on with.
    ///
    /// Version 1: the epoch must be the current one and stays; a retry of an EndTxn that
    /// completed with the same outcome succeeds; anything else that is not an Ongoing
    /// transaction is INVALID_TXN_STATE.
    ///
    /// Version 2: the epoch is bumped first (for commit and abort, and for an abort with no
    /// transaction open) and the markers carry the bumped epoch; once the epoch is exhausted
    /// the answer is a new producer id at epoch 0. A retry (the epoch before the bump, or the
    /// last epoch of the previous producer id) of a completed EndTxn gets the same answer, or
    /// INVALID_TXN_STATE for the other outcome; any other epoch is PRODUCER_FENCED.
    pub fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        version: TxnVersion,
    ) -> Result<(i64, i16), ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        let mut txns = self.transactions.lock();
        let Some(meta) = txns.by_id.get_mut(transactional_id) else {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        };
        if version == TxnVersion::V2 {
            return self.end_txn_v2(transactional_id, meta, producer_id, epoch, commit);
        }
        meta.check_producer(producer_id, epoch)?;
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => {
                self.complete(transactional_id, meta, commit);
                self.save_txn_id(transactional_id, meta);
                Ok((producer_id, epoch))
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                Ok((producer_id, epoch))
            }
            _ => Err(ErrorCode::INVALID_TXN_STATE),
        }
    }

    /// EndTxn with transaction version 2, in the order of Kafka's checks.
    fn end_txn_v2(
        &self,
        transactional_id: &str,
        meta: &mut TxnMetadata,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(i64, i16), ErrorCode> {
        let retry_on_overflow =
            meta.previous_producer_id == producer_id && epoch == i16::MAX - 1 && meta.epoch == 0;
        let retry_on_bump =
            meta.producer_id == producer_id && epoch.checked_add(1) == Some(meta.epoch);
        if meta.producer_id != producer_id && !retry_on_overflow {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        }
        let completed = matches!(
            meta.state,
            TxnState::CompleteCommit | TxnState::CompleteAbort
        );
        let retry = completed && (retry_on_bump || retry_on_overflow);
        let valid_epoch = match meta.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => retry_on_bump,
            TxnState::CompleteCommit | TxnState::CompleteAbort => retry || epoch == meta.epoch,
            _ => epoch == meta.epoch,
        };
        if !valid_epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => Ok(self.complete_with_bump(transactional_id, meta, commit)),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => {
                Ok((meta.producer_id, meta.epoch))
            }
            // Version 2 may abort with nothing added: the epoch moves on all the same.
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false)
                if !retry =>
            {
                Ok(self.complete_with_bump(transactional_id, meta, false))
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            _ => Err(ErrorCode::INVALID_TXN_STATE),
        }
    }

    /// Ends the transaction with the epoch bumped (markers carry the new epoch), then hands
    /// out a new producer id at epoch 0 if the old epoch was exhausted: what the client goes
    /// on with.
    fn complete_with_bump(
        &self,
        transactional_id: &str,
        meta: &mut TxnMetadata,
        commit: bool,
    ) -> (i64, i16) {
        let ended = meta.epoch;
        meta.epoch = ended.saturating_add(1);
        self.complete(transactional_id, meta, commit);
        if epoch_exhausted(ended) {
            meta.previous_producer_id = meta.producer_id;
            meta.producer_id = self.allocate_producer_id();
            meta.epoch = 0;
        }
        // What Kafka records as the last epoch: a KIP-360 InitProducerId or an EndTxn retry
        // from it is recognised.
        meta.last_epoch = ended;
        self.save_txn_id(transactional_id, meta);
        (meta.producer_id, meta.epoch)
    }

    /// Aborts every Ongoing transaction older than its timeout, fencing its producer first
    /// (epoch + 1) so that a zombie's next request fails, as Kafka's coordinator does.
    pub fn abort_timed_out_transactions(&self) -> usize {
        let now = now_ms();
        let mut txns = self.transactions.lock();
        let mut aborted = 0;
        for (id, meta) in txns.by_id.iter_mut() {
            let expired = meta.state == TxnState::Ongoing
                && meta.start_ms.saturating_add(i64::from(meta.timeout_ms)) < now;
            if !expired {
                continue;
            }
            meta.epoch = meta.epoch.saturating_add(1);
            meta.last_epoch = NO_EPOCH;
            tracing::info!(
                transactional_id = %id,
                producer_id = meta.producer_id,
                epoch = meta.epoch,
                timeout_ms = meta.timeout_ms,
                "aborting a timed-out transaction"
            );
            self.complete(id, meta, false);
            self.save_txn_id(id, meta);
            aborted += 1;
        }
        if let Some(disk) = &self.disk {
            let all = || txns.by_id.iter().map(|(id, m)| m.saved(id)).collect();
            if let Err(err) = disk.compact_txn_ids(all) {
                tracing::warn!(%err, "cannot rewrite the transactions journal; it keeps growing until it can");
            }
        }
        aborted
    }

    /// With a data dir, journals what a restart must know of `transactional_id`.
    fn save_txn_id(&self, transactional_id: &str, meta: &TxnMetadata) {
        let Some(disk) = &self.disk else { return };
        if let Err(err) = disk.save_txn_id(&meta.saved(transactional_id)) {
            tracing::warn!(%err, transactional_id, "cannot save a transactional id's state; after a restart its producer would not be fenced");
        }
    }

    /// With a data dir, journals that `meta`'s transaction commits, with its staged offsets,
    /// before any marker is written: a restart that finds it finishes the commit (Kafka's
    /// PrepareCommit in `__transaction_state`).
    fn save_commit_decision(&self, transactional_id: &str, meta: &TxnMetadata) {
        let Some(disk) = &self.disk else { return };
        let mut decided = meta.saved(transactional_id);
        decided.state = TxnState::PrepareCommit.as_str().to_owned();
        decided.pending_offsets = meta
            .staged
            .iter()
            .flat_map(|(group, offsets)| {
                offsets
                    .iter()
                    .map(move |(key, o)| SavedOffset::of(group, key, o))
            })
            .collect();
        if let Err(err) = disk.save_txn_id(&decided) {
            tracing::warn!(%err, transactional_id, "cannot save a commit decision; a restart before its markers are all written would abort it");
        }
    }

    /// After a restart: puts back the transactional ids `saved` and ends the transactions
    /// the partition logs show open (`open`: topic, partition, producer id, epoch). A
    /// producer id with a transactional id is fenced (epoch + 1) and its transaction aborted
    /// with the bumped epoch, as a timed-out one; one without (its id was never saved) gets
    /// ABORT markers with its last epoch. A commit journalled as decided is finished instead:
    /// COMMIT markers where still missing, its offsets applied. Returns the transactions
    /// aborted.
    pub(super) fn recover_transactions(
        &self,
        saved: Vec<SavedTxnId>,
        open: Vec<(String, i32, i64, i16)>,
    ) -> usize {
        let mut txns = self.transactions.lock();
        let mut decided = BTreeSet::new();
        for t in saved {
            let mut meta = TxnMetadata::new(t.producer_id, t.timeout_ms);
            meta.previous_producer_id = t.previous_producer_id;
            meta.epoch = t.epoch;
            meta.last_epoch = t.last_epoch;
            meta.state = TxnState::from_name(&t.state).unwrap_or(TxnState::Empty);
            if meta.state == TxnState::PrepareCommit {
                meta.state = TxnState::Ongoing;
                for o in t.pending_offsets {
                    meta.staged.entry(o.group).or_default().insert(
                        (o.topic, o.partition),
                        CommittedOffset {
                            offset: o.offset,
                            leader_epoch: o.leader_epoch,
                            metadata: o.metadata,
                        },
                    );
                }
                decided.insert(t.transactional_id.clone());
            }
            let top = t.producer_id.max(t.previous_producer_id);
            self.next_producer_id
                .fetch_max(top.saturating_add(1), Ordering::Relaxed);
            txns.by_id.insert(t.transactional_id, meta);
        }
        let mut orphans = Vec::new();
        for (topic, partition, producer_id, epoch) in open {
            let owner = txns
                .by_id
                .iter_mut()
                .find(|(_, m)| m.producer_id == producer_id);
            match owner {
                Some((_, meta)) => {
                    meta.state = TxnState::Ongoing;
                    meta.epoch = meta.epoch.max(epoch);
                    meta.partitions.insert((topic, partition));
                }
                None => orphans.push((topic, partition, producer_id, epoch)),
            }
        }
        let mut aborted = 0;
        for (id, meta) in txns.by_id.iter_mut() {
            if meta.state != TxnState::Ongoing {
                continue;
            }
            if decided.contains(id) {
                // Decided before the crash: its remaining markers and its offsets.
                tracing::info!(transactional_id = %id, producer_id = meta.producer_id, partitions = meta.partitions.len(), "finishing a commit decided before the restart");
                self.complete(id, meta, true);
                self.save_txn_id(id, meta);
                continue;
            }
            aborted += 1;
            meta.epoch = meta.epoch.saturating_add(1);
            meta.last_epoch = NO_EPOCH;
            tracing::info!(transactional_id = %id, producer_id = meta.producer_id, epoch = meta.epoch, "aborting a transaction left open by the restart");
            self.complete(id, meta, false);
            self.save_txn_id(id, meta);
        }
        let now = now_ms();
        let mut topics = self.topics();
        for (topic, partition, producer_id, epoch) in orphans {
            let Some(topic) = topics.get_mut(&topic) else {
                continue;
            };
            let mut meta = TxnMetadata::new(producer_id, 0);
            meta.epoch = epoch;
            if write_marker(topic, partition, &meta, false, now) {
                aborted += 1;
            }
        }
        aborted
    }

    /// Ends `meta`'s ongoing transaction: markers with its current epoch on every partition
    /// (under the topics lock, with the transactions lock held by the caller), then the staged
    /// offsets applied (commit) or dropped (abort). Kafka's `prepareComplete` follows: the
    /// completed epoch becomes the last epoch, so a KIP-360 bump from it is accepted.
    fn complete(&self, transactional_id: &str, meta: &mut TxnMetadata, commit: bool) {
        if commit {
            self.save_commit_decision(transactional_id, meta);
        }
        let now = now_ms();
        let mut written = 0usize;
        {
            let mut topics = self.topics();
            for (topic, partition) in &meta.partitions {
                let Some(topic) = topics.get_mut(topic) else {
                    continue;
                };
                if write_marker(topic, *partition, meta, commit, now) {
                    written += 1;
                }
            }
        }
        let staged = std::mem::take(&mut meta.staged);
        if commit {
            for (group, offsets) in staged {
                let partitions: Vec<(String, i32)> = offsets.keys().cloned().collect();
                self.groups.apply_txn_offsets(&group, offsets);
                self.save_group_offsets(&group, &partitions);
            }
        }
        tracing::debug!(
            transactional_id,
            producer_id = meta.producer_id,
            commit,
            markers = written,
            "transaction completed"
        );
        meta.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        meta.partitions.clear();
        meta.groups.clear();
        meta.last_epoch = meta.epoch;
    }
}

fn write_marker(
    topic: &mut Topic,
    partition: i32,
    meta: &TxnMetadata,
    commit: bool,
    now: i64,
) -> bool {
    let log_append_time = topic.config.timestamp_type == TimestampType::LogAppendTime;
    let Some(log) = topic.partition_mut(partition) else {
        return false;
    };
    match log.append_marker(meta.producer_id, meta.epoch, commit, now, log_append_time) {
        Ok(_) => true,
        Err(err) => {
            // Building a one-record control batch cannot fail; if it ever does, say so.
            tracing::error!(%err, partition, "could not write a transaction marker");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BrokerConfig;

    fn state() -> BrokerState {
        BrokerState::new(BrokerConfig::default())
    }

    #[test]
    fn an_exhausted_epoch_rotates_the_producer_id() {
        let s = state();
        let (pid, epoch) = s.init_transactional_producer("t", 60_000, None).unwrap();
        assert_eq!(epoch, 0);
        let exhausted = i16::MAX - 1;
        if let Some(meta) = s.transactions.lock().by_id.get_mut("t") {
            meta.epoch = exhausted;
        }
        // KIP-360 bump from the exhausted epoch: a new producer id at epoch 0.
        let (rotated, epoch) = s
            .init_transactional_producer("t", 60_000, Some((pid, exhausted)))
            .unwrap();
        assert_ne!(rotated, pid);
        assert_eq!(epoch, 0);
        // The same request again (its answer was lost) gets the same answer.
        let again = s
            .init_transactional_producer("t", 60_000, Some((pid, exhausted)))
            .unwrap();
        assert_eq!(again, (rotated, 0));
        // Any other old epoch is fenced.
        assert_eq!(
            s.init_transactional_producer("t", 60_000, Some((pid, 5))),
            Err(ErrorCode::PRODUCER_FENCED)
        );
    }

    #[test]
    fn a_tv2_end_at_an_exhausted_epoch_rotates_the_producer_id() {
        let s = state();
        let (pid, _) = s.init_transactional_producer("t", 60_000, None).unwrap();
        let exhausted = i16::MAX - 1;
        if let Some(meta) = s.transactions.lock().by_id.get_mut("t") {
            meta.epoch = exhausted;
        }
        assert_eq!(
            s.add_offsets_to_txn("t", pid, exhausted, "g"),
            ErrorCode::NONE
        );
        let (rotated, epoch) = s
            .end_txn("t", pid, exhausted, true, TxnVersion::V2)
            .unwrap();
        assert_ne!(rotated, pid);
        assert_eq!(epoch, 0);
        // A retry from the old id and epoch gets the same answer; the other outcome not.
        assert_eq!(
            s.end_txn("t", pid, exhausted, true, TxnVersion::V2),
            Ok((rotated, 0))
        );
        assert_eq!(
            s.end_txn("t", pid, exhausted, false, TxnVersion::V2),
            Err(ErrorCode::INVALID_TXN_STATE)
        );
        // The new id goes on from epoch 0.
        assert_eq!(
            s.end_txn("t", rotated, 0, false, TxnVersion::V2),
            Ok((rotated, 1))
        );
    }

    #[test]
    fn staged_offsets_are_pending_until_the_transaction_ends() {
        let s = state();
        let (pid, epoch) = s.init_transactional_producer("t", 60_000, None).unwrap();
        assert_eq!(s.add_offsets_to_txn("t", pid, epoch, "g"), ErrorCode::NONE);
        let offset = CommittedOffset {
            offset: 3,
            leader_epoch: -1,
            metadata: String::new(),
        };
        let commit = TxnOffsetCommit {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            group_id: "g".into(),
            generation: -1,
            member_id: String::new(),
            instance_id: None,
            offsets: vec![("topic".into(), 0, offset.clone())],
            version: TxnVersion::V1,
        };
        assert_eq!(s.txn_offset_commit(commit), ErrorCode::NONE);
        assert!(s.transactions.lock().has_pending_offsets("g", "topic", 0));
        assert!(s.groups.committed_offsets("g").is_none());
        assert_eq!(
            s.end_txn("t", pid, epoch, true, TxnVersion::V1),
            Ok((pid, epoch))
        );
        assert!(!s.transactions.lock().has_pending_offsets("g", "topic", 0));
        let committed = s.groups.committed_offsets("g").unwrap();
        assert_eq!(committed.get(&("topic".to_owned(), 0)), Some(&offset));
    }

    #[test]
    fn timed_out_transactions_are_aborted_with_a_bumped_epoch() {
        let s = state();
        let (pid, epoch) = s.init_transactional_producer("t", 1, None).unwrap();
        assert_eq!(s.add_offsets_to_txn("t", pid, epoch, "g"), ErrorCode::NONE);
        if let Some(meta) = s.transactions.lock().by_id.get_mut("t") {
            meta.start_ms -= 10;
        }
        assert_eq!(s.abort_timed_out_transactions(), 1);
        let d = s.transactions.describe("t").unwrap();
        assert_eq!(
            (d.state, d.producer_epoch),
            (TxnState::CompleteAbort, epoch + 1)
        );
        assert_eq!(
            s.end_txn("t", pid, epoch, true, TxnVersion::V1),
            Err(ErrorCode::PRODUCER_FENCED)
        );
        assert_eq!(s.abort_timed_out_transactions(), 0);
    }
}
