//! Range tombstones: one write that deletes every key in `[start, end)` older than it.
//!
//! A range delete is stored where the rest of its batch goes (the WAL, then the memtable) and
//! flushed into a table as an ordinary entry of kind [`ValueKind::RangeDelete`] keyed by its
//! start, with its end as the value; the table's manifest entry lists it too
//! ([`FileMeta::range_dels`](crate::manifest::FileMeta)), so reads never search tables for
//! tombstones, and a repair that rebuilds the manifest finds them in the tables. Point reads
//! and iterators skip those entries; what a tombstone deletes is decided by a
//! [`RangeDelSet`]: every live tombstone of the tree, cut into non-overlapping fragments, each
//! with the sequence numbers of the tombstones over it. A version of key `k` at sequence `v`
//! is deleted for a reader at snapshot `s` when a tombstone over `k` has a sequence in
//! `(v, s]`. The level a tombstone sits at plays no part, so a tombstone works the same in a
//! memtable, in L0 or at the bottom, and compactions may move it freely.
//!
//! Compaction drops a version a tombstone deletes for every snapshot (no snapshot between the
//! version and the tombstone), and drops the tombstone itself once no other table over its
//! range holds anything older than it (see [`crate::compaction`]).

use crate::key::{self, ValueKind};
use crate::manifest::FileMeta;

/// One range delete: every key in `[start, end)` with a sequence below `seq` is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTombstone {
    pub start: Box<[u8]>,
    pub end: Box<[u8]>,
    pub seq: u64,
}

impl RangeTombstone {
    /// The tombstone stored as a table entry with internal key `ikey` and value `value`;
    /// `None` for any other entry.
    pub fn from_entry(ikey: &[u8], value: &[u8]) -> Option<RangeTombstone> {
        let p = key::parse_internal(ikey)?;
        (p.kind == ValueKind::RangeDelete).then(|| RangeTombstone::of(&p, value))
    }

    /// The tombstone of a parsed entry of kind [`ValueKind::RangeDelete`] whose value is `end`.
    pub fn of(entry: &key::ParsedKey<'_>, end: &[u8]) -> RangeTombstone {
        debug_assert_eq!(entry.kind, ValueKind::RangeDelete);
        RangeTombstone {
            start: entry.user_key.into(),
            end: end.into(),
            seq: entry.seq,
        }
    }

    /// The internal key of its table entry (the value is [`RangeTombstone::end`]).
    pub fn internal_key(&self) -> Vec<u8> {
        key::internal_key(&self.start, self.seq, ValueKind::RangeDelete)
    }

    /// True when the range holds no key.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    /// True when the user-key range `[lo, hi]` has a key in `[start, end)`.
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        &*self.start <= hi && lo < &*self.end
    }
}

/// Tombstones cut into sorted, non-overlapping fragments for lookups by key.
///
/// Fragment `i` is `[bounds[i], bounds[i + 1])`; `seqs[i]` lists, newest first, the sequence
/// numbers of the tombstones over it (empty for a gap between tombstones). Built once per
/// change of the tombstones it holds, read by many.
#[derive(Debug, Default)]
pub struct RangeDelSet {
    bounds: Vec<Box<[u8]>>,
    seqs: Vec<Vec<u64>>,
}

impl RangeDelSet {
    /// The set of `tombstones` (empty ranges are left out).
    pub fn new<'a>(tombstones: impl IntoIterator<Item = &'a RangeTombstone>) -> RangeDelSet {
        let tombstones: Vec<&RangeTombstone> =
            tombstones.into_iter().filter(|t| !t.is_empty()).collect();
        if tombstones.is_empty() {
            return RangeDelSet::default();
        }
        let mut bounds: Vec<&[u8]> = tombstones
            .iter()
            .flat_map(|t| [&*t.start, &*t.end])
            .collect();
        bounds.sort_unstable();
        bounds.dedup();
        let mut seqs = vec![Vec::new(); bounds.len() - 1];
        for t in &tombstones {
            let from = bounds.partition_point(|b| *b < &*t.start);
            let to = bounds.partition_point(|b| *b < &*t.end);
            for fragment in &mut seqs[from..to] {
                fragment.push(t.seq);
            }
        }
        for fragment in &mut seqs {
            fragment.sort_unstable_by(|a, b| b.cmp(a));
            fragment.dedup();
        }
        RangeDelSet {
            bounds: bounds.into_iter().map(Box::from).collect(),
            seqs,
        }
    }

    /// True when no tombstone covers any key.
    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// Sequence numbers of the tombstones over `key`, newest first.
    fn over(&self, key: &[u8]) -> &[u64] {
        let i = self.bounds.partition_point(|b| &**b <= key);
        if i == 0 || i >= self.bounds.len() {
            return &[];
        }
        &self.seqs[i - 1]
    }

    /// The newest tombstone over `key` a reader at `snapshot` sees, 0 when none: every
    /// version of `key` older than it is deleted for that reader.
    pub fn covering_seq(&self, key: &[u8], snapshot: u64) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let over = self.over(key);
        let i = over.partition_point(|&s| s > snapshot);
        over.get(i).copied().unwrap_or(0)
    }

    /// True when tombstones a reader at `snapshot` sees, each newer than `newer_than`, cover
    /// every key of `[lo, hi]`.
    pub fn covers_span(&self, lo: &[u8], hi: &[u8], newer_than: u64, snapshot: u64) -> bool {
        // The fragment holding `lo`, then each next one until one reaches past `hi`.
        let Some(mut i) = self.bounds.partition_point(|b| &**b <= lo).checked_sub(1) else {
            return false;
        };
        while i + 1 < self.bounds.len() {
            let over = &self.seqs[i];
            let seen = over.partition_point(|&s| s > snapshot);
            if over.get(seen).is_none_or(|&s| s <= newer_than) {
                return false;
            }
            if hi < &*self.bounds[i + 1] {
                return true;
            }
            i += 1;
        }
        false
    }

    /// The oldest tombstone over `key` newer than `seq`, if any: the first write that deletes
    /// the version of `key` at `seq`.
    pub fn deleter_of(&self, key: &[u8], seq: u64) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let over = self.over(key);
        let i = over.partition_point(|&s| s > seq);
        i.checked_sub(1).map(|i| over[i])
    }
}

