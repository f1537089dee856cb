//! strata-engine: strata's storage engine. Pure Rust: no FFI, no global state beyond the
//! statistics counters in [`threads`].
//!
//! The public concepts are [`Db`] (a database directory), [`Batch`] (an atomic group of writes),
//! [`Options`], [`Error`], the statistics ([`DbStats`]) and the [`threads`] strata owns; the
//! [`commit`] pipeline ([`Committer`]) for a database that several threads share; with
//! [`check`] and [`repair`] for closed databases. Everything below them is private to the crate
//! (the `testing` feature opens it to the crash, fault and model tests). Below them:
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

/// Declares modules that are the engine's own business: private, unless the `testing` feature
/// (which the crash, fault and model tests turn on) opens them to tests outside the crate.
macro_rules! internal {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$attr])*
            #[cfg(feature = "testing")]
            pub mod $name;
            $(#[$attr])*
            #[cfg(not(feature = "testing"))]
            #[allow(dead_code, unreachable_pub)]
            mod $name;
        )*
    };
}

pub mod batch;
pub mod check;
pub mod commit;
pub mod db;
pub mod error;
pub mod failpoint;
pub mod fs;
pub mod repair;
pub mod threads;

internal!(
    cache, compaction, file_name, iterator, key, manifest, memtable, range_del, sstable, tree,
    version, wal,
);

/// A simulated file system for crash and fault tests: only with the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub mod sim_fs;
#[cfg(test)]
mod test_dir;

pub use batch::{Batch, BatchOp, MAX_BATCH_LEN, MAX_KEY_LEN, MAX_VALUE_LEN};
pub use commit::{CommitSender, Committer, ReadSet, Replies, SharedDb};
pub use db::{Db, DbStats, Options};
pub use error::{Error, ErrorCode, Result};
pub use key::KeyBuf;
pub use manifest::NUM_LEVELS;
pub use sstable::Compression;
pub use tree::Stall;
pub use wal::SyncPoint;
