//! [`TableIter`]: an ordered cursor over every entry of one table, forward and backward. It reads
//! data blocks through the [`Table`] it holds and never decides which version of a key wins:
//! that is the merge's job.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::iterator::InternalIterator;
use crate::key::compare_internal;
use crate::sstable::block::BlockIter;

use super::reader::Table;

/// A two-level cursor over a table: the index iterator picks the data block, a block iterator
/// walks it. Holds the table (and through it the file) alive.
pub struct TableIter {
    table: Arc<Table>,
    index: BlockIter,
    data: Option<BlockIter>,
    /// Offset of the block `data` walks, so a seek within the same block reuses it.
    data_offset: u64,
    /// The first error met; the iterator stays invalid from then on.
    err: Option<Error>,
}

impl fmt::Debug for TableIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableIter")
            .field("table", &self.table.path())
            .field("valid", &self.valid())
            .finish()
    }
}

impl TableIter {
    /// An unpositioned iterator over `table`, with `index` a cursor over its index block.
    pub(super) fn new(table: Arc<Table>, index: BlockIter) -> TableIter {
        TableIter {
            table,
            index,
            data: None,
            data_offset: 0,
            err: None,
        }
    }

    fn set_err(&mut self, e: Error) {
        self.err.get_or_insert(e);
        self.data = None;
    }

    /// Points `data` at the block the index iterator is on. False when there is none (the
    /// index is exhausted, or an error was recorded).
    fn load_block(&mut self) -> bool {
        if !self.index.valid() {
            if let Err(e) = self.index.status() {
                self.set_err(e);
            }
            self.data = None;
            return false;
        }
        let handle = match self.table.block_handle(&self.index) {
            Ok(h) => h,
            Err(e) => {
                self.set_err(e);
                return false;
            }
        };
        if self.data.is_some() && self.data_offset == handle.offset {
            return true;
        }
        match self.table.data_block(handle, self.index.restart_index()) {
            Ok(block) => {
                // Reuse the cursor (and its key buffer) from the previous block.
                match &mut self.data {
                    Some(data) => data.reset(block),
                    None => self.data = Some(block.iter()),
                }
                self.data_offset = handle.offset;
                true
            }
            Err(e) => {
                self.set_err(e);
                false
            }
        }
    }

    /// True when the data iterator ran off its block without an error, so the next (or
    /// previous) block must be loaded. Records a block error instead.
    fn data_exhausted(&mut self) -> bool {
        let Some(data) = &self.data else {
            return false;
        };
        if data.valid() {
            return false;
        }
        match data.status() {
            Ok(()) => self.err.is_none(),
            Err(e) => {
                self.set_err(e);
                false
            }
        }
    }

    fn skip_empty_forward(&mut self) {
        while self.data_exhausted() {
            self.index.next();
            if !self.load_block() {
                return;
            }
            if let Some(data) = &mut self.data {
                data.seek_to_first();
            }
        }
    }

    fn skip_empty_backward(&mut self) {
        while self.data_exhausted() {
            self.index.prev();
            if !self.load_block() {
                return;
            }
            if let Some(data) = &mut self.data {
                data.seek_to_last();
            }
        }
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.err.is_none() && self.data.as_ref().is_some_and(|d| d.valid())
    }

    fn seek_to_first(&mut self) {
        if self.err.is_some() {
            return;
        }
        self.index.seek_to_first();
        if self.load_block() {
            if let Some(data) = &mut self.data {
                data.seek_to_first();
            }
        }
        self.skip_empty_forward();
    }

    fn seek_to_last(&mut self) {
        if self.err.is_some() {
            return;
        }
        self.index.seek_to_last();
        if self.load_block() {
            if let Some(data) = &mut self.data {
                data.seek_to_last();
            }
        }
        self.skip_empty_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        if self.err.is_some() {
            return;
        }
        self.index.seek(target);
        if self.load_block() {
            if let Some(data) = &mut self.data {
                data.seek(target);
            }
        }
        self.skip_empty_forward();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.seek(target);
        if self.err.is_some() {
            return;
        }
        if !self.valid() {
            self.seek_to_last();
        } else if compare_internal(self.key(), target) == Ordering::Greater {
            self.prev();
        }
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(data) = &mut self.data {
            data.next();
        }
        self.skip_empty_forward();
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(data) = &mut self.data {
            data.prev();
        }
        self.skip_empty_backward();
    }

    fn key(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.key())
    }

    fn value(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.value())
    }

    fn status(&self) -> Result<()> {
        if let Some(e) = &self.err {
            return Err(e.clone_for_report());
        }
        self.index.status()?;
        self.data.as_ref().map_or(Ok(()), |d| d.status())
    }
}
