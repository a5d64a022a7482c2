//! The walker: follows a message table over a body, reading only lengths and counts.
//!
//! Every read goes through [`Reader`], which hands out sub-slices with `split_at_checked` and
//! never indexes; a length or count is compared with the bytes left before anything is
//! skipped or iterated. Nothing is allocated, so a hostile count costs one comparison.
//! Recursion depth is bounded by the tables (no struct contains itself), and every loop
//! iteration consumes at least one byte or stops, so time is linear in the body length.

use super::schema::{Field, Message, Ty};
use super::WireCheckError;

/// Walks `body` as `message` at `version` and returns how many bytes the message took; the
/// caller has checked the version is in range.
pub(super) fn walk_message(
    message: &Message,
    version: i16,
    body: &[u8],
) -> Result<usize, WireCheckError> {
    let walk = Walk {
        version,
        flexible: message.flexible.contains(version),
    };
    let mut reader = Reader::new(body, 0);
    walk.fields(&mut reader, message.fields)?;
    Ok(reader.offset)
}

/// What stays fixed for one body: its version and whether that version is flexible.
#[derive(Debug, Clone, Copy)]
struct Walk {
    version: i16,
    flexible: bool,
}

impl Walk {
    fn fields(self, r: &mut Reader<'_>, fields: &[Field]) -> Result<(), WireCheckError> {
        for f in fields {
            if f.tag.is_none() && f.versions.contains(self.version) {
                self.value(r, f.ty, f.name)?;
            }
        }
        if self.flexible {
            self.tagged_section(r, fields)?;
        }
        Ok(())
    }

    /// The tagged-field section that ends every struct in flexible versions: a count, then
    /// (tag, size, value) entries. Known tags are walked inside their declared size, which
    /// they must fill exactly: kafka-protocol decodes them from the main buffer without
    /// looking at the size, so a value shorter than its size would make it read the rest as
    /// fields we never checked. Unknown tags, and known ones outside their versions (which
    /// kafka-protocol rejects by itself), are skipped by size.
    fn tagged_section(self, r: &mut Reader<'_>, fields: &[Field]) -> Result<(), WireCheckError> {
        const NAME: &str = "tagged fields";
        let count_at = r.offset;
        let count = r.uvarint(NAME)?;
        r.ensure_count(NAME, count_at, count)?;
        for _ in 0..count {
            let tag = r.uvarint(NAME)?;
            let size_at = r.offset;
            let size = r.uvarint(NAME)?;
            let value_at = r.offset;
            let value = r.take_claimed(NAME, size_at, u64::from(size))?;
            let known = fields
                .iter()
                .find(|f| f.tag == Some(tag) && f.versions.contains(self.version));
            if let Some(f) = known {
                let mut inner = Reader::new(value, value_at);
                self.value(&mut inner, f.ty, f.name)?;
                if !inner.rest.is_empty() {
                    return Err(WireCheckError::TaggedFieldSize {
                        tag,
                        field: f.name,
                        offset: value_at,
                        size: value.len(),
                        used: value.len().saturating_sub(inner.rest.len()),
                    });
                }
            }
        }
        Ok(())
    }

    fn value(self, r: &mut Reader<'_>, ty: Ty, name: &'static str) -> Result<(), WireCheckError> {
        match ty {
            Ty::I8 | Ty::Bool => r.skip_fixed(name, 1),
            Ty::I16 => r.skip_fixed(name, 2),
            Ty::I32 => r.skip_fixed(name, 4),
            Ty::I64 => r.skip_fixed(name, 8),
            Ty::Uuid => r.skip_fixed(name, 16),
            Ty::String => self.length_prefixed(r, name, false, false),
            Ty::NullableString => self.length_prefixed(r, name, true, false),
            Ty::Bytes => self.length_prefixed(r, name, false, true),
            Ty::Records => self.length_prefixed(r, name, true, true),
            Ty::Array(elem) => self.array(r, elem, name, false),
            Ty::NullableArray(elem) => self.array(r, elem, name, true),
            Ty::Struct(fields) => self.fields(r, fields),
        }
    }

    /// A string (i16 length) or bytes (i32 length) field; compact lengths in flexible versions.
    fn length_prefixed(
        self,
        r: &mut Reader<'_>,
        name: &'static str,
        nullable: bool,
        wide: bool,
    ) -> Result<(), WireCheckError> {
        let at = r.offset;
        let len = if self.flexible {
            r.compact_length(name)?
        } else if wide {
            i64::from(i32::from_be_bytes(r.array(name)?))
        } else {
            i64::from(i16::from_be_bytes(r.array(name)?))
        };
        if let Some(len) = non_null_length(name, at, len, nullable)? {
            r.take_claimed(name, at, len)?;
        }
        Ok(())
    }

