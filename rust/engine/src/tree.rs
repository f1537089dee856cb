//! The LSM tree's shared state and the background threads that reshape it.
//!
//! [`Tree`] is shared (behind an `Arc`) by the database's owner thread and two background
//! threads it spawns: the flush thread writes frozen memtables to L0 tables, the compaction
//! thread merges tables down the levels. Both install their results the same way: under the
//! install lock they update the in-memory shape, write the manifest, and only then delete what
//! became obsolete (WAL segments now covered by tables; tables no reader uses any more).
//!
//! L0's tables each span what their memtable held, so every seek merges all of them, and a
//! random fill leaves up to `l0_trigger - 1` of them for good once writes stop. Reads pay for
//! that: each seek through L0 is charged [`L0_SEEK_CHARGE`] bytes per L0 table, and once the
//! charges reach what compacting L0 into L1 reads, the compaction thread does it, below the
//! trigger (LevelDB's seek-triggered compaction, at its price of a seek). Any change to L0
//! starts the charges over. The price favours reads: an extra L0 table costs a scan of 100
//! about 2.5 us here, and compacting 16 KiB about 90 us of CPU (117 MB of L0 in 0.63 s), so
//! by CPU alone the compaction pays off after about 35 times the charge; a database read
//! hard and written a little compacts each flush's table into L1 on its own (more L0 -> L1
//! rewriting), one written hard changes L0 before reads pay.
//!
//! A background failure (an I/O error writing a table or the manifest) is remembered; from then
//! on writes are refused with that reason, reads continue, and reopening recovers from the
//! WAL and the last good manifest.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::cache::{BlockCache, TableCache};
use crate::compaction::{self, Compaction, Config, MergeEnv};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::fs::{FileSystem, LockGuard};
use crate::manifest::{self, table_name, FileMeta, ManifestState, NUM_LEVELS};
use crate::range_del::RangeDelSet;
use crate::sstable::TableOptions;
use crate::version::{level_bytes, Frozen, Levels, ReadView};
use crate::wal;

/// How the tree is tuned (derived from the database options).
#[derive(Debug, Clone)]
pub struct TreeOptions {
    pub table: TableOptions,
    pub compaction: Config,
    /// Frozen memtables allowed to wait for flushing before writes stall.
    pub max_frozen: usize,
    /// L0 tables at which writes slow down.
    pub l0_slowdown: usize,
    /// L0 tables at which writes stop until compaction catches up.
    pub l0_stop: usize,
}

/// Whether writes may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    None,
    /// Compaction is falling behind: delay writes a little.
    Slow,
    /// Too much unflushed or uncompacted data: hold writes until background work finishes.
    Stop,
}

/// What one seek through one L0 table is charged, in bytes of compaction (see the module
/// docs): LevelDB's price of a seek. With L0 and L1 at 120 MB, about 7,500 seeks through one
/// L0 table, or 2,500 through three, pay for compacting L0.
pub const L0_SEEK_CHARGE: u64 = 16 << 10;

/// A callback run once a requested background operation finished.
pub type Done = Box<dyn FnOnce(Result<()>) + Send>;

/// Counters of background work.
#[derive(Debug, Clone, Default)]
pub struct TreeStats {
    pub flushes: u64,
    pub flush_bytes: u64,
    pub compactions: u64,
    pub compaction_bytes_read: u64,
    pub compaction_bytes_written: u64,
}

struct ManualCompaction {
    lo: Vec<u8>,
    hi: Vec<u8>,
    level: usize,
    done: Done,
}

struct State {
    frozen: Vec<Arc<Frozen>>,
    levels: Arc<Levels>,
    /// The range tombstones of `frozen` and `levels`, for readers.
    range_dels: Arc<RangeDelSet>,
    next_file_number: u64,
    last_seq: u64,
    log_number: u64,
    active_wal: u64,
    snapshots: BTreeMap<u64, usize>,
    busy: HashSet<u64>,
    pointers: Vec<Option<Vec<u8>>>,
    obsolete: Vec<Arc<FileMeta>>,
    error: Option<String>,
    flush_waiters: Vec<Done>,
    manual: Vec<ManualCompaction>,
    /// Reads through L0 paid for compacting it (`Tree::charge_l0_seek`).
    l0_paid: bool,
    stats: TreeStats,
    shutdown: bool,
}

