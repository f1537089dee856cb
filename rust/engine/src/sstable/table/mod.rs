//! Writing and reading one SSTable file (the layout is described in [`crate::sstable`]).
//!
//! [`TableBuilder`] streams sorted entries into data blocks and finishes the file with its
//! filter, index and footer. [`Table`] opens a finished file, keeps its index and filter in
//! memory, and serves point reads ([`Table::get`]) and ordered scans ([`TableIter`]); data
//! blocks come through the shared [`BlockCache`](crate::cache::BlockCache) when one is given.
//!
//! A reader trusts nothing it reads: every length and offset is checked against the file size
//! before anything is allocated, every block is checksummed before it is decoded, and damage is
//! reported as [`Error::Corruption`](crate::error::Error::Corruption) naming the file, never as
//! a panic.
//!
//! One file per role: `format` (constants, options, header, footer and block handles: what
//! both sides agree on), `builder` (writing), `reader` (opening, point reads, verification,
//! identity checks), `iter` (the two-level cursor); `tests` round-trips all of them against a
//! model. Everything callers use is re-exported here, so they never name a submodule.

mod builder;
mod format;
mod iter;
mod reader;
#[cfg(test)]
mod tests;

pub use builder::TableBuilder;
pub use format::{decode_header, Compression, TableId, TableOptions, TableSummary, HEADER_LEN};
// Only this module's files use these today. They stay re-exported so `sstable::table::MAGIC`
// and the like keep their path for code outside the crate, which sees `sstable` only with the
// `testing` feature; without it nothing can name them and rustc would call them unused.
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub use format::{BLOCK_TRAILER_LEN, FOOTER_LEN, FORMAT_VERSION, MAGIC};
pub use iter::TableIter;
pub use reader::{check_file_identity, Table};