/// A growing list of tombstones (a memtable's), cheap to add to and to query: the older ones
/// are cut into a [`RangeDelSet`], the newest few are searched one by one, and the set is
/// rebuilt once that tail outgrows the square root of the whole. So each range delete costs
/// about `sqrt(n) log n` and each lookup `log n + sqrt(n)`, never a rebuild per write.
#[derive(Debug, Default)]
pub struct GrowingRangeDels {
    all: Vec<RangeTombstone>,
    /// The fragments of `all[..built]`.
    set: RangeDelSet,
    built: usize,
}

impl GrowingRangeDels {
    /// Adds a tombstone.
    pub fn push(&mut self, tomb: RangeTombstone) {
        self.all.push(tomb);
        let tail = self.all.len() - self.built;
        if tail * tail > self.all.len().max(256) {
            self.set = RangeDelSet::new(&self.all);
            self.built = self.all.len();
        }
    }

    /// Every tombstone, in the order added.
    pub fn all(&self) -> &[RangeTombstone] {
        &self.all
    }

    /// True when no tombstone was added.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// As [`RangeDelSet::covers_span`] (a span the two parts cover only together counts as
    /// not covered: the answer is a shortcut, never needed for correctness).
    pub fn covers_span(&self, lo: &[u8], hi: &[u8], newer_than: u64, snapshot: u64) -> bool {
        self.set.covers_span(lo, hi, newer_than, snapshot)
            || self.all[self.built..].iter().any(|t| {
                newer_than < t.seq && t.seq <= snapshot && &*t.start <= lo && hi < &*t.end
            })
    }

    /// As [`RangeDelSet::covering_seq`].
    pub fn covering_seq(&self, key: &[u8], snapshot: u64) -> u64 {
        if self.all.is_empty() {
            return 0;
        }
        self.all[self.built..]
            .iter()
            .filter(|t| t.seq <= snapshot && &*t.start <= key && key < &*t.end)
            .map(|t| t.seq)
            .fold(self.set.covering_seq(key, snapshot), u64::max)
    }
}

/// The tombstones a read combines: the active memtable's and the tree's.
#[derive(Clone, Copy)]
pub struct Deletions<'a> {
    pub mem: &'a GrowingRangeDels,
    pub tree: &'a RangeDelSet,
    pub snapshot: u64,
}

