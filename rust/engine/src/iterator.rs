//! Iterators over internal keys, and the merge that turns many sources into one view.
//!
//! Every source of sorted entries (the memtables, each SSTable) implements
//! [`InternalIterator`]: a cursor over internal keys (see [`crate::key`]) ordered by
//! [`compare_internal`](crate::key::compare_internal). Reads combine sources by merging.

use crate::error::Result;
use crate::key::ValueKind;
use crate::range_del::Deletions;

/// A positioned cursor over entries ordered by internal key.
///
/// A new iterator is not positioned (`valid()` is false) until one of the seek methods runs.
/// After an error the iterator becomes invalid and `status()` returns the error.
pub trait InternalIterator {
    /// True when positioned at an entry.
    fn valid(&self) -> bool;
    /// Positions at the first entry.
    fn seek_to_first(&mut self);
    /// Positions at the last entry.
    fn seek_to_last(&mut self);
    /// Positions at the first entry whose key is `>= target`.
    fn seek(&mut self, target: &[u8]);
    /// Positions at the last entry whose key is `<= target`.
    fn seek_for_prev(&mut self, target: &[u8]);
    /// Moves to the next entry. Requires `valid()`.
    fn next(&mut self);
    /// Moves to the previous entry. Requires `valid()`.
    fn prev(&mut self);
    /// The current internal key. Requires `valid()`.
    fn key(&self) -> &[u8];
    /// The current value (empty for a tombstone). Requires `valid()`.
    fn value(&self) -> &[u8];
    /// The first error met, if any.
    fn status(&self) -> Result<()>;
}

/// A cursor over entries held in a vector, sorted by internal key.
pub struct VecIter {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Position; `entries.len()` when not positioned.
    at: usize,
}

impl VecIter {
    /// An unpositioned cursor over `entries`, which must be sorted by internal key.
    pub fn new(entries: Vec<(Vec<u8>, Vec<u8>)>) -> VecIter {
        let at = entries.len();
        VecIter { entries, at }
    }

    fn position(&mut self, at: Option<usize>) {
        self.at = at.unwrap_or(self.entries.len());
    }
}

impl InternalIterator for VecIter {
    fn valid(&self) -> bool {
        self.at < self.entries.len()
    }
    fn seek_to_first(&mut self) {
        self.at = 0;
    }
    fn seek_to_last(&mut self) {
        self.position(self.entries.len().checked_sub(1));
    }
    fn seek(&mut self, target: &[u8]) {
        self.at = self
            .entries
            .partition_point(|(k, _)| crate::key::compare_internal(k, target).is_lt());
    }
    fn seek_for_prev(&mut self, target: &[u8]) {
        let after = self
            .entries
            .partition_point(|(k, _)| crate::key::compare_internal(k, target).is_le());
        self.position(after.checked_sub(1));
    }
    fn next(&mut self) {
        self.at += 1;
    }
    fn prev(&mut self) {
        self.position(self.at.checked_sub(1));
    }
    fn key(&self) -> &[u8] {
        &self.entries[self.at].0
    }
    fn value(&self) -> &[u8] {
        &self.entries[self.at].1
    }
    fn status(&self) -> Result<()> {
        Ok(())
    }
}

/// Merges children into one ordered stream, in one direction fixed at construction (reads
/// re-seek rather than turn around, which keeps the merge simple). Children are few (the
/// memtables, the L0 tables, one per deeper level), so the smallest is found by a linear scan,
/// and only when needed: the merge remembers the best of the other children (`runner_up`),
/// which does not move while the current child steps, so a step that leaves the current child
/// still first costs one comparison instead of one per child (a long scan's merge took 4% of
/// its time in the scan, a level switch every few entries).
pub struct MergingIter<'a> {
    children: Vec<Box<dyn InternalIterator + 'a>>,
    current: Option<usize>,
    /// The child that comes first among all but `current` (`None`: no other is valid).
    runner_up: Option<usize>,
    reverse: bool,
}

