//! The vocabulary of the message tables: versions, wire types, fields, messages.
//!
//! Everything here is `const`, so a table is data the compiler lays out once; the walker reads
//! it and nothing else. Field names follow the Kafka JSON definitions so a table can be checked
//! against them line by line.

/// An inclusive range of API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    pub(crate) min: i16,
    pub(crate) max: i16,
}

impl Versions {
    pub(crate) const fn contains(self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }
}

/// `N+` in the Kafka JSON: from `min` on, as far as the message goes.
pub(crate) const fn since(min: i16) -> Versions {
    Versions { min, max: i16::MAX }
}

/// `N-M` in the Kafka JSON.
pub(crate) const fn range(min: i16, max: i16) -> Versions {
    Versions { min, max }
}

/// `none` in the Kafka JSON, e.g. the flexible versions of a message that never became flexible.
pub(crate) const NEVER: Versions = Versions { min: 1, max: 0 };

/// How a value is laid out on the wire.
///
/// Strings, bytes and arrays switch to their compact (varint length) form in a message's
/// flexible versions; the table does not repeat that per field. Nullability is a property of
/// the field, not checked per version: kafka-protocol accepts a null wherever its field type is
/// an `Option`, and a null consumes no further bytes either way.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    I8,
    I16,
    I32,
    I64,
    Uuid,
    Bool,
    String,
    NullableString,
    Bytes,
    /// A record set; opaque (nullable) bytes at this level, checked by the record module.
    Records,
    Array(&'static Ty),
    NullableArray(&'static Ty),
    Struct(&'static [Field]),
}

/// One field of a struct, in wire order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) versions: Versions,
    pub(crate) ty: Ty,
    /// `Some(tag)` for a tagged field: it lives in the struct's tagged-field section, not in line.
    pub(crate) tag: Option<u32>,
}

/// A field written in line, in the versions given.
pub(crate) const fn field(name: &'static str, versions: Versions, ty: Ty) -> Field {
    Field {
        name,
        versions,
        ty,
        tag: None,
    }
}

/// A known tagged field (`taggedVersions` in the Kafka JSON).
pub(crate) const fn tagged(tag: u32, name: &'static str, versions: Versions, ty: Ty) -> Field {
    Field {
        name,
        versions,
        ty,
        tag: Some(tag),
    }
}

/// One request or response body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message {
    /// `validVersions`, as far as kafka-protocol 0.18 can encode and decode them.
    pub(crate) versions: Versions,
    /// `flexibleVersions`.
    pub(crate) flexible: Versions,
    pub(crate) fields: &'static [Field],
}

/// Both directions of one API key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Api {
    pub(crate) key: i16,
    /// The Kafka name, `Fetch` for `FetchRequest.json` and `FetchResponse.json`.
    pub(crate) name: &'static str,
    pub(crate) request: &'static Message,
    pub(crate) response: &'static Message,
}
