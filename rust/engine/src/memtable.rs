//! The ordered in-memory table that holds recent writes, keyed by internal key.
//!
//! Entries are `(user key, seq, kind) -> value`, ordered like SSTable entries (user key
//! ascending, newest version first), so a memtable merges with tables and flushes to one in a
//! single pass. Every version is kept until the flush drops the ones no snapshot can see; the
//! byte count includes them, so overwrites fill (and freeze) a memtable like new keys do. The
//! memtable never does I/O: it is rebuilt from the WAL on open and flushed to an SSTable once
//! full.
//!
//! Layout: each entry's internal key and value are copied, back to back, into an arena of
//! large chunks the memtable owns, and an ordered set holds one small fixed-size handle per
//! entry pointing at them. A write therefore costs one copy and one set insertion, with no
//! allocation per entry (a tree node holds several handles, a chunk many entries); the arena
//! frees everything at once when the memtable is dropped after its flush. Bytes in the arena
//! never move and are never written again once an entry is in, which is what makes handing
//! out `&[u8]` into them sound.
//! This module, and no other, dereferences those pointers.

use std::cmp::Ordering;
use std::collections::btree_set::{self, BTreeSet};
use std::mem::MaybeUninit;
use std::ops::Bound;
use std::ptr::NonNull;

use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{self, ValueKind};
use crate::range_del::{GrowingRangeDels, RangeTombstone};

/// Per-entry bookkeeping counted on top of key and value bytes, for the memory estimate.
/// Kept at the value the map-of-boxes memtable used, so a memtable still freezes after the
/// same number of writes (the real overhead is smaller: a 32-byte handle in a tree node).
const ENTRY_OVERHEAD: usize = 64;

/// Bytes of one arena chunk.
const CHUNK_BYTES: usize = 1 << 20;
/// Entries larger than this get a chunk of their own, so that a big value neither makes
/// chunks grow nor leaves much of a chunk unused (at most this many bytes are left over when
/// an entry does not fit the rest of the current chunk).
const OWN_CHUNK_BYTES: usize = CHUNK_BYTES / 8;

/// Append-only storage for entry bytes: chunks allocated once, never moved, never written
/// again where an entry lives, freed together when the arena drops.
struct Arena {
    /// Every chunk: its start and length in bytes (freed in `Drop`).
    chunks: Vec<(NonNull<MaybeUninit<u8>>, usize)>,
    /// Next free byte of the chunk being filled (dangling while `left` is 0).
    next: NonNull<MaybeUninit<u8>>,
    /// Bytes left in the chunk being filled.
    left: usize,
}

// SAFETY: the arena exclusively owns its chunks (plain bytes, no thread affinity); writing
// needs `&mut Arena`, and `&Arena` exposes nothing, so sharing or moving it across threads is
// as safe as for a `Vec<Box<[u8]>>`.
unsafe impl Send for Arena {}
// SAFETY: as above: no method of `&Arena` reads or writes the chunks.
unsafe impl Sync for Arena {}

impl Default for Arena {
    fn default() -> Arena {
        Arena {
            chunks: Vec::new(),
            next: NonNull::dangling(),
            left: 0,
        }
    }
}

impl Arena {
    /// Allocates a chunk of `len` bytes and records it for `Drop`.
    fn new_chunk(&mut self, len: usize) -> NonNull<MaybeUninit<u8>> {
        let chunk: Box<[MaybeUninit<u8>]> = Box::new_uninit_slice(len);
        let base = NonNull::new(Box::into_raw(chunk).cast::<MaybeUninit<u8>>())
            .expect("Box::into_raw is never null");
        self.chunks.push((base, len));
        base
    }

    /// Copies `parts` back to back into fresh arena bytes and returns where they start. The
    /// bytes stay valid, unmoved and unchanged until the arena drops.
    fn push(&mut self, parts: &[&[u8]]) -> NonNull<u8> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let start = if len > OWN_CHUNK_BYTES {
            self.new_chunk(len)
        } else {
            if len > self.left {
                self.next = self.new_chunk(CHUNK_BYTES);
                self.left = CHUNK_BYTES;
            }
            let start = self.next;
            // SAFETY: `len <= self.left`, so `start + len` is within (or one past the end of)
            // the chunk being filled.
            self.next = unsafe { start.add(len) };
            self.left -= len;
            start
        };
        let mut at = start.cast::<u8>();
        for part in parts {
            // SAFETY: `[start, start + len)` is unused arena memory reserved above, owned by
            // this arena and not yet referenced by any handle; `part` is a separate borrowed
            // slice, so the ranges do not overlap; the parts' lengths sum to `len`.
            unsafe {
                std::ptr::copy_nonoverlapping(part.as_ptr(), at.as_ptr(), part.len());
                at = at.add(part.len());
            }
        }
        start.cast::<u8>()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for &(base, len) in &self.chunks {
            // SAFETY: `base` and `len` came from `Box::into_raw` of a `[MaybeUninit<u8>]` of
            // exactly `len` elements in `new_chunk`, and each chunk is freed once, here.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(base.as_ptr(), len)) });
        }
    }
}

