//! A database: one directory, one lock, a WAL, an active memtable, and the LSM [`Tree`] of
//! frozen memtables and tables behind it.
//!
//! [`Db`] is single-owner (`&mut self` for writes): the owner thread appends to the WAL and the
//! active memtable; the tree's background threads flush and compact. Writes move through a
//! pipeline the owner drives, so that many writers share one WAL write and one fsync (group
//! commit) without the owner blocking during the fsync:
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
//! When the active memtable (or its WAL segment) is full, the owner freezes it, starts a new
//! WAL segment, and the flush thread turns the frozen memtable into an L0 table; the WAL
//! segment is deleted once the manifest records that table.
//!
//! Opening never destroys what it cannot prove is its own. A directory is a strata database
//! when it holds a `MANIFEST`, which creation writes before any other file; an empty (or
//! missing) directory becomes a new database; anything else is refused without a byte
//! changed: files strata did not make as [`Error::InvalidArgument`], a strata database whose
//! manifest is gone as [`Error::Corruption`] (`strata repair` rebuilds it). Every table the
//! manifest lists is checked against its recorded identity before anything is read, and only
//! once recovery succeeded are leftovers removed: tables that carry this database's id in
//! their header but that the manifest no longer lists, WAL segments with strata's header
//! that the manifest says are flushed. The lock is held on the directory itself, and writes
//! stop (the database is poisoned) once the directory or the WAL is found deleted: checked
//! after every fsync, before every manifest write and rotation, and with `no_sync` every 64
//! write groups or 1 ms.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::batch::{Batch, BatchOp};
use crate::cache::{BlockCache, TableCache};
use crate::compaction;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fs::{FileSystem, LockGuard, RealFs};
use crate::iterator::{DbIter, MergingIter};
use crate::key::{self, ValueKind};
use crate::manifest::{self, parse_table_name, table_name, ManifestState};
use crate::memtable::Memtable;
use crate::range_del::Deletions;
use crate::sstable::table::{check_file_identity, decode_header, HEADER_LEN};
use crate::sstable::{Compression, TableOptions};
use crate::threads::{self, enter_engine};
use crate::tree::{Done, Stall, Tree, TreeOptions};
use crate::version::{Frozen, ReadView};
use crate::wal::{self, SyncPoint, WalWriter};

/// The lock file earlier strata versions kept; the lock is now on the directory itself. An
/// old one is left where it is, and is one of the few names (with the manifest's temporary
/// file and `lost+found`) a directory may hold and still count as empty when a database is
/// created in it.
pub const LEGACY_LOCK_FILE: &str = "LOCK";

/// With `no_sync` no fsync follows a write to check after, so the WAL's link count is checked
/// every this many write groups, or sooner once [`NO_SYNC_CHECK_INTERVAL`] has passed: an
/// `fstat` per group cost a single writer of one-key batches 10% (236k vs 261k puts/s).
const NO_SYNC_CHECK_GROUPS: u32 = 64;
const NO_SYNC_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);

/// How a database is opened. `Options::default()` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// Acknowledge writes once they are handed to the OS, without fsync. A process crash loses
    /// nothing; an OS crash or power loss may lose recent writes. Default: false.
    pub no_sync: bool,
    /// Memory for memtables: the active one fills to half of it, then is frozen and flushed
    /// while a new one fills the other half. Default 64 MiB.
    pub memtable_budget: usize,
    /// Memory for cached table blocks. Default 64 MiB.
    pub block_cache_bytes: usize,
    /// Table files kept open at once. 0 (the default) derives it from the process's limit
    /// on open files (`RLIMIT_NOFILE`): half of the soft limit, less a reserve of 32, between
    /// 16 and 512 (see [`default_max_open_files`]).
    pub max_open_files: usize,
    /// Block compression. Default LZ4.
    pub compression: Compression,
    /// L0 tables that start an L0 -> L1 compaction. Default 4.
    pub l0_compaction_trigger: usize,
    /// L0 tables at which writes slow down. Default 12.
    pub l0_slowdown_trigger: usize,
    /// L0 tables at which writes wait for compaction. Default 20.
    pub l0_stop_trigger: usize,
    /// Byte target of L1; each deeper level is `level_size_ratio` times larger. Default 64 MiB.
    pub l1_target_bytes: u64,
    /// Default 10.
    pub level_size_ratio: u64,
    /// Compaction output tables are cut near this size. Default 16 MiB.
    pub target_file_size: u64,
    /// Zeros the WAL keeps written ahead of its records, so most fsyncs overwrite space the
    /// file already has and commit no file-system metadata (see [`crate::wal`]). Ignored with
    /// `no_sync`; 0 turns it off. Default 1 MiB.
    pub wal_reserve_bytes: u64,
    /// Open an existing database to read only: nothing in its directory is created, changed
    /// or removed (its WAL is replayed into memory, a torn tail left as it is), no flush or
    /// compaction runs, and writes, flushes, compactions and checkpoints fail with
    /// [`Error::ReadOnly`]. Takes a shared lock, so any number of read-only opens, in any
    /// processes, may hold the database while no writer does. Default: false.
    pub read_only: bool,
    /// Map table files into memory and read uncompressed blocks in place: a point read or a
    /// scan then copies nothing and makes no system call once the pages are resident, and the
    /// kernel's page cache (reported as [`DbStats::mapped_resident_bytes`], not counted in
    /// `block_cache_bytes`) caches them. Compressed blocks still go through the block cache.
    /// A block's checksum is verified the first time it is read from a map. A table file
    /// truncated by another program while mapped makes the next read of its lost pages fault
    /// (SIGBUS: a crash report, never wrong data). Default: true; false reads every block with
    /// `pread` through the block cache.
    pub map_tables: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            no_sync: false,
            memtable_budget: 64 << 20,
            block_cache_bytes: 64 << 20,
            max_open_files: 0,
            compression: Compression::Lz4,
            l0_compaction_trigger: 4,
            l0_slowdown_trigger: 12,
            l0_stop_trigger: 20,
            l1_target_bytes: 64 << 20,
            level_size_ratio: 10,
            target_file_size: 16 << 20,
            wal_reserve_bytes: wal::RESERVE,
            read_only: false,
            map_tables: true,
        }
    }
}

