//! redb, one table of `&[u8] -> &[u8]` in one file.
//!
//! Settings: 64 MiB cache (`set_cache_size`; redb's default is 1 GiB), everything else
//! default. Buffered fills commit each batch as a write transaction with `Durability::None`
//! (kept in redb's memory, not even handed to the OS), then [`Store::finish_writes`] commits
//! one empty transaction with `Durability::Immediate`, which writes and fsyncs everything. That
//! final commit is inside the timed region: before it, none of the data is in the file. fillsync
//! commits one write transaction per key with `Durability::Immediate` (redb's default); redb
//! runs one write transaction at a time, so concurrent writers queue on `begin_write`.
//! Reads use one read transaction for the whole workload; in the mix too, so its reads see
//! the database as it was before the mix's writes (which rewrite the same values).

use std::path::{Path, PathBuf};

use ::redb::{Builder, Database, ReadOnlyTable, ReadableDatabase, TableDefinition};

use super::{Durability, Result, Store, CACHE_BYTES};
use crate::data::Data;
use crate::measurement::Measurement;
use crate::workloads::concurrent_writes;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

pub struct RedbStore {
    db: Database,
    durability: Durability,
    /// A read transaction's table, opened on first read and kept for the workload.
    reader: std::sync::OnceLock<ReadOnlyTable<&'static [u8], &'static [u8]>>,
}

fn file(dir: &Path) -> PathBuf {
    dir.join("bench.redb")
}

fn open(dir: &Path) -> Result<Database> {
    std::fs::create_dir_all(dir)?;
    let db = Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(file(dir))?;
    // Create the table, so reads of an empty database do not fail.
    let tx = db.begin_write()?;
    tx.open_table(TABLE)?;
    tx.commit()?;
    Ok(db)
}

fn durability(d: Durability) -> ::redb::Durability {
    match d {
        Durability::Buffered => ::redb::Durability::None,
        Durability::Synced => ::redb::Durability::Immediate,
    }
}

impl RedbStore {
    pub fn open(dir: &Path, d: Durability) -> Result<RedbStore> {
        Ok(RedbStore {
            db: open(dir)?,
            durability: d,
            reader: std::sync::OnceLock::new(),
        })
    }

    fn table(&self) -> Result<&ReadOnlyTable<&'static [u8], &'static [u8]>> {
        if let Some(t) = self.reader.get() {
            return Ok(t);
        }
        let table = self.db.begin_read()?.open_table(TABLE)?;
        Ok(self.reader.get_or_init(|| table))
    }
}

impl Store for RedbStore {
    fn write(&mut self, data: &Data, indices: &[u64]) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(durability(self.durability))?;
        {
            let mut table = tx.open_table(TABLE)?;
            for &i in indices {
                table.insert(&data.key(i)[..], data.value(i))?;
            }
        }
        Ok(tx.commit()?)
    }

    fn put(&self, data: &Data, i: u64) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(durability(self.durability))?;
        {
            let mut table = tx.open_table(TABLE)?;
            table.insert(&data.key(i)[..], data.value(i))?;
        }
        Ok(tx.commit()?)
    }

    fn finish_writes(&mut self) -> Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(::redb::Durability::Immediate)?;
        Ok(tx.commit()?)
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.table()?.get(key)?.map(|v| v.value().len()))
    }

    fn scan(&self, start: &[u8], limit: usize) -> Result<(usize, u64)> {
        let (mut entries, mut bytes) = (0, 0u64);
        for item in self.table()?.range(start..)?.take(limit) {
            let (k, v) = item?;
            entries += 1;
            bytes += (k.value().len() + v.value().len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn close(self: Box<Self>) -> Result<()> {
        let RedbStore { db, reader, .. } = *self;
        drop(reader);
        Ok(db.close()?)
    }
}

/// fillsync: every writer thread runs its own one-key write transaction with
/// `Durability::Immediate`.
pub fn fill_sync(dir: &Path, data: &Data, writers: usize, ops: u64) -> Result<Measurement> {
    let db = open(dir)?;
    concurrent_writes(data, writers, ops, |i| {
        let tx = db.begin_write()?;
        {
            let mut table = tx.open_table(TABLE)?;
            table.insert(&data.key(i)[..], data.value(i))?;
        }
        Ok(tx.commit()?)
    })
}