/// One entry: where its internal key starts (the value follows it), the two lengths, and
/// the user key's first bytes. A handle in the set points into the memtable's own arena; a
/// search probe points at the caller's target key and lives only for the search.
#[derive(Clone, Copy)]
struct Handle {
    /// The first [`PREFIX_LEN`] bytes of the user key, zero-padded, as a big-endian integer:
    /// most comparisons in a tree descent end here, without reading the arena.
    prefix: u128,
    ptr: NonNull<u8>,
    key_len: u32,
    value_len: u32,
}

/// User-key bytes a handle carries inline.
const PREFIX_LEN: usize = 16;

/// The prefix of an internal key's user key (see [`Handle::prefix`]). Differing prefixes
/// order their keys: the first differing byte is a real byte of both user keys, or padding
/// (0) where the shorter key, a prefix of the other up to there, ends and sorts first.
/// Equal prefixes say nothing (`"a"` and `"a\0"` share one), so the full keys decide.
fn prefix_of(ikey: &[u8]) -> u128 {
    user_key_prefix(key::user_key(ikey))
}

fn user_key_prefix(user: &[u8]) -> u128 {
    let n = user.len().min(PREFIX_LEN);
    let mut padded = [0u8; PREFIX_LEN];
    padded[..n].copy_from_slice(&user[..n]);
    u128::from_be_bytes(padded)
}

// SAFETY: a handle is a read-only view of bytes nobody writes again (arena entries) or that
// outlive it (probes); it carries no ownership, so it may move or be shared across threads
// like the `&[u8]` it stands for. The memtable that owns the arena is `Send + Sync` on these
// grounds: its set is only mutated through `&mut Memtable`.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

impl Handle {
    /// A probe for searching the set: valid while `target` is borrowed, never stored.
    fn probe(target: &[u8]) -> Handle {
        Handle {
            prefix: prefix_of(target),
            ptr: NonNull::from(target).cast::<u8>(),
            key_len: u32::try_from(target.len()).expect("search key fits in u32"),
            value_len: 0,
        }
    }

    /// The internal key.
    fn key(&self) -> &[u8] {
        // SAFETY: `ptr` points at `key_len` initialized bytes that stay valid and unchanged
        // while the handle is reachable: arena bytes live as long as the memtable owning both
        // the arena and the set, and a probe's target outlives the search that uses it.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.key_len as usize) }
    }

    /// The value (empty for a tombstone or a probe).
    fn value(&self) -> &[u8] {
        // SAFETY: as for `key`: arena entries store `value_len` initialized bytes right after
        // the key; a probe has `value_len` 0, and a zero-length slice at one past the key is
        // valid.
        unsafe {
            std::slice::from_raw_parts(
                self.ptr.as_ptr().add(self.key_len as usize),
                self.value_len as usize,
            )
        }
    }
}

impl Ord for Handle {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match self.prefix.cmp(&other.prefix) {
            Ordering::Equal => compare_entry_keys(self.key(), other.key()),
            decided => decided,
        }
    }
}

