//! The ordered in-memory table that holds recent writes, multi-versioned by sequence number.
//!
//! Each user key maps to its versions, newest first. A read at sequence `s` sees the newest
//! version with `seq <= s`; a version is a value or a tombstone. Versions no live snapshot can
//! see are dropped on insert, so overwrites do not grow memory without bound. The memtable never
//! does I/O: it is rebuilt from the WAL on open (and, from the LSM issue on, flushed to tables).

use std::collections::BTreeMap;
use std::ops::Bound;

/// Per-entry bookkeeping counted on top of key and value bytes, for the memory estimate.
const ENTRY_OVERHEAD: usize = 48;

#[derive(Debug, Clone)]
struct Version {
    seq: u64,
    /// `None` is a tombstone.
    value: Option<Box<[u8]>>,
}

/// Multi-version ordered map of user key to value.
#[derive(Debug, Default)]
pub struct Memtable {
    map: BTreeMap<Box<[u8]>, Vec<Version>>,
    approx_bytes: usize,
    versions: usize,
}

fn version_bytes(v: &Version) -> usize {
    v.value.as_ref().map_or(0, |b| b.len()) + ENTRY_OVERHEAD
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Memtable {
        Memtable::default()
    }

    /// Records `value` (or a tombstone when `None`) for `key` at `seq`. `oldest_snapshot` is the
    /// oldest sequence number any reader may still read at; older shadowed versions are dropped.
    pub fn insert(&mut self, key: &[u8], seq: u64, value: Option<&[u8]>, oldest_snapshot: u64) {
        let version = Version {
            seq,
            value: value.map(Box::from),
        };
        self.approx_bytes += version_bytes(&version);
        self.versions += 1;
        let versions = match self.map.get_mut(key) {
            Some(versions) => versions,
            None => {
                self.approx_bytes += key.len();
                self.map.entry(Box::from(key)).or_default()
            }
        };
        debug_assert!(versions.first().is_none_or(|v| v.seq < seq));
        versions.insert(0, version);
        // Keep every version newer than the oldest snapshot, plus the one that snapshot sees.
        if let Some(keep) = versions.iter().position(|v| v.seq <= oldest_snapshot) {
            for dropped in versions.drain(keep + 1..) {
                self.approx_bytes -= version_bytes(&dropped);
                self.versions -= 1;
            }
        }
    }

    /// The value of `key` as of `seq`: `Some(None)` for a tombstone, `None` when the memtable
    /// has no version of the key visible at `seq`.
    pub fn get(&self, key: &[u8], seq: u64) -> Option<Option<&[u8]>> {
        let versions = self.map.get(key)?;
        let v = versions.iter().find(|v| v.seq <= seq)?;
        Some(v.value.as_deref())
    }

    /// Live (non-tombstone) entries visible at `seq` within the bounds, in key order; reverse
    /// with `.rev()`.
    pub fn range<'a>(
        &'a self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        seq: u64,
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let range = if bounds_are_empty(lower, upper) {
            None
        } else {
            Some(self.map.range::<[u8], _>((lower, upper)))
        };
        range
            .into_iter()
            .flatten()
            .filter_map(move |(k, versions)| {
                let v = versions.iter().find(|v| v.seq <= seq)?;
                v.value.as_deref().map(|value| (&k[..], value))
            })
    }

    /// Approximate heap bytes held.
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes + self.map.len() * ENTRY_OVERHEAD
    }

    /// Number of stored versions (values and tombstones, all keys).
    pub fn versions(&self) -> usize {
        self.versions
    }
}

/// True when no key satisfies both bounds (BTreeMap::range panics on such ranges).
fn bounds_are_empty(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u))
        | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(m: &Memtable, lo: Bound<&[u8]>, hi: Bound<&[u8]>, seq: u64) -> Vec<Vec<u8>> {
        m.range(lo, hi, seq).map(|(k, _)| k.to_vec()).collect()
    }

    #[test]
    fn versions_are_read_at_a_sequence() {
        let mut m = Memtable::new();
        m.insert(b"k", 1, Some(b"v1"), 0);
        m.insert(b"k", 2, None, 0);
        m.insert(b"k", 3, Some(b"v3"), 0);
        assert_eq!(m.get(b"k", 0), None);
        assert_eq!(m.get(b"k", 1), Some(Some(&b"v1"[..])));
        assert_eq!(m.get(b"k", 2), Some(None));
        assert_eq!(m.get(b"k", 9), Some(Some(&b"v3"[..])));
        assert_eq!(m.get(b"other", 9), None);
    }

    #[test]
    fn shadowed_versions_are_dropped_when_no_snapshot_needs_them() {
        let mut m = Memtable::new();
        for seq in 1..=100 {
            m.insert(b"k", seq, Some(b"value"), seq);
        }
        assert_eq!(m.versions(), 1);
        // A snapshot at 100 pins version 100 while newer ones arrive.
        m.insert(b"k", 101, Some(b"new"), 100);
        m.insert(b"k", 102, Some(b"newer"), 100);
        assert_eq!(m.versions(), 3);
        assert_eq!(m.get(b"k", 100), Some(Some(&b"value"[..])));
    }

    #[test]
    fn range_respects_bounds_direction_and_tombstones() {
        let mut m = Memtable::new();
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            m.insert(*k, i as u64 + 1, Some(b"v"), 0);
        }
        m.insert(b"c", 5, None, 0);
        let all = keys(&m, Bound::Unbounded, Bound::Unbounded, 9);
        assert_eq!(all, vec![b"a".to_vec(), b"b".to_vec(), b"d".to_vec()]);
        let before_delete = keys(&m, Bound::Included(b"b"), Bound::Excluded(b"d"), 4);
        assert_eq!(before_delete, vec![b"b".to_vec(), b"c".to_vec()]);
        let rev: Vec<_> = m
            .range(Bound::Unbounded, Bound::Unbounded, 9)
            .rev()
            .map(|(k, _)| k.to_vec())
            .collect();
        assert_eq!(rev, vec![b"d".to_vec(), b"b".to_vec(), b"a".to_vec()]);
        assert!(keys(&m, Bound::Included(b"c"), Bound::Excluded(b"c"), 9).is_empty());
        assert!(keys(&m, Bound::Included(b"d"), Bound::Excluded(b"a"), 9).is_empty());
    }
}
