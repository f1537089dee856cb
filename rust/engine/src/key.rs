//! Internal keys: a user key tagged with the sequence number and kind of the write.
//!
//! ```text
//! internal key := user_key trailer:u64be      trailer = seq << 8 | kind
//! ```
//!
//! Internal keys order by user key ascending, then by sequence number descending (newest
//! first), so a seek to `(key, snapshot_seq)` lands on the newest version a snapshot may see.
//! Because user keys vary in length, internal keys must be compared with
//! [`compare_internal`], never bytewise.

use std::cmp::Ordering;

/// Length of the trailer appended to every user key.
pub const TRAILER_LEN: usize = 8;
/// Largest sequence number (56 bits: the low byte of the trailer holds the kind).
pub const MAX_SEQ: u64 = (1 << 56) - 1;

/// What an entry records about its user key.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueKind {
    /// A tombstone: the key is deleted as of this sequence number.
    Delete = 0,
    /// A value.
    Put = 1,
    /// A range tombstone (see [`crate::range_del`]): the user key is the range's start, the
    /// value its end. Never a version of its user key: point reads and iterators skip it.
    RangeDelete = 2,
}

impl ValueKind {
    /// Decodes a kind byte.
    pub fn from_u8(b: u8) -> Option<ValueKind> {
        match b {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            2 => Some(ValueKind::RangeDelete),
            _ => None,
        }
    }
}

/// The trailer of the internal key for `(seq, kind)` (see the module docs).
pub fn encode_trailer(seq: u64, kind: ValueKind) -> [u8; TRAILER_LEN] {
    debug_assert!(seq <= MAX_SEQ);
    ((seq << 8) | kind as u64).to_be_bytes()
}

/// Appends the internal key for `(user_key, seq, kind)` to `out`.
pub fn encode_internal(user_key: &[u8], seq: u64, kind: ValueKind, out: &mut Vec<u8>) {
    out.extend_from_slice(user_key);
    out.extend_from_slice(&encode_trailer(seq, kind));
}

/// Builds the internal key for `(user_key, seq, kind)`.
pub fn internal_key(user_key: &[u8], seq: u64, kind: ValueKind) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    encode_internal(user_key, seq, kind, &mut out);
    out
}

/// The smallest internal key for `user_key` visible at `seq`: seeking to it finds the newest
/// version with sequence number `<= seq`.
pub fn seek_key(user_key: &[u8], seq: u64) -> Vec<u8> {
    internal_key(user_key, seq.min(MAX_SEQ), ValueKind::Put)
}

/// Calls `f` with [`seek_key`]`(user_key, seq)`, built on the stack when it fits (user keys up
/// to 120 bytes), so a point read allocates nothing for it.
pub fn with_seek_key<T>(user_key: &[u8], seq: u64, f: impl FnOnce(&[u8]) -> T) -> T {
    const STACK: usize = 128;
    let len = user_key.len() + TRAILER_LEN;
    if len > STACK {
        return f(&seek_key(user_key, seq));
    }
    let mut buf = [0u8; STACK];
    buf[..user_key.len()].copy_from_slice(user_key);
    buf[user_key.len()..len].copy_from_slice(&encode_trailer(seq.min(MAX_SEQ), ValueKind::Put));
    f(&buf[..len])
}

/// Bytes a [`KeyBuf`] holds without a heap allocation.
pub const KEY_INLINE: usize = 64;

/// A growable key buffer that keeps keys of up to [`KEY_INLINE`] bytes inside itself, so a
/// block cursor or a request holding a typical key allocates nothing. A longer key moves to the
/// heap, and the buffer keeps that allocation for the keys after it.
#[derive(Clone)]
pub struct KeyBuf {
    inline: [u8; KEY_INLINE],
    /// Length of the key in `inline`; unused while `spilled`.
    len: usize,
    /// Holds the key while `spilled`.
    heap: Vec<u8>,
    spilled: bool,
}

impl KeyBuf {
    /// An empty buffer.
    pub const fn new() -> KeyBuf {
        KeyBuf {
            inline: [0; KEY_INLINE],
            len: 0,
            heap: Vec::new(),
            spilled: false,
        }
    }

    /// A buffer holding a copy of `key`.
    pub fn from_slice(key: &[u8]) -> KeyBuf {
        let mut buf = KeyBuf::new();
        buf.extend_from_slice(key);
        buf
    }