    /// Checks the count against the bytes left *before* walking: every element, even a
    /// struct whose fields are all absent in this version, is answered with at least one
    /// byte of budget, so a count can never exceed the body length.
    fn array(
        self,
        r: &mut Reader<'_>,
        elem: &Ty,
        name: &'static str,
        nullable: bool,
    ) -> Result<(), WireCheckError> {
        let at = r.offset;
        let count = if self.flexible {
            r.compact_length(name)?
        } else {
            i64::from(i32::from_be_bytes(r.array(name)?))
        };
        if let Some(count) = non_null_length(name, at, count, nullable)? {
            r.ensure_count(name, at, count)?;
            for _ in 0..count {
                self.value(r, *elem, name)?;
            }
        }
        Ok(())
    }
}

/// Turns a length as read (-1 for null) into `Some(len)`, `None` for an allowed null, or an
/// error for any other negative value or a null the field does not allow.
fn non_null_length(
    field: &'static str,
    offset: usize,
    len: i64,
    nullable: bool,
) -> Result<Option<u64>, WireCheckError> {
    match u64::try_from(len) {
        Ok(len) => Ok(Some(len)),
        Err(_) if len == -1 && nullable => Ok(None),
        Err(_) => Err(WireCheckError::InvalidLength {
            field,
            offset,
            length: len,
        }),
    }
}

/// A forward-only view of the unread part of a body, with every read checked.
#[derive(Debug)]
struct Reader<'a> {
    rest: &'a [u8],
    /// Offset of `rest` from the start of the body, for error reports.
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(rest: &'a [u8], offset: usize) -> Self {
        Self { rest, offset }
    }

    fn advance(&mut self, rest: &'a [u8], n: usize) {
        self.rest = rest;
        self.offset = self.offset.saturating_add(n);
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireCheckError> {
        match self.rest.split_first_chunk::<N>() {
            Some((head, rest)) => {
                let head = *head;
                self.advance(rest, N);
                Ok(head)
            }
            None => Err(self.truncated(field, N)),
        }
    }

    fn skip_fixed(&mut self, field: &'static str, n: usize) -> Result<(), WireCheckError> {
        match self.rest.split_at_checked(n) {
            Some((_, rest)) => {
                self.advance(rest, n);
                Ok(())
            }
            None => Err(self.truncated(field, n)),
        }
    }

    /// Takes `len` bytes that a length field (starting at `at`) claimed.
    fn take_claimed(
        &mut self,
        field: &'static str,
        at: usize,
        len: u64,
    ) -> Result<&'a [u8], WireCheckError> {
        let split = usize::try_from(len)
            .ok()
            .and_then(|n| self.rest.split_at_checked(n));
        match split {
            Some((taken, rest)) => {
                self.advance(rest, taken.len());
                Ok(taken)
            }
            None => Err(self.too_long(field, at, len)),
        }
    }

    /// An element count needs at least one byte per element.
    fn ensure_count(
        &self,
        field: &'static str,
        at: usize,
        count: impl Into<u64>,
    ) -> Result<(), WireCheckError> {
        let count = count.into();
        let fits = usize::try_from(count).is_ok_and(|n| n <= self.rest.len());
        if fits {
            Ok(())
        } else {
            Err(self.too_long(field, at, count))
        }
    }

    /// Kafka's unsigned varint, at most five bytes and 32 bits. Anything longer or wider is
    /// rejected rather than truncated, so the value we check is the value kafka-protocol reads.
    fn uvarint(&mut self, field: &'static str) -> Result<u32, WireCheckError> {
        let start = self.offset;
        let mut value: u32 = 0;
        for i in 0..5u32 {
            let [b] = self.array::<1>(field)?;
            if i == 4 && b > 0x0f {
                return Err(WireCheckError::MalformedVarint {
                    field,
                    offset: start,
                });
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireCheckError::MalformedVarint {
            field,
            offset: start,
        })
    }

    /// A compact length or count: the varint holds length + 1, and 0 means null (-1 here).
    fn compact_length(&mut self, field: &'static str) -> Result<i64, WireCheckError> {
        Ok(i64::from(self.uvarint(field)?) - 1)
    }

    fn truncated(&self, field: &'static str, needed: usize) -> WireCheckError {
        WireCheckError::Truncated {
            field,
            offset: self.offset,
            needed,
            remaining: self.rest.len(),
        }
    }

    fn too_long(&self, field: &'static str, at: usize, claimed: u64) -> WireCheckError {
        WireCheckError::TooLong {
            field,
            offset: at,
            claimed,
            remaining: self.rest.len(),
        }
    }
}