/// Shared state of one database's tree.
pub struct Tree {
    pub dir: PathBuf,
    pub fs: Arc<dyn FileSystem>,
    pub tables: Arc<TableCache>,
    pub block_cache: Arc<BlockCache>,
    /// The database's identity, written into every table (see [`crate::manifest`]).
    pub db_id: u64,
    opts: TreeOptions,
    state: Mutex<State>,
    work: Condvar,
    install: Mutex<()>,
    cancel: AtomicBool,
    /// The directory lock: checked before each manifest write, so a directory deleted or
    /// replaced while open never receives a manifest (or the tables it would list).
    dir_lock: LockGuard,
    notify: Box<dyn Fn() + Send + Sync>,
    /// Bytes charged to seeks through L0 since it last changed, and what compacting it reads
    /// (`u64::MAX` while L0 is empty): see the module docs.
    l0_charged: AtomicU64,
    l0_price: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What compacting every L0 table into L1 reads; `u64::MAX` with L0 empty.
fn l0_price(levels: &Levels) -> u64 {
    compaction::pick_l0(levels, &HashSet::new()).map_or(u64::MAX, |c| c.input_bytes())
}

impl State {
    /// Rebuilds `range_dels` after `frozen` or `levels` changed (cheap without tombstones).
    fn refresh_range_dels(&mut self) {
        let frozen = self.frozen.iter().flat_map(|f| f.mem.range_tombstones());
        let tables = self.levels.iter().flatten().flat_map(|f| &f.range_dels);
        let mut all = frozen.chain(tables).peekable();
        if all.peek().is_none() && self.range_dels.is_empty() {
            return;
        }
        self.range_dels = Arc::new(RangeDelSet::new(all));
    }
}

impl Tree {
    /// A tree over the recovered manifest state, in the directory `dir_lock` holds. `notify`
    /// runs (on a background thread) whenever background work finished, so a stalled writer
    /// can retry.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dir: &Path,
        fs: Arc<dyn FileSystem>,
        tables: Arc<TableCache>,
        opts: TreeOptions,
        recovered: ManifestState,
        active_wal: u64,
        dir_lock: LockGuard,
        notify: Box<dyn Fn() + Send + Sync>,
    ) -> Tree {
        let range_dels = Arc::new(crate::compaction::level_range_dels(&recovered.levels));
        let l0_price = l0_price(&recovered.levels);
        Tree {
            dir: dir.to_owned(),
            fs,
            block_cache: Arc::clone(tables.block_cache()),
            tables,
            db_id: recovered.db_id,
            opts,
            state: Mutex::new(State {
                frozen: Vec::new(),
                levels: Arc::new(recovered.levels),
                range_dels,
                next_file_number: recovered.next_file_number,
                last_seq: recovered.last_seq,
                log_number: recovered.log_number,
                active_wal,
                snapshots: BTreeMap::new(),
                busy: HashSet::new(),
                pointers: vec![None; NUM_LEVELS],
                obsolete: Vec::new(),
                error: None,
                flush_waiters: Vec::new(),
                manual: Vec::new(),
                l0_paid: false,
                stats: TreeStats::default(),
                shutdown: false,
            }),
            work: Condvar::new(),
            install: Mutex::new(()),
            cancel: AtomicBool::new(false),
            dir_lock,
            notify,
            l0_charged: AtomicU64::new(0),
            l0_price: AtomicU64::new(l0_price),
        }
    }

