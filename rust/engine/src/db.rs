//! A database: one directory, one lock, one WAL, one memtable.
//!
//! [`Db`] is single-owner (`&mut self` for writes) and does no threading of its own. Writes move
//! through a pipeline the owner drives, so that many writers share one WAL write and one fsync
//! (group commit) without the engine blocking its owner during the fsync:
//!
//! 1. [`Db::prepare`] assigns sequence numbers and encodes the batch into the WAL group buffer;
//!    it returns a ticket, the batch's last sequence number.
//! 2. [`Db::write_pending`] hands the group to the OS in one write. With `no_sync` the batches
//!    are applied at once; otherwise it returns a [`SyncPoint`] any thread may fsync.
//! 3. [`Db::synced`] records a finished fsync and applies the batches it covered.
//!
//! A ticket is acknowledged once [`Db::visible_seq`] reaches it. [`Db::write`] runs all three
//! steps on the calling thread. A failed write or fsync poisons the database: it keeps serving
//! reads but refuses writes until reopened, and pending batches are never applied (they were
//! not made durable, so they must not become visible).
//!
//! This is the module the SSTable work extends: flushes and compaction hang off `Db`, reads
//! merge the memtable with tables, and the WAL gains rotation.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{Batch, BatchOp};
use crate::error::{Error, Result};
use crate::fs::{FileSystem, LockGuard, RealFs};
use crate::memtable::Memtable;
use crate::threads::enter_engine;
use crate::wal::{self, SyncPoint, WalWriter};

/// Name of the lock file inside the database directory.
pub const LOCK_FILE: &str = "LOCK";

/// How a database is opened.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Acknowledge writes once they are handed to the OS, without fsync. A process crash loses
    /// nothing; an OS crash or power loss may lose recent writes. Default: false (every
    /// acknowledged write is durable).
    pub no_sync: bool,
}

/// Counters describing one database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Last sequence number visible to reads.
    pub visible_seq: u64,
    /// Batches acknowledged since open.
    pub batches_written: u64,
    /// Bytes appended to the WAL since open.
    pub wal_bytes_written: u64,
    /// Write calls that handed WAL groups to the OS.
    pub wal_writes: u64,
    /// fsyncs completed on the WAL.
    pub wal_syncs: u64,
    /// Current WAL size in bytes.
    pub wal_size: u64,
    /// Approximate memtable heap bytes.
    pub memtable_bytes: u64,
    /// Versions (values and tombstones) in the memtable.
    pub memtable_versions: u64,
    /// Batches replayed from the WAL at open.
    pub recovered_batches: u64,
    /// Bytes of torn WAL tail discarded at open.
    pub recovered_torn_bytes: u64,
    /// Live snapshots (including those held by iterators).
    pub snapshots: u64,
}

struct Pending {
    last_seq: u64,
    wal_end: u64,
    batch: Batch,
}

/// An open database.
pub struct Db {
    dir: PathBuf,
    opts: Options,
    wal: WalWriter,
    mem: Memtable,
    /// Last sequence number assigned.
    last_seq: u64,
    /// Last sequence number applied to the memtable and visible to reads.
    visible_seq: u64,
    pending: VecDeque<Pending>,
    snapshots: BTreeMap<u64, usize>,
    poisoned: Option<String>,
    stats: DbStats,
    _lock: LockGuard,
}

impl Db {
    /// Opens (creating if needed) the database in `dir` on the real file system.
    pub fn open(dir: &Path, opts: Options) -> Result<Db> {
        Db::open_with_fs(dir, opts, Arc::new(RealFs))
    }

