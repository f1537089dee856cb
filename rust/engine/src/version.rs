//! The shape of the tree at one moment: which tables are live at which level, and the frozen
//! memtables waiting to be flushed. Readers take a [`ReadView`] (cheap `Arc` clones) and read
//! through it without holding any lock, while flushes and compactions install new shapes.
//!
//! A table file is deleted only when no view refers to it any more: views hold `Arc<FileMeta>`,
//! and obsolete files are removed once their count drops to the tree's own reference.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::cache::TableCache;
use crate::error::Result;
use crate::iterator::InternalIterator;
use crate::key::{self, ValueKind};
use crate::manifest::{FileMeta, NUM_LEVELS};
use crate::memtable::Memtable;
use crate::range_del::{Deletions, RangeDelSet};
use crate::sstable::{Table, TableIter};

/// Live tables per level. L0 tables may overlap and are ordered newest first; tables of deeper
/// levels do not overlap and are ordered by key.
pub type Levels = Vec<Vec<Arc<FileMeta>>>;

/// A memtable that stopped taking writes and waits to be flushed.
pub struct Frozen {
    pub mem: Memtable,
    /// The WAL segment that holds its writes (and all older live segments).
    pub wal_number: u64,
}

/// What a reader needs besides the active memtable: frozen memtables (oldest first), the
/// live tables, and the range tombstones of both.
#[derive(Clone)]
pub struct ReadView {
    pub frozen: Vec<Arc<Frozen>>,
    pub levels: Arc<Levels>,
    pub range_dels: Arc<RangeDelSet>,
}

/// The user-key range a table covers.
fn user_range(f: &FileMeta) -> (&[u8], &[u8]) {
    (key::user_key(&f.smallest), key::user_key(&f.largest))
}

/// True if the table may hold `user_key`.
pub fn covers(f: &FileMeta, user_key: &[u8]) -> bool {
    let (lo, hi) = user_range(f);
    lo <= user_key && user_key <= hi
}

/// Index of the first table in a sorted, non-overlapping level whose largest user key is
/// `>= user_key`.
fn find_file(files: &[Arc<FileMeta>], user_key: &[u8]) -> usize {
    files.partition_point(|f| key::user_key(&f.largest) < user_key)
}

impl ReadView {
    /// The newest version of `user_key` at `seq` in frozen memtables and tables: its kind,
    /// sequence number and value, handed to `f` (borrowed from the memtable or block) and what
    /// `f` returns. Range tombstones are the caller's to apply.
    pub fn get_with<R>(
        &self,
        tables: &TableCache,
        user_key: &[u8],
        seq: u64,
        f: impl FnOnce(ValueKind, u64, &[u8]) -> R,
    ) -> Result<Option<R>> {
        for frozen in self.frozen.iter().rev() {
            if let Some((kind, version, value)) = frozen.mem.get(user_key, seq) {
                return Ok(Some(f(kind, version, value)));
            }
        }
        // At most one table answers; `f` moves into the one that does.
        let mut visit = Some(f);
        let mut probe = |meta: &FileMeta| -> Result<Option<R>> {
            let hit = tables
                .get(meta)?
                .get_with(user_key, seq, |kind, version, value| {
                    visit.take().map(|f| f(kind, version, value))
                })?;
            Ok(hit.flatten())
        };
        for f in &self.levels[0] {
            if f.smallest_seq <= seq && covers(f, user_key) {
                if let Some(hit) = probe(f)? {
                    return Ok(Some(hit));
                }
            }
        }
        for files in &self.levels[1..] {
            let i = find_file(files, user_key);
            if let Some(f) = files.get(i) {
                if f.smallest_seq <= seq && covers(f, user_key) {
                    if let Some(hit) = probe(f)? {
                        return Ok(Some(hit));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Cursors over every frozen memtable and table, for a merge that reads as `dels` say:
    /// tables they hide whole are left out, unread.
    pub fn children<'a>(
        &'a self,
        tables: &'a Arc<TableCache>,
        dels: Deletions<'a>,
    ) -> Result<Vec<Box<dyn InternalIterator + 'a>>> {
        // One cursor per frozen memtable, per L0 table and per non-empty deeper level, plus one
        // slot for the active memtable the caller puts in front.
        let deeper = self.levels[1..].iter().filter(|l| !l.is_empty()).count();
        let capacity = 1 + self.frozen.len() + self.levels[0].len() + deeper;
        let mut out: Vec<Box<dyn InternalIterator + 'a>> = Vec::with_capacity(capacity);
        for frozen in self.frozen.iter().rev() {
            out.push(Box::new(frozen.mem.iter()));
        }
        for f in &self.levels[0] {
            if !dels.hides_table(f) {
                out.push(Box::new(tables.get(f)?.iter()));
            }
        }
        for level in 1..self.levels.len() {
            if !self.levels[level].is_empty() {
                out.push(Box::new(LevelIter {
                    hidden: Some(dels),
                    ..LevelIter::for_level(Arc::clone(tables), Arc::clone(&self.levels), level)
                }));
            }
        }
        Ok(out)
    }
}

/// Total bytes of the tables in a level.
pub fn level_bytes(files: &[Arc<FileMeta>]) -> u64 {
    files.iter().map(|f| f.size).sum()
}

/// An empty tree.
pub fn empty_levels() -> Levels {
    vec![Vec::new(); NUM_LEVELS]
}

/// A cursor over one sorted, non-overlapping level that opens one table at a time.
pub struct LevelIter<'a> {
    tables: Arc<TableCache>,
    /// The tree the level belongs to, shared rather than copied: a read creates one cursor
    /// per level and should not clone the level's file list each time.
    levels: Arc<Levels>,
    level: usize,
    index: usize,
    current: Option<TableIter>,
    error: Option<crate::error::Error>,
    /// For a read: the range tombstones it applies, to step over tables they hide whole.
    hidden: Option<Deletions<'a>>,
}

impl<'a> LevelIter<'a> {
    /// A cursor over `files` (sorted by key, non-overlapping).
    pub fn new(tables: Arc<TableCache>, files: Vec<Arc<FileMeta>>) -> LevelIter<'a> {
        LevelIter::for_level(tables, Arc::new(vec![files]), 0)
    }

    /// A cursor over `levels[level]`, which must be sorted by key and non-overlapping (any
    /// level of a tree but L0).
    pub fn for_level(tables: Arc<TableCache>, levels: Arc<Levels>, level: usize) -> LevelIter<'a> {
        LevelIter {
            tables,
            levels,
            level,
            index: 0,
            current: None,
            error: None,
            hidden: None,
        }
    }