impl Options {
    fn write_buffer(&self) -> usize {
        (self.memtable_budget / 2).max(64 << 10)
    }

    fn tree_options(&self) -> TreeOptions {
        TreeOptions {
            table: TableOptions {
                compression: self.compression,
                ..TableOptions::default()
            },
            compaction: compaction::Config {
                l0_trigger: self.l0_compaction_trigger.max(1),
                l1_target_bytes: self.l1_target_bytes.max(1),
                ratio: self.level_size_ratio.max(2),
                target_file_size: self.target_file_size.max(4096),
            },
            max_frozen: 1,
            l0_slowdown: self.l0_slowdown_trigger,
            l0_stop: self.l0_stop_trigger.max(self.l0_compaction_trigger + 1),
        }
    }
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
    /// Bytes of the active WAL segment.
    pub wal_size: u64,
    /// Approximate bytes of the active and frozen memtables.
    pub memtable_bytes: u64,
    /// Entries (all versions) in the active memtable (frozen ones not included).
    pub memtable_versions: u64,
    /// Frozen memtables waiting for flush.
    pub frozen_memtables: u64,
    /// Batches replayed from the WAL at open.
    pub recovered_batches: u64,
    /// Bytes of torn WAL tail discarded at open.
    pub recovered_torn_bytes: u64,
    /// Live snapshots (including those held by iterators).
    pub snapshots: u64,
    /// Tables and bytes per level.
    pub level_files: Vec<u64>,
    pub level_bytes: Vec<u64>,
    /// Memtable flushes and compactions since open.
    pub flushes: u64,
    pub compactions: u64,
    /// Bytes written to tables by flushes and compactions since open.
    pub flush_bytes: u64,
    pub compaction_bytes_written: u64,
    pub compaction_bytes_read: u64,
    /// Bytes over target summed over levels: compaction still owed.
    pub compaction_debt: u64,
    /// Block cache hits, misses and bytes in use.
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_bytes: u64,
    /// Bytes of table files mapped into memory, and how many of them are resident now
    /// (file-backed memory the kernel may reclaim, outside the block cache's budget).
    pub mapped_bytes: u64,
    pub mapped_resident_bytes: u64,
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
    fs: Arc<dyn FileSystem>,
    tree: Arc<Tree>,
    /// The segment writes append to; `None` only when opened read-only.
    wal: Option<WalWriter>,
    mem: Memtable,
    /// Last sequence number assigned.
    last_seq: u64,
    /// Last sequence number applied to the memtable and visible to reads.
    visible_seq: u64,
    pending: VecDeque<Pending>,
    poisoned: Option<String>,
    stats: DbStats,
    workers: Vec<JoinHandle<()>>,
    lock: LockGuard,
    /// Read-only: the valid length of the newest WAL segment replayed (what `wal_size` reports).
    replayed_wal_len: u64,
    /// `no_sync` write groups since the files were last found in place, and when that was.
    unchecked_groups: u32,
    /// A write that must be durable before it is acknowledged, or a sync barrier, asked for
    /// an fsync of the next group even with `no_sync` ([`Db::request_sync`]).
    sync_requested: bool,
    checked_at: std::time::Instant,
}

/// The table-cache bound when [`Options::max_open_files`] is 0: half of the soft
/// `RLIMIT_NOFILE` less a reserve of 32 for the WAL, the manifest, flush and compaction
/// outputs and the rest of the process, clamped to 16..=512. With the common limit of 1024
/// that is 480; under `ulimit -n 64`, 16.
pub fn default_max_open_files() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 {
        return 512;
    }
    let soft = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    (soft / 2).saturating_sub(32).clamp(16, 512)
}

/// Zeros the WAL keeps written ahead: only for a database that fsyncs its WAL.
fn wal_reserve(opts: &Options) -> u64 {
    if opts.no_sync {
        0
    } else {
        opts.wal_reserve_bytes
    }
}

fn io_err<'a>(what: &'a str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::io(format!("{what} {}", path.display()), e)
}

impl Db {
    /// Opens (creating if needed) the database in `dir` on the real file system.
    pub fn open(dir: &Path, opts: Options) -> Result<Db> {
        Db::open_with(dir, opts, Arc::new(RealFs), Box::new(|| {}))
    }