/// The order of [`key::compare_internal`], written for the memtable's tree descent, which
/// runs it a few dozen times per write: user keys compare eight bytes at a time as
/// big-endian integers (the same order as bytewise), without a call into `memcmp` for keys a
/// few words long.
#[inline]
fn compare_entry_keys(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ub) = (key::user_key(a), key::user_key(b));
    let common = ua.len().min(ub.len());
    let (mut wa, mut wb) = (ua[..common].chunks_exact(8), ub[..common].chunks_exact(8));
    for (x, y) in (&mut wa).zip(&mut wb) {
        let (x, y) = (word(x), word(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    for (x, y) in wa.remainder().iter().zip(wb.remainder()) {
        if x != y {
            return x.cmp(y);
        }
    }
    ua.len()
        .cmp(&ub.len())
        .then_with(|| trailer_of(b).cmp(&trailer_of(a)))
}

#[inline]
fn word(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("eight-byte chunk"))
}

/// The trailer of an internal key as an integer, 0 for a malformed short key (as
/// [`key::compare_internal`] treats it).
#[inline]
fn trailer_of(ikey: &[u8]) -> u64 {
    match ikey.len().checked_sub(key::TRAILER_LEN) {
        Some(split) => word(&ikey[split..]),
        None => 0,
    }
}

impl PartialOrd for Handle {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Handle {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Handle {}

/// Ordered set of entries (values are empty for tombstones) over the arena holding them.
#[derive(Default)]
pub struct Memtable {
    /// Declared before `arena`: dropped first, though a `Handle` has no drop of its own.
    entries: BTreeSet<Handle>,
    arena: Arena,
    approx_bytes: usize,
    /// Range deletes; kept apart from the entries so point reads and cursors never meet them.
    range_dels: GrowingRangeDels,
}

impl std::fmt::Debug for Memtable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memtable")
            .field("entries", &self.entries.len())
            .field("approx_bytes", &self.approx_bytes)
            .finish()
    }
}

fn entry_bytes(ikey_len: usize, value_len: usize) -> usize {
    ikey_len + value_len + ENTRY_OVERHEAD
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
        let trailer = key::encode_trailer(seq, kind);
        let value = value.unwrap_or_default();
        let key_len = user_key.len() + key::TRAILER_LEN;
        let handle = Handle {
            prefix: user_key_prefix(user_key),
            ptr: self.arena.push(&[user_key, &trailer, value]),
            key_len: u32::try_from(key_len).expect("batch limits keep keys within u32"),
            value_len: u32::try_from(value.len()).expect("batch limits keep values within u32"),
        };
        self.approx_bytes += entry_bytes(key_len, value.len());
        // An equal internal key (same user key and sequence) cannot come twice; if it did, the
        // newer bytes win, as in a map.
        self.entries.replace(handle);
    }

    /// Records a delete of every key in `[start, end)` at `seq`.
    pub fn delete_range(&mut self, start: &[u8], end: &[u8], seq: u64) {
        self.approx_bytes += entry_bytes(start.len() + key::TRAILER_LEN, end.len());
        self.range_dels.push(RangeTombstone {
            start: start.into(),
            end: end.into(),
            seq,
        });
    }

    /// The range deletes, in the order written.
    pub fn range_tombstones(&self) -> &[RangeTombstone] {
        self.range_dels.all()
    }

    /// The range deletes, for reads.
    pub fn range_dels(&self) -> &GrowingRangeDels {
        &self.range_dels
    }

    /// The newest version of `user_key` with sequence number `<= seq`: its kind, sequence
    /// number and value.
    pub fn get(&self, user_key: &[u8], seq: u64) -> Option<(ValueKind, u64, &[u8])> {
        let found = key::with_seek_key(user_key, seq, |target| {
            self.entries
                .range((Bound::Included(Handle::probe(target)), Bound::Unbounded))
                .next()
        })?;
        let parsed = key::parse_internal(found.key())?;
        (parsed.user_key == user_key).then_some((parsed.kind, parsed.seq, found.value()))
    }

    /// Every entry in internal-key order (for flushing).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries.iter().map(|h| (h.key(), h.value()))
    }

    /// A cursor over the entries.
    pub fn iter(&self) -> MemtableIter<'_> {
        MemtableIter {
            entries: &self.entries,
            range: self.entries.range(..),
            cur: None,
            forward: true,
        }
    }

    /// Approximate heap bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes
    }

    /// Number of entries (values and tombstones, all versions; range deletes not counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the memtable holds nothing, range deletes included.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.range_dels.is_empty()
    }
}

/// A cursor over a memtable; borrows it, so the memtable cannot change underneath. Steps in
/// one direction walk a set range (no descent per step); turning around re-descends once.
pub struct MemtableIter<'a> {
    entries: &'a BTreeSet<Handle>,
    /// Entries not yet visited in the current direction: after `cur` when `forward`, before
    /// it otherwise.
    range: btree_set::Range<'a, Handle>,
    cur: Option<&'a Handle>,
    forward: bool,
}

impl<'a> MemtableIter<'a> {
    fn walk_forward(&mut self, from: Bound<Handle>) {
        self.range = self.entries.range((from, Bound::Unbounded));
        self.forward = true;
        self.cur = self.range.next();
    }

    fn walk_backward(&mut self, to: Bound<Handle>) {
        self.range = self.entries.range((Bound::Unbounded, to));
        self.forward = false;
        self.cur = self.range.next_back();
    }
}