    /// Charges a seek through `l0_tables` L0 tables (see the module docs); the seek that pays
    /// for compacting L0 wakes the compaction thread for it.
    pub fn charge_l0_seek(&self, l0_tables: usize) {
        if l0_tables == 0 {
            return;
        }
        let charge = l0_tables as u64 * L0_SEEK_CHARGE;
        let before = self.l0_charged.fetch_add(charge, Ordering::Relaxed);
        let price = self.l0_price.load(Ordering::Relaxed);
        if before < price && before + charge >= price {
            lock(&self.state).l0_paid = true;
            self.work.notify_all();
        }
    }

    /// Bytes charged to seeks through L0 since it last changed, and the charge at which it is
    /// compacted (`u64::MAX` while it is empty).
    pub fn l0_seek_charges(&self) -> (u64, u64) {
        (
            self.l0_charged.load(Ordering::Relaxed),
            self.l0_price.load(Ordering::Relaxed),
        )
    }

    /// After `s.levels` changed: what compacting L0 now reads, and, when L0 itself changed,
    /// charges start over.
    fn levels_changed(&self, s: &mut State, l0_changed: bool) {
        self.l0_price.store(l0_price(&s.levels), Ordering::Relaxed);
        if l0_changed {
            self.l0_charged.store(0, Ordering::Relaxed);
            s.l0_paid = false;
        }
    }

    /// Writes the manifest, unless the directory is no longer the one the database locked.
    fn write_manifest(&self, state: &ManifestState) -> Result<()> {
        self.check_dir()?;
        manifest::write(self.fs.as_ref(), &self.dir, state)
    }

    /// Fails once the database directory was deleted or replaced while open.
    pub fn check_dir(&self) -> Result<()> {
        self.dir_lock
            .check()
            .map_err(|e| Error::io(format!("check {}", self.dir.display()), e))
    }

    /// Flushes every frozen memtable on the calling thread, before the background threads run
    /// (at open, after recovery replayed more than a memtable holds).
    pub fn flush_frozen_now(&self) -> Result<()> {
        loop {
            let Some(frozen) = lock(&self.state).frozen.first().cloned() else {
                return Ok(());
            };
            self.flush(&frozen)?;
        }
    }

    /// Allocates a file number.
    pub fn next_file_number(&self) -> u64 {
        let mut s = lock(&self.state);
        s.next_file_number += 1;
        s.next_file_number - 1
    }

    /// What readers need besides the active memtable.
    pub fn view(&self) -> ReadView {
        let s = lock(&self.state);
        ReadView {
            frozen: s.frozen.clone(),
            levels: Arc::clone(&s.levels),
            range_dels: Arc::clone(&s.range_dels),
        }
    }

    /// Hands a full memtable to the flush thread; `active_wal` is the segment new writes go to.
    pub fn freeze(&self, frozen: Frozen, active_wal: u64) {
        let mut s = lock(&self.state);
        s.frozen.push(Arc::new(frozen));
        s.refresh_range_dels();
        s.active_wal = active_wal;
        self.work.notify_all();
    }

    /// Whether writes may proceed now. `rotation_needed`: the active memtable is full, so the
    /// next write freezes it.
    pub fn stall(&self, rotation_needed: bool) -> Stall {
        Self::stall_locked(&self.opts, &lock(&self.state), rotation_needed)
    }

    fn stall_locked(opts: &TreeOptions, s: &State, rotation_needed: bool) -> Stall {
        let l0 = s.levels[0].len();
        if s.error.is_some() || s.shutdown {
            Stall::None // writes fail with the error instead
        } else if (rotation_needed && s.frozen.len() >= opts.max_frozen) || l0 >= opts.l0_stop {
            Stall::Stop
        } else if l0 >= opts.l0_slowdown {
            Stall::Slow
        } else {
            Stall::None
        }
    }

