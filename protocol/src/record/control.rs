//! Control records: the transaction markers a coordinator has the partition leader write.
//!
//! A control record's key is `version: i16, type: i16`; for COMMIT and ABORT its value is
//! `version: i16, coordinatorEpoch: i32`. Newer versions may append fields, so only a minimum
//! length is required and anything after the known fields is ignored, as Java does.
//!
//! What not: the KRaft-only control types (leader change, snapshot header/footer) are reported
//! as [`ControlRecordType::Other`] and their values are not decoded.

use bytes::{BufMut, Bytes};

use super::{Record, RecordError};

/// Key and value versions we write.
const CURRENT_VERSION: i16 = 0;
const KEY_SIZE: usize = 4;
const END_TXN_VALUE_SIZE: usize = 6;

/// The type field of a control record's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// Transaction aborted (type 0).
    Abort,
    /// Transaction committed (type 1).
    Commit,
    /// Any other type; newer brokers define more.
    Other(i16),
}

impl ControlRecordType {
    /// The wire id.
    pub const fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(id) => id,
        }
    }

    /// The type for a wire id.
    pub const fn from_id(id: i16) -> Self {
        match id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            other => ControlRecordType::Other(other),
        }
    }

    /// Reads a control record key.
    pub fn parse_key(key: &[u8]) -> Result<Self, RecordError> {
        let version = super::layout::i16_at(key, 0)
            .ok_or(RecordError::BadControlRecord("key shorter than 4 bytes"))?;
        let id = super::layout::i16_at(key, 2)
            .ok_or(RecordError::BadControlRecord("key shorter than 4 bytes"))?;
        if version < 0 {
            return Err(RecordError::BadControlRecord("negative key version"));
        }
        Ok(Self::from_id(id))
    }

    /// The key bytes for this type.
    pub fn to_key(self) -> Bytes {
        let mut key = Vec::with_capacity(KEY_SIZE);
        key.put_i16(CURRENT_VERSION);
        key.put_i16(self.id());
        Bytes::from(key)
    }
}

/// The content of a COMMIT or ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndTxnMarker {
    /// `Commit` or `Abort`; anything else cannot be written as a marker.
    pub kind: ControlRecordType,
    /// Epoch of the transaction coordinator that decided the outcome, so that a zombie
    /// coordinator's late markers can be told apart.
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    /// Decodes a marker from a control record's key and value.
    pub fn parse(key: &[u8], value: &[u8]) -> Result<Self, RecordError> {
        let kind = ControlRecordType::parse_key(key)?;
        if !matches!(kind, ControlRecordType::Abort | ControlRecordType::Commit) {
            return Err(RecordError::BadControlRecord(
                "not a COMMIT or ABORT marker",
            ));
        }
        let version = super::layout::i16_at(value, 0).ok_or(RecordError::BadControlRecord(
            "marker value shorter than 6 bytes",
        ))?;
        let coordinator_epoch = super::layout::i32_at(value, 2).ok_or(
            RecordError::BadControlRecord("marker value shorter than 6 bytes"),
        )?;
        if version < 0 {
            return Err(RecordError::BadControlRecord("negative marker version"));
        }
        Ok(Self {
            kind,
            coordinator_epoch,
        })
    }

    /// The value bytes of this marker.
    pub fn to_value(self) -> Bytes {
        let mut value = Vec::with_capacity(END_TXN_VALUE_SIZE);
        value.put_i16(CURRENT_VERSION);
        value.put_i32(self.coordinator_epoch);
        Bytes::from(value)
    }
}

impl Record {
    /// The control type of a record from a control batch.
    pub fn control_type(&self) -> Result<ControlRecordType, RecordError> {
        let key = self
            .key
            .as_deref()
            .ok_or(RecordError::BadControlRecord("null key"))?;
        ControlRecordType::parse_key(key)
    }

    /// The COMMIT/ABORT marker carried by a record from a control batch.
    pub fn end_txn_marker(&self) -> Result<EndTxnMarker, RecordError> {
        let key = self
            .key
            .as_deref()
            .ok_or(RecordError::BadControlRecord("null key"))?;
        let value = self
            .value
            .as_deref()
            .ok_or(RecordError::BadControlRecord("null value"))?;
        EndTxnMarker::parse(key, value)
    }
}