impl InternalIterator for MemtableIter<'_> {
    fn valid(&self) -> bool {
        self.cur.is_some()
    }

    fn seek_to_first(&mut self) {
        self.walk_forward(Bound::Unbounded);
    }

    fn seek_to_last(&mut self) {
        self.walk_backward(Bound::Unbounded);
    }

    fn seek(&mut self, target: &[u8]) {
        self.walk_forward(Bound::Included(Handle::probe(target)));
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.walk_backward(Bound::Included(Handle::probe(target)));
    }

    fn next(&mut self) {
        if let Some(&cur) = self.cur {
            if self.forward {
                self.cur = self.range.next();
            } else {
                self.walk_forward(Bound::Excluded(cur));
            }
        }
    }

    fn prev(&mut self) {
        if let Some(&cur) = self.cur {
            if self.forward {
                self.walk_backward(Bound::Excluded(cur));
            } else {
                self.cur = self.range.next_back();
            }
        }
    }

    fn key(&self) -> &[u8] {
        self.cur.expect("valid iterator").key()
    }

    fn value(&self) -> &[u8] {
        self.cur.expect("valid iterator").value()
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
        assert_eq!(m.get(b"k", 1), Some((ValueKind::Put, 1, &b"v1"[..])));
        assert_eq!(m.get(b"k", 2), Some((ValueKind::Delete, 2, &b""[..])));
        assert_eq!(m.get(b"k", 9), Some((ValueKind::Put, 3, &b"v3"[..])));
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
        assert_eq!(m.get(b"k", 50), Some((ValueKind::Put, 50, &b"value"[..])));
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

    #[test]
    fn entry_order_matches_internal_key_order() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut keys = Vec::new();
        for _ in 0..400 {
            let r = next();
            // Short alphabets and lengths around the word size make shared prefixes, prefixes
            // of each other, and equal user keys common; some keys are too short to parse.
            let len = (r % 28) as usize;
            let mut k: Vec<u8> = (0..len)
                .map(|i| b"ab\x00\xff"[((r >> (i * 2 + 8)) % 4) as usize])
                .collect();
            if len >= 2 && r % 3 == 0 {
                k.extend_from_slice(&((next() % 4) << 8 | 1).to_be_bytes());
            }
            keys.push(k);
        }
        for a in &keys {
            for b in &keys {
                let want = key::compare_internal(a, b);
                assert_eq!(compare_entry_keys(a, b), want, "{a:?} vs {b:?}");
                let handles = Handle::probe(a).cmp(&Handle::probe(b));
                assert_eq!(handles, want, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn is_shared_with_the_flush_thread() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Memtable>();
    }

    #[test]
    fn entries_spanning_chunks_and_big_values_read_back() {
        let mut m = Memtable::new();
        let mut model = std::collections::BTreeMap::new();
        let big = vec![7u8; OWN_CHUNK_BYTES + 1];
        for i in 0..20_000u64 {
            let k = format!("key{:05}", (i * 7919) % 20_000).into_bytes();
            let v: Vec<u8> = if i % 1000 == 0 {
                big.clone()
            } else {
                vec![i as u8; (i % 300) as usize]
            };
            m.insert(&k, i + 1, Some(&v));
            model.insert(k, v);
        }
        assert_eq!(m.len(), model.len());
        for (k, v) in &model {
            assert_eq!(m.get(k, u64::MAX).map(|(kind, _, v)| (kind, v)), Some((ValueKind::Put, &v[..])));
        }
        let flushed: Vec<_> = m
            .entries()
            .map(|(k, v)| (key::user_key(k).to_vec(), v.to_vec()))
            .collect();
        let want: Vec<_> = model.into_iter().collect();
        assert!(flushed == want, "entries differ from the model");
    }

    #[test]
    fn cursor_turns_around_mid_walk() {
        let mut m = Memtable::new();
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            m.insert(*k, i as u64 + 1, Some(*k));
        }
        let user = |it: &MemtableIter<'_>| key::user_key(it.key()).to_vec();
        let mut it = m.iter();
        assert!(!it.valid());
        it.seek(&key::seek_key(b"b", 9));
        assert_eq!(user(&it), b"b");
        it.next();
        assert_eq!(user(&it), b"c");
        it.prev();
        assert_eq!(user(&it), b"b");
        it.prev();
        assert_eq!(user(&it), b"a");
        it.next();
        assert_eq!(user(&it), b"b");
        assert_eq!(it.value(), b"b");
        it.seek_for_prev(&key::seek_key(b"bb", 9));
        assert_eq!(user(&it), b"b");
        it.next();
        it.next();
        it.next();
        assert!(!it.valid());
        it.seek_to_first();
        it.prev();
        assert!(!it.valid());
    }
}