impl<'a> MergingIter<'a> {
    /// A merge over `children`, walking backwards when `reverse`.
    pub fn new(children: Vec<Box<dyn InternalIterator + 'a>>, reverse: bool) -> MergingIter<'a> {
        MergingIter {
            children,
            current: None,
            runner_up: None,
            reverse,
        }
    }

    /// Positions at the first entry `>= target` (forward) or the last `<= target` (reverse);
    /// `None` positions at the first (forward) or last (reverse) entry overall.
    pub fn seek(&mut self, target: Option<&[u8]>) {
        for child in &mut self.children {
            match (target, self.reverse) {
                (Some(t), false) => child.seek(t),
                (Some(t), true) => child.seek_for_prev(t),
                (None, false) => child.seek_to_first(),
                (None, true) => child.seek_to_last(),
            }
        }
        self.pick();
    }

    /// Moves one entry along the merge's direction.
    pub fn advance(&mut self) {
        if let Some(i) = self.current {
            if self.reverse {
                self.children[i].prev();
            } else {
                self.children[i].next();
            }
            // Only child `i` moved: it stays current while it still comes strictly before the
            // best of the others (on a tie the scan decides, by child order).
            let stays = self.children[i].valid()
                && self.runner_up.is_none_or(|r| self.comes_before(i, r));
            if !stays {
                self.pick();
            }
        }
    }

    /// Whether child `a`'s entry comes strictly before child `b`'s in the merge's direction.
    fn comes_before(&self, a: usize, b: usize) -> bool {
        let ord = crate::key::compare_internal(self.children[a].key(), self.children[b].key());
        if self.reverse {
            ord.is_gt()
        } else {
            ord.is_lt()
        }
    }

    /// Finds the first child (the earliest of equal ones) and the first of the others.
    fn pick(&mut self) {
        self.current = None;
        self.runner_up = None;
        for i in 0..self.children.len() {
            if !self.children[i].valid() {
                continue;
            }
            match self.current {
                None => self.current = Some(i),
                Some(c) if self.comes_before(i, c) => {
                    self.runner_up = Some(c);
                    self.current = Some(i);
                }
                Some(_) => {
                    if self.runner_up.is_none_or(|r| self.comes_before(i, r)) {
                        self.runner_up = Some(i);
                    }
                }
            }
        }
    }

    /// True when positioned at an entry.
    pub fn valid(&self) -> bool {
        self.current.is_some()
    }

    /// The current internal key. Requires `valid()`.
    pub fn key(&self) -> &[u8] {
        self.children[self.current.expect("valid merge")].key()
    }

    /// The current value. Requires `valid()`.
    pub fn value(&self) -> &[u8] {
        self.children[self.current.expect("valid merge")].value()
    }

    /// The first error any child met.
    pub fn status(&self) -> Result<()> {
        self.children.iter().try_for_each(|c| c.status())
    }
}

/// What a user sees: the live keys of a snapshot within `[lower, upper)`, each once, with its
/// newest visible value, tombstoned and range-deleted keys hidden.
pub struct DbIter<'a> {
    merged: MergingIter<'a>,
    seq: u64,
    dels: Deletions<'a>,
    lower: Option<Box<[u8]>>,
    upper: Option<Box<[u8]>>,
    started: bool,
    done: bool,
    key: Vec<u8>,
    /// The value of the entry returned last when reading down (reading up, it is read in place).
    value: Vec<u8>,
}

