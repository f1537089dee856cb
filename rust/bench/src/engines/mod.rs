//! The engines under test behind one small interface, so every workload drives them the same
//! way. Each engine module says how it maps the shared settings (durability, cache size) onto
//! that engine's options; `docs/benchmarks.md` repeats it.

use std::path::Path;

use crate::data::Data;

pub mod fjall;
pub mod redb;
pub mod strata;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Block/page cache given to every engine that exposes one.
pub const CACHE_BYTES: usize = 64 << 20;

/// How writes are acknowledged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Durability {
    /// Handed to the OS (or, for redb, kept in memory) without fsync.
    Buffered,
    /// fsynced before the write returns.
    Synced,
}

/// An open database in one engine. Reads and [`Store::put`] may come from several threads at
/// once (readrandom and the mix with more than one thread).
pub trait Store: Sync {
    /// Writes the entries with these key indices as one atomic batch.
    fn write(&mut self, data: &Data, indices: &[u64]) -> Result<()>;
    /// Writes the entry with key index `i` alone, with the durability the store was opened
    /// with; safe to call from several threads at once.
    fn put(&self, data: &Data, i: u64) -> Result<()>;
    /// Ends a run of writes: whatever the engine needs before they are all safely in its files
    /// (for redb, the durable commit after non-durable ones). Timed with the writes.
    fn finish_writes(&mut self) -> Result<()>;
    /// The length of the value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<usize>>;
    /// Reads up to `limit` entries from the first key `>= start`; returns (entries, bytes).
    fn scan(&self, start: &[u8], limit: usize) -> Result<(usize, u64)>;
    /// A one-line picture of the on-disk structure (tables per level), for the log.
    fn describe(&self) -> String {
        String::new()
    }
    /// Moves everything to the engine's on-disk structures (memtables flushed) and closes.
    fn close(self: Box<Self>) -> Result<()>;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Engine {
    Strata,
    Fjall,
    Redb,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::Strata, Engine::Fjall, Engine::Redb];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Strata => "strata",
            Engine::Fjall => "fjall",
            Engine::Redb => "redb",
        }
    }

    pub fn parse(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Opens (creating if needed) the engine's database in `dir`.
    pub fn open(self, dir: &Path, durability: Durability) -> Result<Box<dyn Store>> {
        Ok(match self {
            Engine::Strata => Box::new(strata::StrataStore::open(dir, durability)?),
            Engine::Fjall => Box::new(fjall::FjallStore::open(dir, durability)?),
            Engine::Redb => Box::new(redb::RedbStore::open(dir, durability)?),
        })
    }

    /// The fillsync workload: `ops` single-key writes with keys `0..ops`, each fsynced before it
    /// is acknowledged, spread over `writers` threads. Opens and closes the database itself;
    /// only the writes are timed.
    pub fn fill_sync(
        self,
        dir: &Path,
        data: &Data,
        writers: usize,
        ops: u64,
    ) -> Result<crate::measurement::Measurement> {
        match self {
            Engine::Strata => strata::fill_sync(dir, data, writers, ops),
            Engine::Fjall => fjall::fill_sync(dir, data, writers, ops),
            Engine::Redb => redb::fill_sync(dir, data, writers, ops),
        }
    }
}
