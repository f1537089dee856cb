//! The ordered in-memory table that holds recent writes, keyed by internal key.
//!
//! Entries are `(user key, seq, kind) -> value`, ordered like SSTable entries (user key
//! ascending, newest version first), so a memtable merges with tables and flushes to one in a
//! single pass. Every version is kept until the flush drops the ones no snapshot can see; the
//! byte count includes them, so overwrites fill (and freeze) a memtable like new keys do. The
//! memtable never does I/O: it is rebuilt from the WAL on open and flushed to an SSTable once
//! full.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{self, compare_internal, ValueKind};

/// Per-entry bookkeeping counted on top of key and value bytes, for the memory estimate.
const ENTRY_OVERHEAD: usize = 64;

/// An internal key ordered by [`compare_internal`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct IKey(Box<[u8]>);

impl Ord for IKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_internal(&self.0, &other.0)
    }
}

impl PartialOrd for IKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Ordered map of internal key to value (empty for tombstones).
#[derive(Debug, Default)]
pub struct Memtable {
    map: BTreeMap<IKey, Box<[u8]>>,
    approx_bytes: usize,
}

fn entry_bytes(ikey: &[u8], value: &[u8]) -> usize {
    ikey.len() + value.len() + ENTRY_OVERHEAD
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Memtable {
        Memtable::default()
    }

    /// Records `value` (or a tombstone when `None`) for `user_key` at `seq`, which must be
    /// larger than any earlier sequence number for the key. Older versions stay until the
    /// flush, which drops those no snapshot can see: one tree descent per write, and the byte
    /// count still bounds memory (a full memtable is frozen, overwrites included).
    pub fn insert(&mut self, user_key: &[u8], seq: u64, value: Option<&[u8]>) {
        let kind = if value.is_some() {
            ValueKind::Put
        } else {
            ValueKind::Delete
        };
        let ikey = IKey(key::internal_key(user_key, seq, kind).into());
        let value: Box<[u8]> = value.unwrap_or_default().into();
        self.approx_bytes += entry_bytes(&ikey.0, &value);
        self.map.insert(ikey, value);
    }

    /// The newest version of `user_key` with sequence number `<= seq`: its kind and value.
    pub fn get(&self, user_key: &[u8], seq: u64) -> Option<(ValueKind, &[u8])> {
        let target = IKey(key::seek_key(user_key, seq).into());
        let (k, v) = self.map.range(target..).next()?;
        let parsed = key::parse_internal(&k.0)?;
        (parsed.user_key == user_key).then_some((parsed.kind, &v[..]))
    }

    /// Every entry in internal-key order (for flushing).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.map.iter().map(|(k, v)| (&k.0[..], &v[..]))
    }

    /// A cursor over the entries.
    pub fn iter(&self) -> MemtableIter<'_> {
        MemtableIter {
            map: &self.map,
            cur: None,
        }
    }

    /// Approximate heap bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes
    }

    /// Number of entries (values and tombstones, all versions).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the memtable holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A cursor over a memtable; borrows it, so the memtable cannot change underneath.
pub struct MemtableIter<'a> {
    map: &'a BTreeMap<IKey, Box<[u8]>>,
    cur: Option<(&'a IKey, &'a [u8])>,
}

/// Narrows a map entry's value to a slice (the map hands out `&Box<[u8]>`).
#[allow(clippy::borrowed_box)]
fn entry<'a>((k, v): (&'a IKey, &'a Box<[u8]>)) -> (&'a IKey, &'a [u8]) {
    (k, v)
}

impl InternalIterator for MemtableIter<'_> {
    fn valid(&self) -> bool {
        self.cur.is_some()
    }

    fn seek_to_first(&mut self) {
        self.cur = self.map.iter().next().map(entry);
    }

    fn seek_to_last(&mut self) {
        self.cur = self.map.iter().next_back().map(entry);
    }

    fn seek(&mut self, target: &[u8]) {
        let t = IKey(target.into());
        self.cur = self.map.range(t..).next().map(entry);
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        let t = IKey(target.into());
        self.cur = self.map.range(..=t).next_back().map(entry);
    }

    fn next(&mut self) {
        if let Some((k, _)) = self.cur {
            self.cur = self
                .map
                .range((Bound::Excluded(k), Bound::Unbounded))
                .next()
                .map(entry);
        }
    }

    fn prev(&mut self) {
        if let Some((k, _)) = self.cur {
            self.cur = self
                .map
                .range((Bound::Unbounded, Bound::Excluded(k)))
                .next_back()
                .map(entry);
        }
    }

    fn key(&self) -> &[u8] {
        &self.cur.expect("valid iterator").0 .0
    }

    fn value(&self) -> &[u8] {
        self.cur.expect("valid iterator").1
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_at_a_sequence() {
        let mut m = Memtable::new();
        m.insert(b"k", 1, Some(b"v1"));
        m.insert(b"k", 2, None);
        m.insert(b"k", 3, Some(b"v3"));
        assert_eq!(m.get(b"k", 0), None);
        assert_eq!(m.get(b"k", 1), Some((ValueKind::Put, &b"v1"[..])));
        assert_eq!(m.get(b"k", 2), Some((ValueKind::Delete, &b""[..])));
        assert_eq!(m.get(b"k", 9), Some((ValueKind::Put, &b"v3"[..])));
        assert_eq!(m.get(b"other", 9), None);
        assert_eq!(m.get(b"j", 9), None);
    }

    #[test]
    fn every_version_is_kept_and_counted() {
        let mut m = Memtable::new();
        m.insert(b"k", 1, Some(b"value"));
        let one = m.approx_bytes();
        for seq in 2..=100 {
            m.insert(b"k", seq, Some(b"value"));
        }
        assert_eq!(m.len(), 100);
        assert_eq!(m.approx_bytes(), 100 * one);
        assert_eq!(m.get(b"k", 50), Some((ValueKind::Put, &b"value"[..])));
    }

    #[test]
    fn cursor_walks_internal_order_both_ways() {
        let mut m = Memtable::new();
        m.insert(b"b", 1, Some(b"b1"));
        m.insert(b"a", 2, Some(b"a2"));
        m.insert(b"b", 3, None);
        m.insert(b"ab", 4, Some(b"ab4"));
        let mut it = m.iter();
        it.seek_to_first();
        let mut seen = Vec::new();
        while it.valid() {
            let p = key::parse_internal(it.key()).unwrap();
            seen.push((p.user_key.to_vec(), p.seq));
            it.next();
        }
        let want = vec![
            (b"a".to_vec(), 2),
            (b"ab".to_vec(), 4),
            (b"b".to_vec(), 3),
            (b"b".to_vec(), 1),
        ];
        assert_eq!(seen, want);
        it.seek_to_last();
        let mut back = Vec::new();
        while it.valid() {
            back.push(key::parse_internal(it.key()).unwrap().seq);
            it.prev();
        }
        assert_eq!(back, vec![1, 3, 4, 2]);
        it.seek(&key::seek_key(b"b", 2));
        assert_eq!(key::parse_internal(it.key()).unwrap().seq, 1);
        it.seek_for_prev(&key::seek_key(b"b", 2));
        assert_eq!(key::parse_internal(it.key()).unwrap().seq, 3);
    }
}