    /// Blocks the calling thread while writes are stopped (for owners that may block).
    pub fn wait_while_stalled(&self, rotation_needed: bool) {
        let mut s = lock(&self.state);
        while Self::stall_locked(&self.opts, &s, rotation_needed) == Stall::Stop {
            s = self.work.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The background failure that makes the database refuse writes, if any.
    pub fn error(&self) -> Option<String> {
        lock(&self.state).error.clone()
    }

    /// Registers a snapshot at `seq`.
    pub fn acquire_snapshot(&self, seq: u64) {
        *lock(&self.state).snapshots.entry(seq).or_default() += 1;
    }

    /// Releases a snapshot and deletes tables it alone kept alive.
    pub fn release_snapshot(&self, seq: u64) {
        {
            let mut s = lock(&self.state);
            if let Some(n) = s.snapshots.get_mut(&seq) {
                *n -= 1;
                if *n == 0 {
                    s.snapshots.remove(&seq);
                }
            }
        }
        self.purge_obsolete();
    }

    /// The live snapshots, ascending.
    pub fn snapshots(&self) -> Vec<u64> {
        lock(&self.state).snapshots.keys().copied().collect()
    }

    /// Live snapshots.
    pub fn snapshot_count(&self) -> u64 {
        lock(&self.state)
            .snapshots
            .values()
            .map(|&n| n as u64)
            .sum()
    }

    /// Calls `done` once every memtable frozen so far is flushed.
    pub fn when_flushed(&self, done: Done) {
        let mut s = lock(&self.state);
        if let Some(e) = &s.error {
            let e = Error::Poisoned(e.clone());
            drop(s);
            done(Err(e));
        } else if s.frozen.is_empty() {
            drop(s);
            done(Ok(()));
        } else {
            s.flush_waiters.push(done);
        }
    }

    /// Queues a manual compaction of every level over the user-key range `[lo, hi]`.
    pub fn compact_range(&self, lo: Vec<u8>, hi: Vec<u8>, done: Done) {
        let mut s = lock(&self.state);
        if let Some(e) = &s.error {
            let e = Error::Poisoned(e.clone());
            drop(s);
            return done(Err(e));
        }
        s.manual.push(ManualCompaction {
            lo,
            hi,
            level: 0,
            done,
        });
        self.work.notify_all();
    }

    /// Counters, per-level file counts and bytes, and compaction debt.
    pub fn stats(&self) -> (TreeStats, Vec<(usize, u64)>, u64, usize) {
        let s = lock(&self.state);
        let levels = s.levels.iter().map(|l| (l.len(), level_bytes(l))).collect();
        let debt = compaction::debt(&self.opts.compaction, &s.levels);
        (s.stats.clone(), levels, debt, s.frozen.len())
    }

    /// The manifest state matching the in-memory shape.
    fn manifest_state(&self, s: &State) -> ManifestState {
        ManifestState {
            db_id: self.db_id,
            next_file_number: s.next_file_number,
            last_seq: s.last_seq,
            log_number: s.log_number,
            levels: (*s.levels).clone(),
        }
    }

    /// Stops the background threads at their next check; running merges abandon their output.
    pub fn shutdown(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        let mut s = lock(&self.state);
        s.shutdown = true;
        let waiters = std::mem::take(&mut s.flush_waiters);
        let manual = std::mem::take(&mut s.manual);
        self.work.notify_all();
        drop(s);
        for done in waiters {
            done(Err(Error::Closed));
        }
        for m in manual {
            (m.done)(Err(Error::Closed));
        }
    }

    fn fail(&self, what: &str, err: &Error) {
        let mut s = lock(&self.state);
        if s.error.is_none() {
            tracing::error!(dir = %self.dir.display(), error = %err, "{what} failed");
            s.error = Some(format!("{what} failed: {err}"));
        }
        // Nothing runs after a failure, so every waiter learns of it now.
        let waiters = std::mem::take(&mut s.flush_waiters);
        let manual = std::mem::take(&mut s.manual);
        let reason = s.error.clone().unwrap_or_default();
        drop(s);
        for done in waiters
            .into_iter()
            .chain(manual.into_iter().map(|m| m.done))
        {
            done(Err(Error::Poisoned(reason.clone())));
        }
        (self.notify)();
    }

    #[allow(clippy::too_many_arguments)]
    fn env<'a>(
        &'a self,
        levels: &'a Levels,
        inputs: &'a HashSet<u64>,
        range_dels: &'a RangeDelSet,
        snapshots: &'a [u64],
        next: &'a (dyn Fn() -> u64 + Sync),
    ) -> MergeEnv<'a> {
        MergeEnv {
            fs: self.fs.as_ref(),
            dir: &self.dir,
            tables: &self.tables,
            db_id: self.db_id,
            table_options: self.opts.table.clone(),
            target_file_size: self.opts.compaction.target_file_size,
            snapshots,
            levels,
            inputs,
            range_dels,
            next_number: next,
            cancel: &self.cancel,
        }
    }