    /// The key.
    pub fn as_slice(&self) -> &[u8] {
        if self.spilled {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }

    /// The key's length.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True for an empty key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the buffer (a heap allocation, if any, is kept for reuse).
    pub fn clear(&mut self) {
        self.len = 0;
        self.heap.clear();
        self.spilled = false;
    }

    /// Keeps the first `len` bytes (all of them if there are fewer).
    pub fn truncate(&mut self, len: usize) {
        if self.spilled {
            self.heap.truncate(len);
        } else {
            self.len = self.len.min(len);
        }
    }

    /// Appends `bytes`, moving the key to the heap if it outgrows the inline room.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if self.spilled {
            self.heap.extend_from_slice(bytes);
            return;
        }
        let end = self.len + bytes.len();
        if end <= KEY_INLINE {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.heap.clear();
            self.heap.reserve(end);
            self.heap.extend_from_slice(&self.inline[..self.len]);
            self.heap.extend_from_slice(bytes);
            self.spilled = true;
        }
    }
}

impl Default for KeyBuf {
    fn default() -> KeyBuf {
        KeyBuf::new()
    }
}

impl std::ops::Deref for KeyBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::fmt::Debug for KeyBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyBuf").field(&self.as_slice()).finish()
    }
}

/// A decoded internal key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    pub user_key: &'a [u8],
    pub seq: u64,
    pub kind: ValueKind,
}

/// Splits an internal key, or `None` if it is too short or has an unknown kind.
pub fn parse_internal(ikey: &[u8]) -> Option<ParsedKey<'_>> {
    let split = ikey.len().checked_sub(TRAILER_LEN)?;
    let trailer = u64::from_be_bytes(ikey[split..].try_into().ok()?);
    Some(ParsedKey {
        user_key: &ikey[..split],
        seq: trailer >> 8,
        kind: ValueKind::from_u8(trailer as u8)?,
    })
}

/// The user-key part of an internal key (the whole key if it is malformed).
pub fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(TRAILER_LEN)]
}

/// Orders internal keys: user key ascending, then trailer descending (newest first). The
/// hottest function of the memtable and of every merge: the trailers compare as integers.
#[inline]
pub fn compare_internal(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ub) = (user_key(a), user_key(b));
    ua.cmp(ub)
        .then_with(|| trailer(&b[ub.len()..]).cmp(&trailer(&a[ua.len()..])))
}

/// A trailer's integer value (0 for a malformed, short key).
#[inline]
fn trailer(t: &[u8]) -> u64 {
    t.try_into().map_or(0, u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        let k = internal_key(b"apple", 42, ValueKind::Put);
        let p = parse_internal(&k).unwrap();
        assert_eq!(
            (p.user_key, p.seq, p.kind),
            (&b"apple"[..], 42, ValueKind::Put)
        );
        let mut keys = [
            internal_key(b"b", 1, ValueKind::Put),
            internal_key(b"a", 1, ValueKind::Put),
            internal_key(b"ab", 9, ValueKind::Put),
            internal_key(b"a", 7, ValueKind::Delete),
            internal_key(b"a", 3, ValueKind::Put),
        ];
        keys.sort_by(|x, y| compare_internal(x, y));
        let order: Vec<_> = keys
            .iter()
            .map(|k| {
                let p = parse_internal(k).unwrap();
                (p.user_key.to_vec(), p.seq)
            })
            .collect();
        assert_eq!(
            order,
            vec![
                (b"a".to_vec(), 7),
                (b"a".to_vec(), 3),
                (b"a".to_vec(), 1),
                (b"ab".to_vec(), 9),
                (b"b".to_vec(), 1),
            ]
        );
        // A seek key sorts before every version it may see and after every newer one.
        let seek = seek_key(b"a", 3);
        assert_eq!(
            compare_internal(&seek, &internal_key(b"a", 3, ValueKind::Put)),
            Ordering::Equal
        );
        assert_eq!(
            compare_internal(&seek, &internal_key(b"a", 7, ValueKind::Delete)),
            Ordering::Greater
        );
        assert!(parse_internal(b"short").is_none());
        // Inline, spilled to the heap and back: the same bytes as a Vec fed the same edits.
        let mut buf = KeyBuf::new();
        let mut model = Vec::new();
        for (keep, add) in [
            (0, 10),
            (4, 60),
            (70, 3),
            (2, 100),
            (0, 5),
            (5, 59),
            (64, 1),
        ] {
            buf.truncate(keep);
            model.truncate(keep);
            let bytes: Vec<u8> = (0..add).map(|i| (i * 7 + keep) as u8).collect();
            buf.extend_from_slice(&bytes);
            model.extend_from_slice(&bytes);
            assert_eq!(buf.as_slice(), &model[..], "keep {keep} add {add}");
            if keep == 0 && add == 5 {
                buf.clear();
                model.clear();
                assert!(buf.is_empty());
            }
        }
        assert_eq!(&*KeyBuf::from_slice(&[9; 200]), &[9; 200][..]);
        // Built on the stack or not, the seek key is the same bytes.
        for len in [1, 120, 121, 500] {
            let user = vec![b'k'; len];
            for seq in [0, 3, MAX_SEQ, u64::MAX] {
                with_seek_key(&user, seq, |k| {
                    assert_eq!(k, seek_key(&user, seq), "{len} {seq}")
                });
            }
        }
    }
}
