//! strata-engine: strata's storage engine. Pure Rust: no FFI, no global state beyond the
//! statistics counters in [`threads`].
//!
//! The public concepts are [`Db`] (a database directory), [`Batch`] (an atomic group of writes)
//! and [`Error`]. Below them:
//! - the write path: [`wal`] frames and replays the write-ahead log, [`memtable`] holds recent
//!   writes in order;
//! - the tree: [`tree`] owns the shared shape (frozen memtables, the [`version`] of live
//!   tables, snapshots) and runs the flush and [`compaction`] threads; [`manifest`] records it
//!   durably;
//! - tables: [`sstable`] reads and writes one file, [`cache`] bounds blocks and open files;
//! - reads: [`iterator`] merges every source into what a user sees, [`key`] orders versions;
//! - I/O: [`fs`] is the only door to the file system, [`sim_fs`] a simulated one for crash and
//!   fault tests; [`check`] verifies every checksum of a closed database, [`repair`] rebuilds
//!   the manifest of one that lost it.

pub mod batch;
pub mod cache;
pub mod check;
pub mod compaction;
pub mod db;
pub mod error;
pub mod failpoint;
pub mod file_name;
pub mod fs;
pub mod iterator;
pub mod key;
pub mod manifest;
pub mod memtable;
pub mod repair;
pub mod sim_fs;
pub mod sstable;
#[cfg(test)]
mod test_dir;
pub mod threads;
pub mod tree;
pub mod version;
pub mod wal;

pub use batch::{Batch, BatchOp, MAX_BATCH_LEN, MAX_KEY_LEN, MAX_VALUE_LEN};
pub use db::{Db, DbStats, Options};
pub use error::{Error, ErrorCode, Result};