    /// The flush thread: writes frozen memtables to L0, oldest first.
    pub fn run_flushes(&self) {
        loop {
            let frozen = {
                let mut s = lock(&self.state);
                loop {
                    if s.shutdown {
                        return;
                    }
                    if s.error.is_none() {
                        if let Some(f) = s.frozen.first() {
                            break Arc::clone(f);
                        }
                    }
                    s = self.work.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            };
            if let Err(e) = survive_panic("flush", || self.flush(&frozen)) {
                if !matches!(e, Error::Closed) {
                    self.fail("flush", &e);
                }
            }
        }
    }

    fn flush(&self, frozen: &Arc<Frozen>) -> Result<()> {
        failpoint::hit("flush");
        let started = std::time::Instant::now();
        let levels = self.view().levels;
        let next = || self.next_file_number();
        // A snapshot taken from now on reads at or above every version in the memtable, so the
        // live ones decide what the flush may leave out.
        let snapshots = self.snapshots();
        let inputs = HashSet::new();
        let range_dels = RangeDelSet::new(frozen.mem.range_tombstones());
        let env = MergeEnv {
            target_file_size: u64::MAX,
            ..self.env(
                &levels,
                &inputs,
                &range_dels,
                &snapshots,
                &next,
            )
        };
        let outputs = compaction::flush(&env, &frozen.mem)?;
        let (tables, bytes) = (outputs.len(), outputs.iter().map(|o| o.size).sum::<u64>());
        let _installing = lock(&self.install);
        let (state, log_number, waiters) = {
            let mut s = lock(&self.state);
            let mut new_levels = (*s.levels).clone();
            for out in &outputs {
                s.last_seq = s.last_seq.max(out.largest_seq);
                s.stats.flush_bytes += out.size;
            }
            for out in outputs.into_iter().rev() {
                new_levels[0].insert(0, Arc::new(out));
            }
            s.levels = Arc::new(new_levels);
            self.levels_changed(&mut s, true);
            s.frozen.retain(|f| !Arc::ptr_eq(f, frozen));
            s.refresh_range_dels();
            s.log_number = s.frozen.first().map_or(s.active_wal, |f| f.wal_number);
            s.stats.flushes += 1;
            let waiters = if s.frozen.is_empty() {
                std::mem::take(&mut s.flush_waiters)
            } else {
                Vec::new()
            };
            (self.manifest_state(&s), s.log_number, waiters)
        };
        self.write_manifest(&state)?;
        self.remove_wal_segments_before(log_number);
        drop(_installing);
        tracing::info!(
            dir = %self.dir.display(),
            tables,
            bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "flushed a memtable"
        );
        for done in waiters {
            done(Ok(()));
        }
        self.work.notify_all();
        (self.notify)();
        Ok(())
    }

    fn remove_wal_segments_before(&self, log_number: u64) {
        let Ok(names) = self.fs.list(&self.dir) else {
            return;
        };
        for n in names.iter().filter_map(|n| wal::parse_segment_name(n)) {
            if n < log_number {
                let _ = self.fs.remove(&self.dir.join(wal::segment_name(n)));
            }
        }
    }

    /// The compaction thread: runs manual requests first, then whatever is most urgent.
    pub fn run_compactions(&self) {
        loop {
            let (job, manual, levels, snapshots) = {
                let mut s = lock(&self.state);
                loop {
                    if s.shutdown {
                        return;
                    }
                    if s.error.is_none() {
                        if let Some(found) = self.next_job(&mut s) {
                            break found;
                        }
                    }
                    s = self.work.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            };
            let result = match job {
                Some(c) => survive_panic("compaction", || self.compact(&c, &levels, &snapshots)),
                None => Ok(()),
            };
            // The job and its view held the inputs; now they may go.
            drop(levels);
            self.purge_obsolete();
            if let Some(done) = manual {
                done(
                    result
                        .as_ref()
                        .map(|_| ())
                        .map_err(|e| e.clone_for_report()),
                );
            }
            if let Err(e) = result {
                if !matches!(e, Error::Closed) {
                    self.fail("compaction", &e);
                }
            }
        }
    }

    /// The next compaction to run (marked busy), with the manual request it finishes if any.
    #[allow(clippy::type_complexity)]
    fn next_job(
        &self,
        s: &mut State,
    ) -> Option<(Option<Compaction>, Option<Done>, Arc<Levels>, Vec<u64>)> {
        let snapshots: Vec<u64> = s.snapshots.keys().copied().collect();
        // A manual request walks down the levels, one compaction per step; it ends after
        // rewriting the bottom level that holds its range.
        if !s.manual.is_empty() {
            while s.manual[0].level < NUM_LEVELS {
                let m = &s.manual[0];
                match compaction::pick_range(&s.levels, m.level, &m.lo, &m.hi, &s.busy) {
                    Some(c) => {
                        if c.output_level == c.level {
                            s.manual[0].level = NUM_LEVELS; // the bottom: this step is the last
                        }
                        c.file_numbers().for_each(|n| {
                            s.busy.insert(n);
                        });
                        return Some((Some(c), None, Arc::clone(&s.levels), snapshots));
                    }
                    None if range_busy(s, m.level, &m.lo, &m.hi) => return None, // wait for it
                    None => s.manual[0].level += 1,
                }
            }
            let m = s.manual.remove(0);
            return Some((None, Some(m.done), Arc::clone(&s.levels), snapshots));
        }
        let c = match compaction::pick(&self.opts.compaction, &s.levels, &s.busy, &s.pointers) {
            Some(c) => c,
            // Reads through L0 paid for compacting it. While a table it needs is busy, it
            // stays due: the compaction holding it runs this again when it is done.
            None if s.l0_paid => {
                let c = compaction::pick_l0(&s.levels, &s.busy)?;
                s.l0_paid = false;
                tracing::info!(
                    dir = %self.dir.display(),
                    tables = c.inputs.len(),
                    bytes = c.input_bytes(),
                    "compacting L0 below its trigger: reads through it paid for it"
                );
                c
            }
            None => return None,
        };
        c.file_numbers().for_each(|n| {
            s.busy.insert(n);
        });
        Some((Some(c), None, Arc::clone(&s.levels), snapshots))
    }

    fn compact(&self, c: &Compaction, levels: &Arc<Levels>, snapshots: &[u64]) -> Result<()> {
        failpoint::hit("compaction");
        let started = std::time::Instant::now();
        let next = || self.next_file_number();
        let result = if c.is_trivial_move() {
            // Same tables, one level down: no bytes to rewrite.
            Ok(c.inputs.iter().map(|f| FileMeta::clone(f)).collect())
        } else {
            let inputs: HashSet<u64> = c.file_numbers().collect();
            let range_dels = compaction::level_range_dels(levels);
            compaction::run(
                &self.env(levels, &inputs, &range_dels, snapshots, &next),
                c,
            )
        };
        let outputs = match result {
            Ok(o) => o,
            Err(e) => {
                let mut s = lock(&self.state);
                c.file_numbers().for_each(|n| {
                    s.busy.remove(&n);
                });
                return Err(e);
            }
        };
        let written: u64 = outputs.iter().map(|o| o.size).sum();
        let _installing = lock(&self.install);
        let state = {
            let mut s = lock(&self.state);
            let gone: HashSet<u64> = c.file_numbers().collect();
            let mut new_levels = (*s.levels).clone();
            new_levels[c.level].retain(|f| !gone.contains(&f.number));
            let out_level = c.output_level();
            new_levels[out_level].retain(|f| !gone.contains(&f.number));
            let trivial = c.is_trivial_move();
            if !trivial {
                s.stats.compactions += 1;
                s.stats.compaction_bytes_read += c.input_bytes();
            }
            for out in outputs {
                if !trivial {
                    s.stats.compaction_bytes_written += out.size;
                }
                new_levels[out_level].push(Arc::new(out));
            }
            new_levels[out_level]
                .sort_by(|a, b| crate::key::compare_internal(&a.smallest, &b.smallest));
            s.levels = Arc::new(new_levels);
            self.levels_changed(&mut s, c.level == 0);
            s.refresh_range_dels();
            for n in &gone {
                s.busy.remove(n);
            }
            s.pointers[c.level] = c
                .inputs
                .iter()
                .map(|f| crate::key::user_key(&f.largest).to_vec())
                .max();
            self.manifest_state(&s)
        };
        self.write_manifest(&state)?;
        // Only now, with the manifest that drops them durable, may the inputs be deleted: a
        // crash before this point recovers the old manifest, which still needs them.
        if !c.is_trivial_move() {
            lock(&self.state)
                .obsolete
                .extend(c.inputs.iter().chain(&c.next).cloned());
        }
        drop(_installing);
        tracing::info!(
            dir = %self.dir.display(),
            level = c.level as u64,
            output_level = c.output_level() as u64,
            input_tables = (c.inputs.len() + c.next.len()) as u64,
            bytes_read = c.input_bytes(),
            bytes_written = written,
            trivial_move = c.is_trivial_move(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compacted"
        );
        self.work.notify_all();
        (self.notify)();
        Ok(())
    }

    /// Deletes obsolete tables no reader holds any more.
    pub fn purge_obsolete(&self) {
        let doomed: Vec<u64> = {
            let mut s = lock(&self.state);
            let mut doomed = Vec::new();
            s.obsolete.retain(|f| {
                // The obsolete list holds the last reference: no view uses the table.
                let unused = Arc::strong_count(f) == 1;
                if unused {
                    doomed.push(f.number);
                }
                !unused
            });
            doomed
        };
        for number in doomed {
            self.tables.evict(number);
            let _ = self.fs.remove(&self.dir.join(table_name(number)));
        }
    }

    /// Holds off installs (and so WAL and table deletions) while `f` runs: for checkpoints.
    pub fn with_installs_paused<T>(&self, f: impl FnOnce(&ManifestState) -> T) -> T {
        let _installing = lock(&self.install);
        let state = self.manifest_state(&lock(&self.state));
        f(&state)
    }
}

/// True when a table of `level` or the level below overlapping `[lo, hi]` is being compacted.
fn range_busy(s: &State, level: usize, lo: &[u8], hi: &[u8]) -> bool {
    let below = s.levels.get(level + 1).map_or(&[][..], |l| &l[..]);
    s.levels[level].iter().chain(below).any(|f| {
        s.busy.contains(&f.number)
            && crate::key::user_key(&f.smallest) <= hi
            && crate::key::user_key(&f.largest) >= lo
    })
}

/// Runs one background job, turning a panic into an error so the thread survives and the
/// database refuses writes with the panic's message instead of losing its flush or compaction
/// thread silently. Shared state stays readable: every lock here ignores poisoning, and
/// nothing is installed until a job finishes.
fn survive_panic(what: &str, job: impl FnOnce() -> Result<()>) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or_else(|payload| {
        let message = crate::error::panic_message(&*payload);
        Err(Error::Internal(format!("panic in {what}: {message}")))
    })
}
