//! Atomic write batches and their byte encoding.
//!
//! The encoding is shared by three parties, so it is deliberately plain: the Go SDK builds it,
//! the C ABI copies it in, and the write-ahead log stores it verbatim as a record payload.
//!
//! ```text
//! entry  := kind:u8 key_len:u32le key [value_len:u32le value]   (value only when kind = PUT
//!                                                                 or DELETE_RANGE)
//! batch  := entry*
//! ```
//!
//! A DELETE_RANGE entry deletes every key in `[key, value)`: its key is the range's start, its
//! "value" the range's end, both checked like keys (a start after the end is refused; an
//! empty range, start = end, deletes nothing).
//!
//! A batch is validated once, when it is built or decoded; everything after that (WAL append,
//! replay, memtable apply) can iterate it without re-checking.

use crate::error::{Error, Result};

/// Largest key, in bytes.
pub const MAX_KEY_LEN: usize = 64 << 10;
/// Largest value, in bytes.
pub const MAX_VALUE_LEN: usize = 64 << 20;
/// Largest encoded batch, in bytes (a few maximal values, with room for framing).
pub const MAX_BATCH_LEN: usize = 256 << 20;

/// The encoded kind of a put (also the C ABI's `STRATA_BATCH_PUT`).
pub const KIND_PUT: u8 = 1;
/// The encoded kind of a delete (also the C ABI's `STRATA_BATCH_DELETE`).
pub const KIND_DELETE: u8 = 2;
/// The encoded kind of a range delete (also the C ABI's `STRATA_BATCH_DELETE_RANGE`).
pub const KIND_DELETE_RANGE: u8 = 3;

/// One operation inside a batch, borrowing the batch's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOp<'a> {
    Put {
        key: &'a [u8],
        value: &'a [u8],
    },
    Delete {
        key: &'a [u8],
    },
    /// Deletes every key in `[start, end)`.
    DeleteRange {
        start: &'a [u8],
        end: &'a [u8],
    },
}

impl<'a> BatchOp<'a> {
    /// The key this operation writes (a range delete's start).
    pub fn key(&self) -> &'a [u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key } => key,
            BatchOp::DeleteRange { start, .. } => start,
        }
    }
}

/// An ordered list of puts, deletes and range deletes applied atomically with consecutive
/// sequence numbers (one per operation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    data: Vec<u8>,
    count: u32,
}

/// Checks a key against the engine's limits.
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("key is empty".into()));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidArgument(format!(
            "key is {} bytes, the limit is {MAX_KEY_LEN}",
            key.len()
        )));
    }
    Ok(())
}

/// Checks a range delete's bounds: both valid keys, the start not after the end.
pub fn check_range(start: &[u8], end: &[u8]) -> Result<()> {
    check_key(start)?;
    check_key(end)?;
    if start > end {
        return Err(Error::InvalidArgument(
            "range delete's start sorts after its end".into(),
        ));
    }
    Ok(())
}

/// Checks a value against the engine's limits.
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::InvalidArgument(format!(
            "value is {} bytes, the limit is {MAX_VALUE_LEN}",
            value.len()
        )));
    }
    Ok(())
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Appends a put. Fails if the key or value breaks a limit or the batch grows too large.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.reserve(9 + key.len() + value.len())?;
        self.data.push(KIND_PUT);
        put_chunk(&mut self.data, key);
        put_chunk(&mut self.data, value);
        self.count += 1;
        Ok(())
    }

    /// Appends a delete. Fails if the key breaks a limit or the batch grows too large.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.reserve(5 + key.len())?;
        self.data.push(KIND_DELETE);
        put_chunk(&mut self.data, key);
        self.count += 1;
        Ok(())
    }

    /// Appends a delete of every key in `[start, end)`. Fails if either key breaks a limit,
    /// `start` sorts after `end`, or the batch grows too large. `start == end` deletes nothing.
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()> {
        check_range(start, end)?;
        self.reserve(9 + start.len() + end.len())?;
        self.data.push(KIND_DELETE_RANGE);
        put_chunk(&mut self.data, start);
        put_chunk(&mut self.data, end);
        self.count += 1;
        Ok(())
    }

    fn reserve(&mut self, extra: usize) -> Result<()> {
        if self.data.len() + extra > MAX_BATCH_LEN {
            return Err(Error::InvalidArgument(format!(
                "batch would exceed {MAX_BATCH_LEN} bytes"
            )));
        }
        if self.count == u32::MAX {
            return Err(Error::InvalidArgument("batch has too many entries".into()));
        }
        self.data.reserve(extra);
        Ok(())
    }

    /// Takes ownership of encoded bytes after validating every entry against the limits.
    pub fn from_bytes(data: Vec<u8>) -> Result<Batch> {
        if data.len() > MAX_BATCH_LEN {
            return Err(Error::InvalidArgument(format!(
                "batch is {} bytes, the limit is {MAX_BATCH_LEN}",
                data.len()
            )));
        }
        let mut count: u32 = 0;
        let mut rest = &data[..];
        while !rest.is_empty() {
            let (op, tail) = decode_op(rest)?;
            match op {
                BatchOp::Put { key, value } => {
                    check_key(key)?;
                    check_value(value)?;
                }
                BatchOp::Delete { key } => check_key(key)?,
                BatchOp::DeleteRange { start, end } => check_range(start, end)?,
            }
            rest = tail;
            count = count
                .checked_add(1)
                .ok_or_else(|| Error::InvalidArgument("batch has too many entries".into()))?;
        }
        Ok(Batch { data, count })
    }

    /// Number of operations.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded bytes (the WAL record payload).
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The operations in order.
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter { rest: &self.data }
    }
}

