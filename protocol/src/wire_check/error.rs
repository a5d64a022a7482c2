//! Why a body failed the shape check.

/// A body that does not have the shape its API key and version promise.
///
/// Offsets count bytes from the start of the body (the first byte after the header). Field
/// names are the Kafka JSON names, for logs and for finding a table mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireCheckError {
    /// No table for this API key and version; the broker answers `UNSUPPORTED_VERSION`.
    #[error("api key {api_key} version {version} is not supported")]
    UnsupportedVersion {
        /// The API key from the header.
        api_key: i16,
        /// The API version from the header.
        version: i16,
    },
    /// A fixed-size value runs past the end of the body.
    #[error("{field} at offset {offset} needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: usize,
        /// How many bytes were left.
        remaining: usize,
    },
    /// A length or count read from the wire claims more than the bytes left.
    #[error("{field} at offset {offset} claims {claimed}, only {remaining} bytes left")]
    TooLong {
        /// The field whose length or element count it is.
        field: &'static str,
        /// Where the length or count starts.
        offset: usize,
        /// The length in bytes, or the number of elements (each needs at least one byte).
        claimed: u64,
        /// How many bytes were left after the length or count.
        remaining: usize,
    },
    /// A negative length other than -1, or a null where the field is not nullable.
    #[error("{field} at offset {offset} has invalid length {length}")]
    InvalidLength {
        /// The field whose length it is.
        field: &'static str,
        /// Where the length starts.
        offset: usize,
        /// The length as read (-1 for null).
        length: i64,
    },
    /// An unsigned varint longer than five bytes or wider than 32 bits.
    #[error("{field} at offset {offset} is a malformed varint")]
    MalformedVarint {
        /// The field the varint belongs to.
        field: &'static str,
        /// Where the varint starts.
        offset: usize,
    },
    /// A known tagged field whose value does not fill exactly the size it declares.
    #[error("tagged field {tag} ({field}) at offset {offset} declares {size} bytes, its value uses {used}")]
    TaggedFieldSize {
        /// The tag.
        tag: u32,
        /// The field's name.
        field: &'static str,
        /// Where the value starts.
        offset: usize,
        /// The size the wire declared.
        size: usize,
        /// The bytes the value took.
        used: usize,
    },
}