    /// Opens the database in `dir` through `fs`. `notify` runs on a background thread whenever
    /// a flush or compaction finishes (so an owner holding stalled writes can retry).
    pub fn open_with(
        dir: &Path,
        opts: Options,
        fs: Arc<dyn FileSystem>,
        notify: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Db> {
        enter_engine();
        let started = std::time::Instant::now();
        let read_only = opts.read_only;
        if !read_only {
            fs.create_dir_all(dir)
                .map_err(io_err("create directory", dir))?;
        }
        let lock = lock_dir(fs.as_ref(), dir, read_only)?;
        let names = fs.list(dir).map_err(io_err("list", dir))?;
        let mut recovered = match manifest::read(fs.as_ref(), dir)? {
            Some(state) => state,
            None if read_only => {
                return Err(refuse_read_only_without_manifest(fs.as_ref(), dir, &names))
            }
            None => create(fs.as_ref(), dir, &names)?,
        };
        check_live_tables(fs.as_ref(), dir, &recovered)?;

        let mut segments: Vec<u64> = names
            .iter()
            .filter_map(|n| wal::parse_segment_name(n))
            .collect();
        segments.sort_unstable();
        // Numbers stay unique even beside files that are left alone below.
        let max_number = names
            .iter()
            .filter_map(|n| wal::parse_segment_name(n).or_else(|| parse_table_name(n)))
            .max()
            .unwrap_or(0);
        recovered.next_file_number = recovered.next_file_number.max(max_number + 1);
        let live: Vec<u64> = segments
            .iter()
            .copied()
            .filter(|&n| n >= recovered.log_number)
            .collect();

        let mut mem = Memtable::new();
        let mut last_seq = recovered.last_seq;
        let mut stats = DbStats::default();
        let mut reopen: Option<(PathBuf, wal::Replay)> = None;
        for (i, &number) in live.iter().enumerate() {
            let path = dir.join(wal::segment_name(number));
            let data = fs.read_all(&path).map_err(io_err("read", &path))?;
            let is_last = i + 1 == live.len();
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
                apply_batch(&mut mem, first_seq, &batch);
                last_seq = first_seq + u64::from(batch.count()) - 1;
                stats.recovered_batches += 1;
                Ok(())
            })?;
            if replay.torn_bytes > 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    wal = %path.display(),
                    offset = replay.valid_len,
                    bytes = replay.torn_bytes,
                    "discarding torn WAL tail"
                );
            }
            stats.recovered_torn_bytes += replay.torn_bytes;
            if is_last {
                reopen = Some((path, replay));
            }
        }

        let replayed_wal_len = reopen.as_ref().map_or(0, |(_, replay)| replay.valid_len);
        // Recovery read everything it needs: only now may anything be cut, created or removed
        // (never when read-only: the replayed log stays in memory, a torn tail stays on disk).
        let wal = if read_only {
            None
        } else {
            let wal = match reopen {
                Some((path, replay)) if replay.valid_len >= wal::FILE_HEADER_LEN => {
                    WalWriter::reopen(fs.as_ref(), &path, &replay)?
                }
                Some((path, _)) => WalWriter::create(fs.as_ref(), &path)?,
                None => {
                    let number = recovered.next_file_number;
                    recovered.next_file_number += 1;
                    WalWriter::create(fs.as_ref(), &dir.join(wal::segment_name(number)))?
                }
            }
            .with_reserve(wal_reserve(&opts));
            // The first segment still needed: the oldest one replayed, or the new one.
            recovered.log_number = live.first().copied().unwrap_or(wal.number());
            remove_leftovers(fs.as_ref(), dir, &names, &recovered);
            Some(wal)
        };
        // The segment the tree would record as active (it never does when read-only).
        let active_wal = wal.as_ref().map_or(recovered.log_number, WalWriter::number);

        let max_open_files = match opts.max_open_files {
            0 => default_max_open_files(),
            n => n.max(16),
        };
        let block_cache = BlockCache::new(opts.block_cache_bytes);
        let tables = Arc::new(
            TableCache::new(
                Arc::clone(&fs),
                dir.to_owned(),
                recovered.db_id,
                Arc::clone(&block_cache),
                max_open_files,
            )
            .map_tables(opts.map_tables),
        );
        let tree = Arc::new(Tree::new(
            dir,
            Arc::clone(&fs),
            tables,
            opts.tree_options(),
            recovered,
            active_wal,
            Arc::clone(&lock),
            notify,
        ));
        let mut db = Db {
            dir: dir.to_owned(),
            opts,
            fs,
            tree,
            wal,
            mem,
            last_seq,
            visible_seq: last_seq,
            pending: VecDeque::new(),
            poisoned: None,
            stats,
            workers: Vec::new(),
            lock,
            replayed_wal_len,
            unchecked_groups: 0,
            sync_requested: false,
            checked_at: std::time::Instant::now(),
        };
        if !read_only && (db.needs_rotation() || live.len() > 1) {
            // Recovery replayed a frozen memtable's segment (a run closed before its flush
            // finished), or more than a memtable holds: flush it here, before open returns,
            // so the next open does not replay it all again (a frozen segment of overwrites
            // can be large while the memtable stays small), and no open leaves another empty
            // segment behind.
            db.rotate()?;
            db.tree.flush_frozen_now()?;
        }
        if !read_only {
            db.workers = spawn_workers(&db.tree)?;
        }
        tracing::info!(
            dir = %db.dir.display(),
            read_only,
            recovered_batches = db.stats.recovered_batches,
            torn_bytes = db.stats.recovered_torn_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "opened"
        );
        Ok(db)
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
    pub fn poisoned(&self) -> Option<String> {
        self.poisoned.clone().or_else(|| self.tree.error())
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

    /// Refuses `what` (a write, a flush, ...) on a database opened read-only.
    fn check_not_read_only(&self, what: &str) -> Result<()> {
        if self.opts.read_only {
            return Err(Error::ReadOnly(what.to_owned()));
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.check_not_read_only("a write")?;
        match self.poisoned() {
            Some(why) => Err(Error::Poisoned(why)),
            None => Ok(()),
        }
    }

    /// The WAL. Only code that [`Db::check_writable`] let through calls this: it refuses
    /// read-only databases, the only ones without a WAL.
    fn wal(&mut self) -> &mut WalWriter {
        self.wal.as_mut().expect("a writable database has a WAL")
    }

    /// Where the next WAL record would start (read-only: where the replayed log ends).
    fn wal_end(&self) -> u64 {
        self.wal
            .as_ref()
            .map_or(self.replayed_wal_len, WalWriter::buffered_end)
    }

    /// Poisons the database once its directory or its WAL segment was deleted (or the
    /// directory replaced) while open: a write acknowledged after that could never be read.
    /// `dir_too`: also check the directory (a `stat` of its path), not just the WAL's link
    /// count (an `fstat`).
    fn check_still_there(&mut self, dir_too: bool) -> Result<()> {
        let result = self.wal().check_linked().and_then(|()| {
            if dir_too {
                self.lock
                    .check()
                    .map_err(|e| Error::io(format!("check {}", self.dir.display()), e))
            } else {
                Ok(())
            }
        });
        if let Err(e) = &result {
            self.poison(format!("the database's files are gone: {e}"));
        }
        result
    }

    /// Whether a write may be prepared now. With [`Stall::Stop`], the owner should hold writes
    /// until background work reports progress (the `notify` callback); preparing anyway
    /// overshoots the memory budget.
    pub fn write_stall(&self) -> Stall {
        if self.opts.read_only {
            // Nothing would ever lift a stall (no flush or compaction runs); writes are
            // refused by prepare instead.
            return Stall::None;
        }
        self.tree.stall(self.needs_rotation())
    }

    /// The active memtable is full, or its WAL segment is (overwrites of a few keys keep the
    /// memtable small while the log grows). Capping the segment caps the WAL as a whole: one
    /// active and at most one frozen segment, so recovery replays at most `memtable_budget`
    /// bytes of log.
    fn needs_rotation(&self) -> bool {
        self.mem.approx_bytes() >= self.opts.write_buffer()
            || self.wal_end() >= self.opts.write_buffer() as u64
    }

    /// Step 1: assigns sequence numbers to `batch` and encodes it into the WAL group buffer.
    /// Returns the ticket to wait for (see [`Db::visible_seq`]).
    pub fn prepare(&mut self, batch: Batch) -> Result<u64> {
        enter_engine();
        self.check_writable()?;
        failpoint::hit("db.prepare");
        if batch.is_empty() {
            return Ok(self.last_seq);
        }
        if self.needs_rotation() {
            self.rotate()?;
        }
        let first_seq = self.last_seq + 1;
        let wal_end = self.wal().add_record(first_seq, batch.as_bytes());
        self.last_seq += u64::from(batch.count());
        self.pending.push_back(Pending {
            last_seq: self.last_seq,
            wal_end,
            batch,
        });
        Ok(self.last_seq)
    }

    /// Freezes the active memtable and starts a new WAL segment. Everything pending is made
    /// durable and applied first, so the frozen memtable holds exactly its segment's batches.
    fn rotate(&mut self) -> Result<()> {
        self.write_pending()?;
        self.check_still_there(true)?;
        // Also with no_sync: a segment that later segments follow must be intact after a
        // crash of the OS, or recovery would refuse it as damaged.
        if self.has_pending() || self.wal().synced() < self.wal().written() {
            if let Err(e) = self.wal().sync() {
                self.poison(format!("WAL fsync failed: {e}"));
                return Err(e);
            }
            self.stats.wal_syncs += 1;
            self.apply_pending_upto(u64::MAX);
        }
        // Before the next segment exists, so every segment but the newest ends in a record.
        if let Err(e) = self.wal().trim() {
            self.poison(format!("cutting the WAL reserve failed: {e}"));
            return Err(e);
        }
        let number = self.tree.next_file_number();
        let path = self.dir.join(wal::segment_name(number));
        let new_wal = match WalWriter::create(self.fs.as_ref(), &path) {
            Ok(w) => w.with_reserve(wal_reserve(&self.opts)),
            Err(e) => {
                self.poison(format!("starting WAL segment {number} failed: {e}"));
                return Err(e);
            }
        };
        let old_wal = self
            .wal
            .replace(new_wal)
            .expect("a writable database has a WAL");
        let mem = std::mem::take(&mut self.mem);
        self.tree.freeze(
            Frozen {
                mem,
                wal_number: old_wal.number(),
            },
            number,
        );
        Ok(())
    }

    /// Makes the next group durable before it is acknowledged, also with `no_sync`: call it
    /// after preparing a write that asked to be durable, or alone as a barrier that makes
    /// every write before it durable ([`Db::write_pending`] then returns a point to sync
    /// whenever the WAL holds bytes not yet synced).
    pub fn request_sync(&mut self) {
        self.sync_requested = true;
    }

    /// True while there is something for [`Db::write_pending`] to do: prepared batches, or a
    /// requested sync.
    pub fn needs_commit(&self) -> bool {
        self.has_pending() || self.sync_requested
    }

    /// Step 2: writes the group buffer. Returns the point to fsync, or `None` when nothing
    /// waits for one (with `no_sync` and no [`Db::request_sync`], written batches are applied
    /// here).
    pub fn write_pending(&mut self) -> Result<Option<SyncPoint>> {
        enter_engine();
        self.check_writable()?;
        if self.wal().has_buffered() {
            let before = self.wal().written();
            if let Err(e) = self.wal().write_buffered() {
                self.poison(format!("WAL write failed: {e}"));
                return Err(e);
            }
            self.stats.wal_writes += 1;
            self.stats.wal_bytes_written += self.wal().written() - before;
        }
        if std::mem::take(&mut self.sync_requested) {
            let unsynced = self.wal().synced() < self.wal().written();
            if unsynced || !self.pending.is_empty() {
                return Ok(Some(self.wal().sync_point()));
            }
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        if self.opts.no_sync {
            self.unchecked_groups += 1;
            if self.unchecked_groups >= NO_SYNC_CHECK_GROUPS
                || self.checked_at.elapsed() >= NO_SYNC_CHECK_INTERVAL
            {
                self.unchecked_groups = 0;
                self.checked_at = std::time::Instant::now();
                self.check_still_there(false)?;
            }
            self.apply_pending_upto(u64::MAX);
            return Ok(None);
        }
        Ok(Some(self.wal().sync_point()))
    }

    /// Step 3: records that `point` was synced and applies the batches it covered. A sync error
    /// poisons the database (an fsync is never retried: the kernel may have dropped the data).
    pub fn synced(&mut self, point: &SyncPoint, result: std::io::Result<()>) -> Result<()> {
        enter_engine();
        self.check_writable()?;
        if let Err(e) = result {
            let err = Error::io(format!("fsync WAL segment {}", point.segment), e);
            self.poison(format!("WAL fsync failed: {err}"));
            return Err(err);
        }
        self.stats.wal_syncs += 1;
        if point.segment == self.wal().number() {
            self.check_still_there(true)?;
            self.wal().mark_synced(point.offset);
            self.apply_pending_upto(point.offset);
        }
        // A point in an older segment: rotation synced and applied everything it covered.
        Ok(())
    }

    /// Runs the whole write pipeline on this thread: durable (unless `no_sync`) and visible on
    /// return. Waits while the tree stalls writes.
    pub fn write(&mut self, batch: Batch) -> Result<()> {
        self.write_with(batch, false)
    }

    /// [`Db::write`], durable on return also with `no_sync` when `sync` is set; an empty
    /// batch with `sync` makes every earlier write durable.
    pub fn write_with(&mut self, batch: Batch, sync: bool) -> Result<()> {
        self.check_writable()?;
        self.tree.wait_while_stalled(self.needs_rotation());
        self.prepare(batch)?;
        if sync {
            self.request_sync();
        }
        if let Some(point) = self.write_pending()? {
            let result = point.sync();
            self.synced(&point, result)?;
        }
        Ok(())
    }

    fn apply_pending_upto(&mut self, wal_offset: u64) {
        while let Some(p) = self.pending.front() {
            if p.wal_end > wal_offset {
                break;
            }
            let p = self.pending.pop_front().expect("front exists");
            let first_seq = p.last_seq - u64::from(p.batch.count()) + 1;
            apply_batch(&mut self.mem, first_seq, &p.batch);
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
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_at(key, self.visible_seq)
    }

    /// The value of `key` as of sequence `seq` (a snapshot).
    pub fn get_at(&self, key: &[u8], seq: u64) -> Result<Option<Vec<u8>>> {
        self.get_at_with(key, seq, <[u8]>::to_vec)
    }

    /// [`Db::get_at`] that hands the value (borrowed from a memtable or block) to `f` instead
    /// of copying it, and returns what `f` returns: a caller with its own buffer allocates
    /// nothing.
    pub fn get_at_with<R>(
        &self,
        key: &[u8],
        seq: u64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        enter_engine();
        crate::batch::check_key(key)?;
        failpoint::hit("db.get");
        let mem_dels = self.mem.range_dels();
        let found = match self.mem.get(key, seq) {
            // Every range tombstone outside the active memtable is older than its versions.
            Some((kind, version, value)) => Some(
                (kind == ValueKind::Put && mem_dels.covering_seq(key, seq) <= version)
                    .then(|| f(value)),
            ),
            None => {
                let view = self.tree.view();
                let dels = Deletions {
                    mem: mem_dels,
                    tree: &view.range_dels,
                    snapshot: seq,
                };
                view.get_with(&self.tree.tables, key, seq, |kind, version, value| {
                    (kind == ValueKind::Put && !dels.deletes(key, version)).then(|| f(value))
                })?
            }
        };
        Ok(found.flatten())
    }

    /// What reads need besides the active memtable; pass it to [`Db::iter`].
    pub fn read_view(&self) -> ReadView {
        self.tree.view()
    }

    /// Live entries visible at `seq` within `[lower, upper)` (`None` = unbounded), ascending
    /// or (with `reverse`) descending. Hold a snapshot at `seq` while iterating across calls.
    pub fn iter<'a>(
        &'a self,
        view: &'a ReadView,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
        seq: u64,
        reverse: bool,
    ) -> Result<DbIter<'a>> {
        enter_engine();
        let dels = Deletions {
            mem: self.mem.range_dels(),
            tree: &view.range_dels,
            snapshot: seq,
        };
        let mut children = view.children(&self.tree.tables, dels)?;
        self.tree.charge_l0_seek(view.levels[0].len());
        children.insert(0, Box::new(self.mem.iter()));
        Ok(DbIter::new(
            MergingIter::new(children, reverse),
            dels,
            lower,
            upper,
        ))
    }

    /// Bytes charged to seeks through L0 since it last changed, and the charge at which reads
    /// have paid for compacting it below its trigger (see the `tree` module): for tests.
    #[cfg(feature = "testing")]
    pub fn l0_seek_charges(&self) -> (u64, u64) {
        self.tree.l0_seek_charges()
    }

    /// Pins the current visible state; reads at the returned sequence stay consistent until
    /// [`Db::release_snapshot`].
    pub fn acquire_snapshot(&self) -> u64 {
        enter_engine();
        self.tree.acquire_snapshot(self.visible_seq);
        self.visible_seq
    }

    /// Takes one more reference on an existing snapshot at `seq` (an iterator over a snapshot).
    pub fn retain_snapshot(&self, seq: u64) {
        enter_engine();
        self.tree.acquire_snapshot(seq);
    }

    /// Releases a snapshot taken with [`Db::acquire_snapshot`] or [`Db::retain_snapshot`].
    pub fn release_snapshot(&self, seq: u64) {
        enter_engine();
        self.tree.release_snapshot(seq);
    }

    /// Freezes the active memtable (if it holds anything) and calls `done` once every frozen
    /// memtable is in a table.
    pub fn flush(&mut self, done: Done) {
        enter_engine();
        if let Err(e) = self
            .check_not_read_only("a flush")
            .and_then(|()| self.check_writable())
        {
            return done(Err(e));
        }
        if !self.mem.is_empty() {
            if let Err(e) = self.rotate() {
                return done(Err(e));
            }
        }
        self.tree.when_flushed(done);
    }

    /// Flushes, then compacts every level over the user-key range `[lo, hi]` (`None` =
    /// unbounded) down to the last non-empty level; calls `done` at the end.
    pub fn compact(&mut self, lo: Option<&[u8]>, hi: Option<&[u8]>, done: Done) {
        if let Err(e) = self.check_not_read_only("a compaction") {
            return done(Err(e));
        }
        let tree = Arc::clone(&self.tree);
        let lo = lo.map(<[u8]>::to_vec).unwrap_or_default();
        let hi = hi
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| vec![0xff; crate::batch::MAX_KEY_LEN + 1]);
        self.flush(Box::new(move |r| match r {
            Ok(()) => tree.compact_range(lo, hi, done),
            Err(e) => done(Err(e)),
        }));
    }

    /// [`Db::flush`], waiting on this thread for the result.
    pub fn flush_and_wait(&mut self) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.flush(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx.recv().unwrap_or(Err(Error::Closed))
    }

    /// [`Db::compact`], waiting on this thread for the result.
    pub fn compact_and_wait(&mut self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.compact(
            lo,
            hi,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv().unwrap_or(Err(Error::Closed))
    }

    /// Writes a consistent, openable copy of the database to `target` (which must not exist or
    /// be empty): the memtables are flushed first, then the tables are hard-linked (copied
    /// where links fail) and the manifest written last.
    ///
    /// The copy holds no WAL segment, on purpose: a directory of tables without a manifest is
    /// not a database (`check` and `open` refuse it and change nothing), so a checkpoint a
    /// crash cut short, whichever of its directory entries reached the disk, is never mistaken
    /// for one.
    pub fn checkpoint(&mut self, target: &Path) -> Result<()> {
        enter_engine();
        self.check_not_read_only("a checkpoint")?;
        if target.exists() && self.fs.list(target).map(|l| !l.is_empty()).unwrap_or(true) {
            return Err(Error::InvalidArgument(format!(
                "checkpoint target {} exists and is not empty",
                target.display()
            )));
        }
        self.check_writable()?;
        self.write_pending()?;
        if let Err(e) = self.wal().sync() {
            self.poison(format!("WAL fsync failed: {e}"));
            return Err(e);
        }
        self.apply_pending_upto(u64::MAX);
        self.flush_and_wait()?;
        let fs = Arc::clone(&self.fs);
        let dir = self.dir.clone();
        fs.create_dir_all(target)
            .map_err(io_err("create directory", target))?;
        self.tree.with_installs_paused(|state| -> Result<()> {
            for f in state.levels.iter().flatten() {
                let name = table_name(f.number);
                let (from, to) = (dir.join(&name), target.join(&name));
                if fs.hard_link(&from, &to).is_err() {
                    copy_file(fs.as_ref(), &from, &to)?;
                }
            }
            // Every WAL segment from state.log_number on is empty: the flush above moved its
            // records into tables, and no write can come in while the owner is here.
            manifest::write(fs.as_ref(), target, state)
        })
    }

    /// About how many bytes of table files hold the user keys in `[lo, hi)` (`None` =
    /// unbounded): every table inside the range in full, and of a table the range cuts, the
    /// data blocks between where `lo` and `hi` fall in its index. Counts tables only, not the
    /// memtable or the WAL (writes not yet flushed), and counts every version and tombstone a
    /// table holds, as the disk does.
    pub fn estimate_disk_usage(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Result<u64> {
        enter_engine();
        let view = self.tree.view();
        let mut total = 0;
        for f in view.levels.iter().flatten() {
            let (first, last) = (key::user_key(&f.smallest), key::user_key(&f.largest));
            let starts_inside = lo.is_none_or(|lo| lo <= first);
            let ends_inside = hi.is_none_or(|hi| last < hi);
            if lo.is_some_and(|lo| last < lo) || hi.is_some_and(|hi| hi <= first) {
                continue;
            }
            if starts_inside && ends_inside {
                total += f.size;
                continue;
            }
            let table = self.tree.tables.get(f)?;
            let from = match lo {
                Some(lo) if !starts_inside => table.approximate_offset(lo)?,
                _ => 0,
            };
            let to = match hi {
                Some(hi) if !ends_inside => table.approximate_offset(hi)?,
                _ => f.size,
            };
            total += to.saturating_sub(from);
        }
        Ok(total)
    }

    /// Current counters.
    pub fn stats(&self) -> DbStats {
        enter_engine();
        let (tree, levels, debt, _) = self.tree.stats();
        let view = self.tree.view();
        let frozen_bytes: usize = view.frozen.iter().map(|f| f.mem.approx_bytes()).sum();
        let (mapped_bytes, mapped_resident_bytes) = self.tree.tables.mapped();
        DbStats {
            visible_seq: self.visible_seq,
            wal_size: self.wal_end(),
            memtable_bytes: (self.mem.approx_bytes() + frozen_bytes) as u64,
            memtable_versions: self.mem.len() as u64,
            frozen_memtables: view.frozen.len() as u64,
            snapshots: self.tree.snapshot_count(),
            level_files: levels.iter().map(|l| l.0 as u64).collect(),
            level_bytes: levels.iter().map(|l| l.1).collect(),
            flushes: tree.flushes,
            compactions: tree.compactions,
            flush_bytes: tree.flush_bytes,
            compaction_bytes_written: tree.compaction_bytes_written,
            compaction_bytes_read: tree.compaction_bytes_read,
            compaction_debt: debt,
            cache_hits: self.tree.block_cache.hits(),
            cache_misses: self.tree.block_cache.misses(),
            cache_bytes: self.tree.block_cache.usage() as u64,
            mapped_bytes,
            mapped_resident_bytes,
            ..self.stats.clone()
        }
    }

    /// Writes and syncs everything pending (even with `no_sync`), applies it, stops the
    /// background threads, and releases the directory lock. Frozen memtables not yet flushed
    /// stay in their WAL segments and are replayed at the next open.
    pub fn close(mut self) -> Result<()> {
        enter_engine();
        let result = self.sync_for_close();
        self.stop_workers();
        tracing::info!(dir = %self.dir.display(), ok = result.is_ok(), "closed");
        result
    }

    fn sync_for_close(&mut self) -> Result<()> {
        // After a failure every later write was refused; what was acknowledged before it is
        // durable already. Closing releases resources and has nothing more to make durable.
        if self.poisoned().is_some() || self.opts.read_only {
            return Ok(());
        }
        self.write_pending()?;
        self.check_still_there(true)?;
        // The seal syncs what it follows first, then vouches for every byte before it: damage
        // found there later is corruption, not a torn tail, also with no_sync.
        if let Err(e) = self.wal().seal() {
            self.poison(format!("WAL fsync at close failed: {e}"));
            return Err(e);
        }
        self.apply_pending_upto(u64::MAX);
        if let Err(e) = self.wal().trim() {
            self.poison(format!("cutting the WAL reserve at close failed: {e}"));
            return Err(e);
        }
        Ok(())
    }

    fn stop_workers(&mut self) {
        self.tree.shutdown();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Dropped without close (a crash test, a panic): stop the threads, write nothing.
        self.stop_workers();
    }
}

fn spawn_workers(tree: &Arc<Tree>) -> Result<Vec<JoinHandle<()>>> {
    let spawn = |name: &str, f: fn(&Tree)| {
        let tree = Arc::clone(tree);
        threads::spawn(name, threads::Role::Background, move || f(&tree))
            .map_err(|e| Error::io(format!("spawn {name} thread"), e))
    };
    let flush = spawn("strata-flush", Tree::run_flushes)?;
    match spawn("strata-compact", Tree::run_compactions) {
        Ok(compact) => Ok(vec![flush, compact]),
        Err(e) => {
            tree.shutdown();
            let _ = flush.join();
            Err(e)
        }
    }
}

/// Locks the database directory itself: exclusively to write, `shared` to only read it.
pub fn lock_dir(fs: &dyn FileSystem, dir: &Path, shared: bool) -> Result<LockGuard> {
    fs.lock(dir, shared).map_err(|e| {
        if e.kind() == std::io::ErrorKind::WouldBlock {
            Error::Locked(dir.to_owned())
        } else {
            Error::io(format!("lock {}", dir.display()), e)
        }
    })
}

/// What mkfs leaves at the root of a new ext2/3/4 file system.
const LOST_AND_FOUND: &str = "lost+found";

/// Whether a directory entry may be there before a database's first manifest: what an
/// interrupted creation or an earlier strata's lock file leaves, or `lost+found`, mkfs's at
/// the root of a fresh file system (a database may live there).
fn may_precede_manifest(name: &str) -> bool {
    name == LEGACY_LOCK_FILE || name == manifest::TEMP_FILE || name == LOST_AND_FOUND
}

/// Creates a new database in `dir`, whose entries are `names`: writes its first manifest, the
/// file that makes the directory a database, before any other. Only a directory holding
/// nothing but what an interrupted creation (or an earlier strata's lock file) leaves is
/// taken; anything else is refused and left exactly as it is.
fn create(fs: &dyn FileSystem, dir: &Path, names: &[String]) -> Result<ManifestState> {
    if !names.iter().all(|n| may_precede_manifest(n)) {
        return Err(refuse_without_manifest(fs, dir, names));
    }
    manifest::remove_leftovers(fs, dir);
    let state = ManifestState {
        db_id: manifest::new_db_id(),
        ..ManifestState::default()
    };
    manifest::write(fs, dir, &state)?;
    tracing::info!(dir = %dir.display(), db_id = %format!("{:016x}", state.db_id), "created");
    Ok(state)
}

/// The error for a read-only open of a directory without a manifest, which a read-only open
/// cannot create: that of [`refuse_without_manifest`] when it holds files, else that it is
/// no database (yet).
fn refuse_read_only_without_manifest(fs: &dyn FileSystem, dir: &Path, names: &[String]) -> Error {
    if !names.iter().all(|n| may_precede_manifest(n)) {
        return refuse_without_manifest(fs, dir, names);
    }
    Error::InvalidArgument(format!(
        "{} holds no strata database (no {}), and a read-only open creates none",
        dir.display(),
        manifest::MANIFEST_FILE
    ))
}

/// The error for a directory that holds files but no manifest: corruption when they are a
/// strata database's own tables or WAL segments (its manifest was lost), a refusal when they
/// are not strata's at all.
pub(crate) fn refuse_without_manifest(fs: &dyn FileSystem, dir: &Path, names: &[String]) -> Error {
    let tables = names
        .iter()
        .filter(|n| parse_table_name(n).is_some())
        .filter(|n| decode_header(&read_prefix(fs, &dir.join(n), HEADER_LEN as usize)).is_some())
        .count();
    let segments = names
        .iter()
        .filter(|n| wal::parse_segment_name(n).is_some())
        .filter(|n| wal::is_segment_header(&read_prefix(fs, &dir.join(n), 16)))
        .count();
    if tables + segments > 0 {
        return Error::corruption(
            dir.join(manifest::MANIFEST_FILE),
            0,
            format!(
                "the MANIFEST is missing, but the directory holds {} and {}: a database that \
                 lost its manifest. Nothing was changed; `strata repair {}` rebuilds the \
                 manifest from the tables",
                count(tables, "strata table"),
                count(segments, "WAL segment"),
                dir.display()
            ),
        );
    }
    let mut shown: Vec<&str> = names.iter().map(String::as_str).take(5).collect();
    if names.len() > shown.len() {
        shown.push("...");
    }
    Error::InvalidArgument(format!(
        "{} is not a strata database: it has no {} and holds files strata did not create \
         ({}). Nothing was changed; open an empty directory to create a database",
        dir.display(),
        manifest::MANIFEST_FILE,
        shown.join(", ")
    ))
}

/// `n` and `noun`, plural unless `n` is 1.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Up to `len` bytes from the start of `path` (fewer if it is shorter; none if unreadable).
fn read_prefix(fs: &dyn FileSystem, path: &Path, len: usize) -> Vec<u8> {
    let Ok(file) = fs.open_read(path) else {
        return Vec::new();
    };
    let len = file.size().map_or(0, |size| size.min(len as u64) as usize);
    file.read_vec_at(0, len).unwrap_or_default()
}

/// Checks that every table the manifest lists is there and is the one it lists (its size,
/// number, database and footer checksum), before anything is read from or written beside it.
fn check_live_tables(fs: &dyn FileSystem, dir: &Path, state: &ManifestState) -> Result<()> {
    for f in state.levels.iter().flatten() {
        let path = dir.join(table_name(f.number));
        let file = fs.open_read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::corruption(&path, 0, "the MANIFEST lists this table, but it is missing")
            } else {
                Error::io(format!("open {}", path.display()), e)
            }
        })?;
        check_file_identity(
            file.as_ref(),
            &path,
            state.db_id,
            f.number,
            f.size,
            f.footer_crc,
        )?;
    }
    Ok(())
}