    fn files(&self) -> &[Arc<FileMeta>] {
        &self.levels[self.level]
    }

    /// True when table `index` exists and the read sees none of it.
    fn hidden(&self, index: usize) -> bool {
        let dels = self.hidden.as_ref();
        self.files()
            .get(index)
            .is_some_and(|f| dels.is_some_and(|d| d.hides_table(f)))
    }

    /// Opens table `index`, or the first one after it (`forward`) or before it the read does
    /// not skip.
    fn open_visible(&mut self, mut index: usize, forward: bool) -> bool {
        while self.hidden(index) {
            if forward {
                index += 1;
            } else if index == 0 {
                self.current = None;
                return false;
            } else {
                index -= 1;
            }
        }
        self.open(index)
    }

    fn open(&mut self, index: usize) -> bool {
        self.index = index;
        self.current = None;
        let Some(f) = self.levels[self.level].get(index) else {
            return false;
        };
        match self.tables.get(f) {
            Ok(table) => {
                self.current = Some(Table::iter(&table));
                true
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    /// Moves forward over exhausted tables until positioned or out of tables.
    fn skip_forward(&mut self) {
        while self
            .current
            .as_ref()
            .is_some_and(|c| !c.valid() && c.status().is_ok())
        {
            if !self.open_visible(self.index + 1, true) {
                return;
            }
            self.current.as_mut().unwrap().seek_to_first();
        }
    }

    /// Moves backward over exhausted tables until positioned or out of tables.
    fn skip_backward(&mut self) {
        while self
            .current
            .as_ref()
            .is_some_and(|c| !c.valid() && c.status().is_ok())
        {
            if self.index == 0 || !self.open_visible(self.index - 1, false) {
                self.current = None;
                return;
            }
            self.current.as_mut().unwrap().seek_to_last();
        }
    }
}

impl InternalIterator for LevelIter<'_> {
    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.valid())
    }

    fn seek_to_first(&mut self) {
        if self.open_visible(0, true) {
            self.current.as_mut().unwrap().seek_to_first();
            self.skip_forward();
        }
    }

    fn seek_to_last(&mut self) {
        let count = self.files().len();
        if count > 0 && self.open_visible(count - 1, false) {
            self.current.as_mut().unwrap().seek_to_last();
            self.skip_backward();
        }
    }

    fn seek(&mut self, target: &[u8]) {
        let i = self
            .files()
            .partition_point(|f| key::compare_internal(&f.largest, target) == Ordering::Less);
        if self.open_visible(i, true) {
            self.current.as_mut().unwrap().seek(target);
            self.skip_forward();
        }
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        // The last table whose smallest key is <= target.
        let i = self
            .files()
            .partition_point(|f| key::compare_internal(&f.smallest, target) != Ordering::Greater);
        if i == 0 {
            self.current = None;
            return;
        }
        if self.open_visible(i - 1, false) {
            self.current.as_mut().unwrap().seek_for_prev(target);
            self.skip_backward();
        }
    }

    fn next(&mut self) {
        if let Some(c) = self.current.as_mut() {
            c.next();
            self.skip_forward();
        }
    }

    fn prev(&mut self) {
        if let Some(c) = self.current.as_mut() {
            c.prev();
            self.skip_backward();
        }
    }

    fn key(&self) -> &[u8] {
        self.current.as_ref().expect("valid iterator").key()
    }

    fn value(&self) -> &[u8] {
        self.current.as_ref().expect("valid iterator").value()
    }

    fn status(&self) -> Result<()> {
        if let Some(e) = &self.error {
            return Err(e.clone_for_report());
        }
        self.current.as_ref().map_or(Ok(()), |c| c.status())
    }
}
