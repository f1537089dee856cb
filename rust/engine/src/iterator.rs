//! Iterators over internal keys, and the merge that turns many sources into one view.
//!
//! Every source of sorted entries (the memtables, each SSTable) implements
//! [`InternalIterator`]: a cursor over internal keys (see [`crate::key`]) ordered by
//! [`compare_internal`](crate::key::compare_internal). Reads combine sources by merging.

use crate::error::Result;

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
