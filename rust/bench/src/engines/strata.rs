//! strata through its native Rust API.
//!
//! Settings: `Options::default()` (64 MiB block cache, 64 MiB memtable budget, LZ4) with
//! `no_sync = true` for the buffered fills and `no_sync = false` for fillsync. Fills use the
//! blocking [`Db::write`]. Close flushes the memtable (`flush_and_wait`) so a reopened database
//! reads from its tables. `Db` is single-owner (`&mut self` to write), so the store keeps it in
//! an `RwLock`: concurrent reads share it, a concurrent `put` (the mix) takes it alone, and the
//! fills, which own the store, bypass the lock.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::Duration;

use strata_engine::commit::{self, Committer, Replies};
use strata_engine::{Batch, Db, Options};

use super::{Durability, Result, Store, CACHE_BYTES};
use crate::data::Data;
use crate::measurement::Measurement;
use crate::workloads::concurrent_writes;

pub struct StrataStore {
    db: RwLock<Db>,
}

fn options(durability: Durability) -> Options {
    Options {
        no_sync: durability == Durability::Buffered,
        block_cache_bytes: CACHE_BYTES,
        ..Options::default()
    }
}

impl StrataStore {
    pub fn open(dir: &Path, durability: Durability) -> Result<StrataStore> {
        Ok(StrataStore {
            db: RwLock::new(Db::open(dir, options(durability))?),
        })
    }
}

impl Store for StrataStore {
    fn write(&mut self, data: &Data, indices: &[u64]) -> Result<()> {
        let mut batch = Batch::new();
        for &i in indices {
            batch.put(&data.key(i), data.value(i))?;
        }
        Ok(self
            .db
            .get_mut()
            .map_err(|_| "poisoned lock")?
            .write(batch)?)
    }

    fn put(&self, data: &Data, i: u64) -> Result<()> {
        let mut batch = Batch::new();
        batch.put(&data.key(i), data.value(i))?;
        Ok(self.db.write().map_err(|_| "poisoned lock")?.write(batch)?)
    }

    fn finish_writes(&mut self) -> Result<()> {
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let db = self.db.read().map_err(|_| "poisoned lock")?;
        Ok(db.get(key)?.map(|v| v.len()))
    }

    fn scan(&self, start: &[u8], limit: usize) -> Result<(usize, u64)> {
        let db = self.db.read().map_err(|_| "poisoned lock")?;
        let view = db.read_view();
        let mut iter = db.iter(&view, Some(start), None, db.visible_seq(), false)?;
        let (mut entries, mut bytes) = (0, 0u64);
        while entries < limit {
            let Some((k, v)) = iter.next_entry() else {
                break;
            };
            entries += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        iter.status()?;
        Ok((entries, bytes))
    }

    fn describe(&self) -> String {
        let Ok(db) = self.db.read() else {
            return String::new();
        };
        let s = db.stats();
        format!(
            "tables per level {:?}, memtable {} entries, compaction debt {} B",
            s.level_files, s.memtable_versions, s.compaction_debt
        )
    }

    fn close(self: Box<Self>) -> Result<()> {
        let mut db = self.db.into_inner().map_err(|_| "poisoned lock")?;
        db.flush_and_wait()?;
        Ok(db.close()?)
    }
}

/// fillsync. One writer calls [`Db::write`] itself (the mutex is never contended; it only
/// satisfies `Sync`); several writers share the engine's committer, as the Go SDK's writes do.
pub fn fill_sync(dir: &Path, data: &Data, writers: usize, ops: u64) -> Result<Measurement> {
    let db = Db::open(dir, options(Durability::Synced))?;
    if writers <= 1 {
        let db = Mutex::new(db);
        let m = concurrent_writes(data, 1, ops, |i| {
            let mut batch = Batch::new();
            batch.put(&data.key(i), data.value(i))?;
            Ok(db.lock().unwrap().write(batch)?)
        });
        db.into_inner().unwrap().close()?;
        return m;
    }
    // The engine's committer, the path Go's writes take: each write's answer comes back on
    // the channel its writer registered under the write's index.
    let db = Arc::new(RwLock::new(db));
    let waiting: Waiting = Arc::default();
    let (sender, inbox) = commit::channel();
    let answers = Answers(Arc::clone(&waiting));
    let committer = Committer::start(inbox, Arc::clone(&db), answers, Duration::ZERO)?;
    let m = concurrent_writes(data, writers, ops, |i| {
        let mut batch = Batch::new();
        batch.put(&data.key(i), data.value(i))?;
        let (reply, answer) = mpsc::channel();
        waiting
            .lock()
            .map_err(|_| "poisoned lock")?
            .insert(i, reply);
        sender
            .write(batch, i, false)
            .map_err(|_| "committer is gone")?;
        Ok(answer.recv()??)
    });
    committer.finish();
    let db = Arc::into_inner(db)
        .ok_or("the committer still holds the database")?
        .into_inner()
        .map_err(|_| "poisoned lock")?;
    let syncs = db.stats().wal_syncs.max(1);
    eprintln!(
        "  (strata: {ops} writes by {writers} writers in {syncs} WAL fsyncs, {:.1} per fsync)",
        ops as f64 / syncs as f64
    );
    db.close()?;
    m
}

/// Writes sent to the committer and not yet answered: where each one's answer goes, by token.
type Waiting = Arc<Mutex<HashMap<u64, mpsc::Sender<std::result::Result<(), String>>>>>;

/// The committer's replies, sent to the writer that waits for each.
struct Answers(Waiting);

impl Replies for Answers {
    fn reply(&mut self, token: u64, result: std::result::Result<(), &strata_engine::Error>) {
        let reply = self.0.lock().ok().and_then(|mut w| w.remove(&token));
        if let Some(reply) = reply {
            let _ = reply.send(result.map_err(|e| e.to_string()));
        }
    }

    fn deliver(&mut self) {}
}