    /// Opens the database in `dir` through `fs`, replaying its WAL.
    pub fn open_with_fs(dir: &Path, opts: Options, fs: Arc<dyn FileSystem>) -> Result<Db> {
        enter_engine();
        fs.create_dir_all(dir)
            .map_err(|e| Error::io(format!("create directory {}", dir.display()), e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs.lock(&lock_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                Error::Locked(dir.to_owned())
            } else {
                Error::io(format!("lock {}", lock_path.display()), e)
            }
        })?;

        let mut segments: Vec<u64> = fs
            .list(dir)
            .map_err(|e| Error::io(format!("list {}", dir.display()), e))?
            .iter()
            .filter_map(|name| wal::parse_segment_name(name))
            .collect();
        segments.sort_unstable();

        let mut mem = Memtable::new();
        let mut last_seq = 0u64;
        let mut stats = DbStats::default();
        let mut reopen: Option<(PathBuf, u64)> = None;
        for (i, &number) in segments.iter().enumerate() {
            let path = dir.join(wal::segment_name(number));
            let data = fs
                .read_all(&path)
                .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
            let is_last = i + 1 == segments.len();
            let replay = wal::replay(&path, &data, is_last, |first_seq, payload| {
                if first_seq != last_seq + 1 {
                    return Err(Error::corruption(
                        &path,
                        0,
                        format!(
                            "record starts at sequence {first_seq}, expected {}",
                            last_seq + 1
                        ),
                    ));
                }
                let batch = Batch::from_bytes(payload.to_vec()).map_err(|e| {
                    Error::corruption(&path, 0, format!("record payload is not a batch: {e}"))
                })?;
                apply_batch(&mut mem, first_seq, &batch, u64::MAX);
                last_seq = first_seq + u64::from(batch.count()) - 1;
                stats.recovered_batches += 1;
                Ok(())
            })?;
            if replay.torn_bytes > 0 {
                tracing::warn!(
                    wal = %path.display(),
                    offset = replay.valid_len,
                    bytes = replay.torn_bytes,
                    "discarding torn WAL tail"
                );
            }
            stats.recovered_torn_bytes += replay.torn_bytes;
            if is_last {
                reopen = Some((path, replay.valid_len));
            }
        }

        let wal = match reopen {
            Some((path, valid_len)) if valid_len >= wal::FILE_HEADER_LEN => {
                WalWriter::reopen(fs.as_ref(), &path, valid_len)?
            }
            Some((path, _)) => WalWriter::create(fs.as_ref(), &path)?,
            None => WalWriter::create(fs.as_ref(), &dir.join(wal::segment_name(1)))?,
        };
        Ok(Db {
            dir: dir.to_owned(),
            opts,
            wal,
            mem,
            last_seq,
            visible_seq: last_seq,
            pending: VecDeque::new(),
            snapshots: BTreeMap::new(),
            poisoned: None,
            stats,
            _lock: lock,
        })
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Why the database refuses writes, if it does.
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }

    /// Makes the database refuse writes from now on, remembering the first reason. Pending
    /// (unacknowledged) batches are dropped.
    pub fn poison(&mut self, why: String) {
        enter_engine();
        self.pending.clear();
        self.last_seq = self.visible_seq;
        if self.poisoned.is_none() {
            tracing::error!(dir = %self.dir.display(), reason = %why, "database poisoned");
            self.poisoned = Some(why);
        }
    }

    fn check_writable(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Step 1: assigns sequence numbers to `batch` and encodes it into the WAL group buffer.
    /// Returns the ticket to wait for (see [`Db::visible_seq`]).
    pub fn prepare(&mut self, batch: Batch) -> Result<u64> {
        enter_engine();
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(self.last_seq);
        }
        let first_seq = self.last_seq + 1;
        let wal_end = self.wal.add_record(first_seq, batch.as_bytes());
        self.last_seq += u64::from(batch.count());
        self.pending.push_back(Pending {
            last_seq: self.last_seq,
            wal_end,
            batch,
        });
        Ok(self.last_seq)
    }

