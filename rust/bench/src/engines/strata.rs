//! strata through its native Rust API.
//!
//! Settings: `Options::default()` (64 MiB block cache, 64 MiB memtable budget, LZ4) with
//! `no_sync = true` for the buffered fills and `no_sync = false` for fillsync. Fills use the
//! blocking [`Db::write`]. Close flushes the memtable (`flush_and_wait`) so a reopened database
//! reads from its tables. `Db` is single-owner (`&mut self` to write), so the store keeps it in
//! an `RwLock`: concurrent reads share it, a concurrent `put` (the mix) takes it alone, and the
//! fills, which own the store, bypass the lock.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{mpsc, Mutex, RwLock};
use std::thread;
use std::time::Duration;

use strata_engine::{Batch, Db, Options, Stall};

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
/// satisfies `Sync`); several writers share a group committer, as strata's runtime does.
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
    let (requests, inbox) = mpsc::channel::<Request>();
    let committer = thread::spawn(move || commit_groups(db, inbox));
    let m = concurrent_writes(data, writers, ops, |i| {
        let mut batch = Batch::new();
        batch.put(&data.key(i), data.value(i))?;
        let (reply, answer) = mpsc::channel();
        requests
            .send(Request { batch, reply })
            .map_err(|_| "committer is gone")?;
        Ok(answer.recv()??)
    });
    drop(requests);
    let db = committer.join().map_err(|_| "committer panicked")?;
    let syncs = db.stats().wal_syncs.max(1);
    eprintln!(
        "  (strata: {ops} writes by {writers} writers in {syncs} WAL fsyncs, {:.1} per fsync)",
        ops as f64 / syncs as f64
    );
    db.close()?;
    m
}

/// Where the committer says a write is durable (or why it failed).
type Reply = mpsc::Sender<std::result::Result<(), String>>;

/// One write waiting for the committer.
struct Request {
    batch: Batch,
    reply: Reply,
}

/// The group committer: the only thread that touches `db` while writers are running.
///
/// Each round takes everything queued (blocking only for the first request), prepares each
/// batch (sequence numbers, encoded into the WAL group buffer), hands the group to the OS in one
/// write, fsyncs once, and then acknowledges every writer whose ticket is now visible. Writers
/// that arrive during the fsync form the next group. Returns the database when every writer
/// has hung up.
fn commit_groups(mut db: Db, inbox: mpsc::Receiver<Request>) -> Db {
    let mut waiting: VecDeque<(u64, Reply)> = VecDeque::new();
    while let Ok(first) = inbox.recv() {
        // Like the runtime: hold new writes while the tree says stop (rare at this size).
        while db.write_stall() == Stall::Stop {
            thread::sleep(Duration::from_millis(1));
        }
        for Request { batch, reply } in std::iter::once(first).chain(inbox.try_iter()) {
            match db.prepare(batch) {
                Ok(ticket) => waiting.push_back((ticket, reply)),
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
        let outcome = db.write_pending().and_then(|point| match point {
            Some(point) => {
                let result = point.sync();
                db.synced(&point, result)
            }
            None => Ok(()),
        });
        if let Err(e) = outcome {
            // The database is poisoned: nothing pending will ever become visible.
            for (_, reply) in waiting.drain(..) {
                let _ = reply.send(Err(e.to_string()));
            }
            continue;
        }
        let visible = db.visible_seq();
        while waiting
            .front()
            .is_some_and(|(ticket, _)| *ticket <= visible)
        {
            let (_, reply) = waiting.pop_front().expect("front exists");
            let _ = reply.send(Ok(()));
        }
    }
    db
}
