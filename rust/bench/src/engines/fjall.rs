//! fjall, one keyspace.
//!
//! Settings: 64 MiB block cache (`cache_size`), everything else default (64 MiB memtable,
//! LZ4). Buffered fills commit a `WriteBatch` with fjall's default durability
//! (`PersistMode::Buffer`: handed to the OS, no fsync), like strata's `no_sync`. fillsync
//! commits each one-key batch with `PersistMode::SyncData` (fdatasync, what strata's WAL sync
//! does). Close rotates the memtable and waits for its flush (`rotate_memtable_and_wait`, a
//! public but doc-hidden method) so a reopened database reads from its tables, as strata's
//! `flush_and_wait` does.

use std::path::Path;

use ::fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{Durability, Result, Store, CACHE_BYTES};
use crate::data::Data;
use crate::measurement::Measurement;
use crate::workloads::concurrent_writes;

pub struct FjallStore {
    db: Database,
    items: Keyspace,
    durability: Durability,
}

fn open(dir: &Path) -> Result<(Database, Keyspace)> {
    let db = Database::builder(dir)
        .cache_size(CACHE_BYTES as u64)
        .open()?;
    let items = db.keyspace("bench", KeyspaceCreateOptions::default)?;
    Ok((db, items))
}

impl FjallStore {
    pub fn open(dir: &Path, durability: Durability) -> Result<FjallStore> {
        let (db, items) = open(dir)?;
        Ok(FjallStore {
            db,
            items,
            durability,
        })
    }
}

impl Store for FjallStore {
    fn write(&mut self, data: &Data, indices: &[u64]) -> Result<()> {
        let mut batch = self.db.batch();
        if self.durability == Durability::Synced {
            batch = batch.durability(Some(PersistMode::SyncData));
        }
        for &i in indices {
            batch.insert(&self.items, data.key(i), data.value(i));
        }
        Ok(batch.commit()?)
    }

    fn put(&self, data: &Data, i: u64) -> Result<()> {
        let mut batch = self.db.batch();
        if self.durability == Durability::Synced {
            batch = batch.durability(Some(PersistMode::SyncData));
        }
        batch.insert(&self.items, data.key(i), data.value(i));
        Ok(batch.commit()?)
    }

    fn finish_writes(&mut self) -> Result<()> {
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.items.get(key)?.map(|v| v.len()))
    }

    fn scan(&self, start: &[u8], limit: usize) -> Result<(usize, u64)> {
        let (mut entries, mut bytes) = (0, 0u64);
        for guard in self.items.range(start..).take(limit) {
            let (k, v) = guard.into_inner()?;
            entries += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn describe(&self) -> String {
        format!(
            "{} tables ({} in L0), memtables {} B",
            self.items.table_count(),
            self.items.l0_table_count(),
            self.db.write_buffer_size()
        )
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.items.rotate_memtable_and_wait()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}

/// fillsync: every writer thread commits its own one-key batch with `SyncData`; fjall
/// serializes them on its journal lock.
pub fn fill_sync(dir: &Path, data: &Data, writers: usize, ops: u64) -> Result<Measurement> {
    let (db, items) = open(dir)?;
    concurrent_writes(data, writers, ops, |i| {
        let mut batch = db.batch().durability(Some(PersistMode::SyncData));
        batch.insert(&items, data.key(i), data.value(i));
        Ok(batch.commit()?)
    })
}