/// After a successful recovery, removes what the database provably made and no longer needs:
/// a manifest write a crash interrupted, WAL segments older than the manifest's log number
/// (flushed before a crash that came ahead of their deletion), and tables the manifest does
/// not list whose header says they are this database's (outputs of an interrupted flush or
/// compaction, inputs a crash kept from being deleted) or that are empty (created, then cut
/// off before their header). Anything else with a strata-like name is left alone, with a
/// warning.
fn remove_leftovers(fs: &dyn FileSystem, dir: &Path, names: &[String], state: &ManifestState) {
    manifest::remove_leftovers(fs, dir);
    let live: std::collections::HashSet<u64> =
        state.levels.iter().flatten().map(|f| f.number).collect();
    for name in names {
        let path = dir.join(name);
        let provably_ours = if let Some(n) = wal::parse_segment_name(name) {
            if n >= state.log_number {
                continue;
            }
            let head = read_prefix(fs, &path, wal::FILE_HEADER_LEN as usize);
            wal::is_segment_header(&head) || (head.len() as u64) < wal::FILE_HEADER_LEN
        } else if let Some(n) = parse_table_name(name) {
            if live.contains(&n) {
                continue;
            }
            let head = read_prefix(fs, &path, HEADER_LEN as usize);
            let id = decode_header(&head);
            head.is_empty() || id.is_some_and(|id| id.db_id == state.db_id && id.number == n)
        } else {
            continue;
        };
        if provably_ours {
            let _ = fs.remove(&path);
        } else {
            tracing::warn!(
                dir = %dir.display(),
                file = %name,
                "leaving a file this database did not make alone"
            );
        }
    }
}

fn copy_file(fs: &dyn FileSystem, from: &Path, to: &Path) -> Result<()> {
    let data = fs.read_all(from).map_err(io_err("read", from))?;
    let out = fs.create(to).map_err(io_err("create", to))?;
    out.append(&data).map_err(io_err("write", to))?;
    out.sync_data().map_err(io_err("fsync", to))
}

fn apply_batch(mem: &mut Memtable, first_seq: u64, batch: &Batch) {
    for (i, op) in batch.iter().enumerate() {
        let seq = first_seq + i as u64;
        match op {
            BatchOp::Put { key, value } => mem.insert(key, seq, Some(value)),
            BatchOp::Delete { key } => mem.insert(key, seq, None),
            BatchOp::DeleteRange { start, end } => mem.delete_range(start, end, seq),
        }
    }
}