impl Deletions<'_> {
    /// True when the version of `key` at `seq` is deleted for this read.
    pub fn deletes(&self, key: &[u8], seq: u64) -> bool {
        self.tree.covering_seq(key, self.snapshot) > seq
            || self.mem.covering_seq(key, self.snapshot) > seq
    }

    /// True when this read sees none of `f`'s entries: tombstones newer than all of them cover
    /// its whole key range. An iterator skips such a table unread (its own range tombstones
    /// included: reads apply those from the manifest, never from the entries).
    pub fn hides_table(&self, f: &FileMeta) -> bool {
        let (lo, hi) = (key::user_key(&f.smallest), key::user_key(&f.largest));
        self.tree.covers_span(lo, hi, f.largest_seq, self.snapshot)
            || self.mem.covers_span(lo, hi, f.largest_seq, self.snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(start: &str, end: &str, seq: u64) -> RangeTombstone {
        RangeTombstone {
            start: start.as_bytes().into(),
            end: end.as_bytes().into(),
            seq,
        }
    }

    /// What the set answers, computed from the tombstones one by one.
    fn covering_by_hand(ts: &[RangeTombstone], key: &[u8], snapshot: u64) -> u64 {
        ts.iter()
            .filter(|t| &*t.start <= key && key < &*t.end && t.seq <= snapshot)
            .map(|t| t.seq)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn fragments_answer_like_the_tombstones_one_by_one() {
        let ts = vec![
            t("b", "f", 5),
            t("d", "h", 9),
            t("a", "c", 2),
            t("e", "e", 20), // empty: deletes nothing
            t("g", "k", 7),
            t("d", "h", 9), // a duplicate changes nothing
            t("x", "z", 3),
        ];
        let set = RangeDelSet::new(&ts);
        for key in ["", "a", "b", "bb", "c", "d", "e", "f", "g", "h", "j", "k", "w", "x", "y", "z"]
        {
            for snapshot in 0..12 {
                assert_eq!(
                    set.covering_seq(key.as_bytes(), snapshot),
                    covering_by_hand(&ts, key.as_bytes(), snapshot),
                    "key {key:?} at {snapshot}"
                );
            }
            for seq in 0..12 {
                let want = ts
                    .iter()
                    .filter(|t| !t.is_empty() && t.overlaps(key.as_bytes(), key.as_bytes()))
                    .map(|t| t.seq)
                    .filter(|&s| s > seq)
                    .min();
                assert_eq!(set.deleter_of(key.as_bytes(), seq), want, "{key:?} {seq}");
            }
        }
        assert!(RangeDelSet::new(&[t("a", "a", 1)]).is_empty());
    }

    #[test]
    fn spans_are_covered_where_every_key_of_them_is() {
        let ts = vec![
            t("b", "f", 5),
            t("d", "h", 9),
            t("h", "k", 7),
            t("x", "z", 3),
        ];
        let set = RangeDelSet::new(&ts);
        let mut grown = GrowingRangeDels::default();
        ts.iter().for_each(|tomb| grown.push(tomb.clone()));
        // Seqs are constant between bounds, so a span is covered when its start and every
        // bound inside it are.
        let bounds = ["b", "d", "f", "h", "k", "x", "z"];
        let covered = |key: &str, newer: u64, snapshot: u64| {
            ts.iter().any(|t| {
                newer < t.seq && t.seq <= snapshot && t.overlaps(key.as_bytes(), key.as_bytes())
            })
        };
        let keys = ["a", "b", "c", "d", "e", "f", "g", "h", "j", "k", "m", "x", "y", "z"];
        for lo in keys {
            for hi in keys.iter().filter(|hi| **hi >= lo) {
                for (newer, snapshot) in [(0, 10), (4, 10), (6, 10), (0, 6), (2, 8), (8, 9)] {
                    let want = covered(lo, newer, snapshot)
                        && bounds
                            .iter()
                            .filter(|b| **b > lo && *b <= hi)
                            .all(|b| covered(b, newer, snapshot));
                    let (l, h) = (lo.as_bytes(), hi.as_bytes());
                    assert_eq!(
                        set.covers_span(l, h, newer, snapshot),
                        want,
                        "[{lo}, {hi}] newer than {newer} at {snapshot}"
                    );
                    // The growing list has everything in its tail: single tombstones only.
                    let single = ts.iter().any(|t| {
                        newer < t.seq && t.seq <= snapshot && &*t.start <= l && h < &*t.end
                    });
                    assert_eq!(grown.covers_span(l, h, newer, snapshot), single);
                }
            }
        }
    }

    #[test]
    fn a_growing_list_answers_like_the_tombstones_one_by_one() {
        let mut grown = GrowingRangeDels::default();
        let mut ts = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for seq in 1..=700u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let from = x % 500;
            let to = from + x % 40;
            let tomb = t(&format!("{from:03}"), &format!("{to:03}"), seq);
            grown.push(tomb.clone());
            ts.push(tomb);
            if seq % 50 == 0 {
                for probe in (0..540).step_by(7) {
                    let key = format!("{probe:03}");
                    for snapshot in [0, seq / 3, seq / 2, seq] {
                        assert_eq!(
                            grown.covering_seq(key.as_bytes(), snapshot),
                            covering_by_hand(&ts, key.as_bytes(), snapshot),
                            "{key} at {snapshot} after {seq}"
                        );
                    }
                }
            }
        }
        assert!(grown.built > 0 && grown.built < ts.len(), "both parts are used");
    }

    #[test]
    fn tombstones_round_trip_through_table_entries() {
        let tomb = t("from", "to", 42);
        let entry = RangeTombstone::from_entry(&tomb.internal_key(), b"to");
        assert_eq!(entry, Some(tomb));
        let put = key::internal_key(b"from", 42, ValueKind::Put);
        assert_eq!(RangeTombstone::from_entry(&put, b"to"), None);
    }
}