impl<'a> DbIter<'a> {
    /// Iterates `merged` as of the snapshot `dels` reads at, within `[lower, upper)` (`None` =
    /// unbounded), hiding what its range tombstones delete. The direction is the merge's.
    pub fn new(
        merged: MergingIter<'a>,
        dels: Deletions<'a>,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
    ) -> DbIter<'a> {
        let empty = matches!((lower, upper), (Some(l), Some(u)) if l >= u);
        DbIter {
            merged,
            seq: dels.snapshot,
            dels,
            lower: lower.map(Box::from),
            upper: upper.map(Box::from),
            started: false,
            done: empty,
            key: Vec::new(),
            value: Vec::new(),
        }
    }

    /// The next live entry, or `None` at the end or on error (check [`DbIter::status`]).
    pub fn next_entry(&mut self) -> Option<(&[u8], &[u8])> {
        if self.done {
            return None;
        }
        let found = if self.merged.reverse {
            self.next_backward()
        } else {
            self.next_forward()
        };
        if !found {
            self.done = true;
            return None;
        }
        if self.merged.reverse {
            Some((&self.key, &self.value))
        } else {
            // Reading up, the merge still stands on the entry (the next call skips past it):
            // its value is read where it lies, not copied.
            Some((&self.key, self.merged.value()))
        }
    }

    /// The first error met by any source.
    pub fn status(&self) -> Result<()> {
        self.merged.status()
    }

    fn next_forward(&mut self) -> bool {
        if !self.started {
            self.started = true;
            let target = self
                .lower
                .as_deref()
                .map(|l| crate::key::seek_key(l, self.seq));
            self.merged.seek(target.as_deref());
        } else {
            self.skip_user_key();
        }
        while self.merged.valid() {
            let Some(p) = crate::key::parse_internal(self.merged.key()) else {
                self.merged.advance();
                continue;
            };
            if self.upper.as_deref().is_some_and(|u| p.user_key >= u) {
                return false;
            }
            // Range tombstones are no version of their start key (`dels` applies them).
            if p.seq > self.seq || p.kind == ValueKind::RangeDelete {
                self.merged.advance();
                continue;
            }
            // The newest visible version of this user key decides it.
            self.key.clear();
            self.key.extend_from_slice(p.user_key);
            if p.kind == ValueKind::Put && !self.dels.deletes(p.user_key, p.seq) {
                return true;
            }
            self.skip_user_key();
        }
        false
    }

    /// Advances past every remaining version of the user key in `self.key`.
    fn skip_user_key(&mut self) {
        while self.merged.valid() && crate::key::user_key(self.merged.key()) == &self.key[..] {
            self.merged.advance();
        }
    }

    fn next_backward(&mut self) -> bool {
        if !self.started {
            self.started = true;
            let target = self.upper.as_deref().map(|u| {
                crate::key::internal_key(u, crate::key::MAX_SEQ, crate::key::ValueKind::Put)
            });
            self.merged.seek(target.as_deref());
        }
        // Backwards, a user key's versions come oldest first: the last visible one seen before
        // the key changes is the newest visible version.
        loop {
            if !self.merged.valid() {
                return false;
            }
            let ukey = crate::key::user_key(self.merged.key());
            if self.upper.as_deref().is_some_and(|u| ukey >= u) {
                self.merged.advance();
                continue;
            }
            if self.lower.as_deref().is_some_and(|l| ukey < l) {
                return false;
            }
            self.key.clear();
            self.key.extend_from_slice(ukey);
            let mut live = false;
            let mut newest = 0;
            while self.merged.valid() && crate::key::user_key(self.merged.key()) == &self.key[..] {
                if let Some(p) = crate::key::parse_internal(self.merged.key()) {
                    if p.seq <= self.seq && p.kind != ValueKind::RangeDelete {
                        live = p.kind == ValueKind::Put;
                        newest = p.seq;
                        if live {
                            self.value.clear();
                            self.value.extend_from_slice(self.merged.value());
                        }
                    }
                }
                self.merged.advance();
            }
            if live && !self.dels.deletes(&self.key, newest) {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{compare_internal, internal_key, ValueKind};

    /// An internal key and its value.
    type Entry = (Vec<u8>, Vec<u8>);

    /// Children with runs of neighbouring keys in one child, keys spread over several, and
    /// identical internal keys in different children (the earlier child must win the tie).
    fn children_entries() -> Vec<Vec<Entry>> {
        let mut children = vec![Vec::new(); 4];
        let mut x = 7u64;
        for user in 0..300u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = |seq| internal_key(format!("k{user:04}").as_bytes(), seq, ValueKind::Put);
            // Runs of about eight keys stay in one child.
            let child = ((x >> 33) as usize + user as usize / 8) % 4;
            children[child].push((key(5), vec![child as u8]));
            if x % 7 == 0 {
                let other = (child + 1 + (x >> 40) as usize % 3) % 4;
                children[other].push((key(5), vec![other as u8]));
            }
            if x % 5 == 0 {
                children[(child + 2) % 4].push((key(9), vec![(child as u8 + 2) % 4]));
            }
        }
        for c in &mut children {
            c.sort_by(|a, b| compare_internal(&a.0, &b.0));
        }
        children
    }

    /// What a merge must yield: every entry of every child, by key in the merge's direction,
    /// and by child position between equal keys.
    fn expected(children: &[Vec<Entry>], reverse: bool) -> Vec<Entry> {
        let mut all: Vec<(usize, &Entry)> = children
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.iter().map(move |e| (i, e)))
            .collect();
        all.sort_by(|(i, a), (j, b)| {
            let ord = compare_internal(&a.0, &b.0);
            let ord = if reverse { ord.reverse() } else { ord };
            ord.then(i.cmp(j))
        });
        all.into_iter().map(|(_, e)| e.clone()).collect()
    }

    fn merge(children: &[Vec<Entry>], reverse: bool) -> MergingIter<'static> {
        let boxed = children
            .iter()
            .map(|c| {
                Box::new(VecIter::new(c.clone())) as Box<dyn InternalIterator>
            })
            .collect();
        MergingIter::new(boxed, reverse)
    }

    fn drain(m: &mut MergingIter<'_>) -> Vec<Entry> {
        let mut out = Vec::new();
        while m.valid() {
            out.push((m.key().to_vec(), m.value().to_vec()));
            m.advance();
        }
        out
    }

    #[test]
    fn merge_matches_the_model_in_both_directions() {
        let children = children_entries();
        for reverse in [false, true] {
            let want = expected(&children, reverse);
            let mut m = merge(&children, reverse);
            m.seek(None);
            assert_eq!(drain(&mut m), want, "reverse {reverse}");
            m.status().unwrap();
            for user in (0..310u32).step_by(13) {
                let target = internal_key(format!("k{user:04}").as_bytes(), 7, ValueKind::Put);
                m.seek(Some(&target));
                let tail: Vec<_> = want
                    .iter()
                    .filter(|(k, _)| {
                        let ord = compare_internal(k, &target);
                        if reverse {
                            ord.is_le()
                        } else {
                            ord.is_ge()
                        }
                    })
                    .cloned()
                    .collect();
                assert_eq!(drain(&mut m), tail, "reverse {reverse}, from {user}");
            }
        }
    }
}