/// Iterates a validated batch.
pub struct BatchIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = BatchOp<'a>;

    fn next(&mut self) -> Option<BatchOp<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        // The batch was validated when it was built, so decoding cannot fail here.
        let (op, tail) = decode_op(self.rest).expect("validated batch decodes");
        self.rest = tail;
        Some(op)
    }
}

fn put_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn take_chunk(buf: &[u8]) -> Result<(&[u8], &[u8])> {
    let truncated = || Error::InvalidArgument("batch encoding is truncated".into());
    let len_bytes: [u8; 4] = buf.get(..4).ok_or_else(truncated)?.try_into().unwrap();
    let len = u32::from_le_bytes(len_bytes) as usize;
    let body = buf.get(4..4 + len).ok_or_else(truncated)?;
    Ok((body, &buf[4 + len..]))
}

fn decode_op(buf: &[u8]) -> Result<(BatchOp<'_>, &[u8])> {
    let (&kind, rest) = buf
        .split_first()
        .ok_or_else(|| Error::InvalidArgument("batch encoding is truncated".into()))?;
    match kind {
        KIND_PUT => {
            let (key, rest) = take_chunk(rest)?;
            let (value, rest) = take_chunk(rest)?;
            Ok((BatchOp::Put { key, value }, rest))
        }
        KIND_DELETE => {
            let (key, rest) = take_chunk(rest)?;
            Ok((BatchOp::Delete { key }, rest))
        }
        KIND_DELETE_RANGE => {
            let (start, rest) = take_chunk(rest)?;
            let (end, rest) = take_chunk(rest)?;
            Ok((BatchOp::DeleteRange { start, end }, rest))
        }
        other => Err(Error::InvalidArgument(format!(
            "batch entry has unknown kind {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let mut b = Batch::new();
        b.put(b"a", b"1").unwrap();
        b.delete(b"b").unwrap();
        b.put(b"c", b"").unwrap();
        b.delete_range(b"d", b"f").unwrap();
        let decoded = Batch::from_bytes(b.as_bytes().to_vec()).unwrap();
        assert_eq!(decoded, b);
        let ops: Vec<_> = decoded.iter().collect();
        assert_eq!(
            ops,
            vec![
                BatchOp::Put {
                    key: b"a",
                    value: b"1"
                },
                BatchOp::Delete { key: b"b" },
                BatchOp::Put {
                    key: b"c",
                    value: b""
                },
                BatchOp::DeleteRange {
                    start: b"d",
                    end: b"f"
                },
            ]
        );
    }

    #[test]
    fn limits_are_enforced() {
        let mut b = Batch::new();
        assert!(matches!(b.put(b"", b"v"), Err(Error::InvalidArgument(_))));
        assert!(b.put(&vec![0; MAX_KEY_LEN], b"v").is_ok());
        assert!(matches!(
            b.put(&vec![0; MAX_KEY_LEN + 1], b"v"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            b.put(b"k", &vec![0; MAX_VALUE_LEN + 1]),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            b.delete_range(b"b", b"a"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(b.delete_range(b"a", b"a").is_ok());
        assert_eq!(b.count(), 2);
    }

    #[test]
    fn malformed_encodings_are_rejected() {
        for bad in [
            vec![9u8],                                   // unknown kind
            vec![1, 5, 0, 0, 0, b'a'],                   // key shorter than its length
            vec![2, 0, 0, 0, 0],                         // empty key
            vec![1, 1, 0, 0, 0, b'k'],                   // put without value length
            vec![3, 1, 0, 0, 0, b'b', 1, 0, 0, 0, b'a'], // range start after its end
            vec![3, 1, 0, 0, 0, b'a', 0, 0, 0, 0],       // range with an empty end
        ] {
            assert!(
                matches!(
                    Batch::from_bytes(bad.clone()),
                    Err(Error::InvalidArgument(_))
                ),
                "{bad:?} accepted"
            );
        }
        assert!(Batch::from_bytes(Vec::new()).unwrap().is_empty());
    }
}