    /// Step 2: writes the group buffer. Returns the point to fsync, or `None` when nothing
    /// waits for one (with `no_sync`, written batches are applied here).
    pub fn write_pending(&mut self) -> Result<Option<SyncPoint>> {
        enter_engine();
        self.check_writable()?;
        if self.wal.has_buffered() {
            let before = self.wal.written();
            if let Err(e) = self.wal.write_buffered() {
                self.poison(format!("WAL write failed: {e}"));
                return Err(e);
            }
            self.stats.wal_writes += 1;
            self.stats.wal_bytes_written += self.wal.written() - before;
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        if self.opts.no_sync {
            self.apply_pending_upto(u64::MAX);
            return Ok(None);
        }
        Ok(Some(self.wal.sync_point()))
    }

    /// Step 3: records that `point` was synced and applies the batches it covered. A sync error
    /// poisons the database (an fsync is never retried: the kernel may have dropped the data).
    pub fn synced(&mut self, point: &SyncPoint, result: std::io::Result<()>) -> Result<()> {
        enter_engine();
        self.check_writable()?;
        if let Err(e) = result {
            let err = Error::io(format!("fsync {}", self.wal.path().display()), e);
            self.poison(format!("WAL fsync failed: {err}"));
            return Err(err);
        }
        self.stats.wal_syncs += 1;
        self.wal.mark_synced(point.offset);
        self.apply_pending_upto(point.offset);
        Ok(())
    }

    /// Runs the whole write pipeline on this thread: durable (unless `no_sync`) and visible on
    /// return.
    pub fn write(&mut self, batch: Batch) -> Result<()> {
        self.prepare(batch)?;
        if let Some(point) = self.write_pending()? {
            let result = point.sync();
            self.synced(&point, result)?;
        }
        Ok(())
    }

    fn apply_pending_upto(&mut self, wal_offset: u64) {
        let oldest = self.oldest_snapshot();
        while let Some(p) = self.pending.front() {
            if p.wal_end > wal_offset {
                break;
            }
            let p = self.pending.pop_front().expect("front exists");
            let first_seq = p.last_seq - u64::from(p.batch.count()) + 1;
            apply_batch(&mut self.mem, first_seq, &p.batch, oldest);
            self.visible_seq = p.last_seq;
            self.stats.batches_written += 1;
        }
    }

    /// Last sequence number visible to reads: every ticket up to it is acknowledged.
    pub fn visible_seq(&self) -> u64 {
        self.visible_seq
    }

    /// True while prepared batches wait to be written or synced.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The latest visible value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        self.get_at(key, self.visible_seq)
    }

    /// The value of `key` as of sequence `seq` (a snapshot).
    pub fn get_at(&self, key: &[u8], seq: u64) -> Result<Option<&[u8]>> {
        enter_engine();
        crate::batch::check_key(key)?;
        Ok(self.mem.get(key, seq).flatten())
    }

    /// Live entries visible at `seq` within `[lower, upper)` bounds, in key order (`.rev()` for
    /// descending). Hold a snapshot at `seq` while iterating across calls.
    pub fn range<'a>(
        &'a self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        seq: u64,
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], &'a [u8])> + 'a {
        enter_engine();
        self.mem.range(lower, upper, seq)
    }

    /// Pins the current visible state; reads at the returned sequence stay consistent until
    /// [`Db::release_snapshot`].
    pub fn acquire_snapshot(&mut self) -> u64 {
        enter_engine();
        *self.snapshots.entry(self.visible_seq).or_default() += 1;
        self.visible_seq
    }

    /// Releases a snapshot taken with [`Db::acquire_snapshot`].
    pub fn release_snapshot(&mut self, seq: u64) {
        enter_engine();
        if let Some(n) = self.snapshots.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                self.snapshots.remove(&seq);
            }
        }
    }

    fn oldest_snapshot(&self) -> u64 {
        self.snapshots.keys().next().copied().unwrap_or(u64::MAX)
    }

    /// Current counters.
    pub fn stats(&self) -> DbStats {
        enter_engine();
        DbStats {
            visible_seq: self.visible_seq,
            wal_size: self.wal.buffered_end(),
            memtable_bytes: self.mem.approx_bytes() as u64,
            memtable_versions: self.mem.versions() as u64,
            snapshots: self.snapshots.values().sum::<usize>() as u64,
            ..self.stats.clone()
        }
    }

    /// Writes and syncs everything pending (even with `no_sync`), applies it, and releases the
    /// directory lock. A poisoned database closes without writing.
    pub fn close(mut self) -> Result<()> {
        enter_engine();
        if self.poisoned.is_some() {
            return Ok(());
        }
        self.write_pending()?;
        if let Err(e) = self.wal.sync() {
            self.poison(format!("WAL fsync at close failed: {e}"));
            return Err(e);
        }
        self.apply_pending_upto(u64::MAX);
        Ok(())
    }
}

fn apply_batch(mem: &mut Memtable, first_seq: u64, batch: &Batch, oldest_snapshot: u64) {
    for (i, op) in batch.iter().enumerate() {
        let seq = first_seq + i as u64;
        match op {
            BatchOp::Put { key, value } => mem.insert(key, seq, Some(value), oldest_snapshot),
            BatchOp::Delete { key } => mem.insert(key, seq, None, oldest_snapshot),
        }
    }
}
