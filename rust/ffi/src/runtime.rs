//! The runtime thread: the one thread that owns every open database and iterator.
//!
//! Exports send [`Request`]s over a crossbeam channel; the runtime thread handles them in
//! arrival order, in groups: it drains whatever is queued, hands every database's WAL group to
//! the OS in one write, asks the syncer thread for one fsync per database, and publishes the
//! group's completions with at most one eventfd signal. The syncer reports back with
//! [`Request::Synced`]; the writes it covered become visible and complete. Reads never wait
//! for an fsync.
//!
//! Every request is handled inside `catch_unwind`. A panic fails that request with
//! `STRATA_ERR_INTERNAL`, poisons the database it concerned (reads keep working, writes are
//! refused with the panic's message), and the thread carries on serving every other database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use once_cell::sync::OnceCell;
use strata_engine::wal::SyncPoint;
use strata_engine::{threads, Batch, Db, Error, ErrorCode, Options};

use crate::abi::{strata_stats, STRATA_ERR_CLOSED, STRATA_ERR_NOT_FOUND, STRATA_ITER_DONE};
use crate::completion::{Completion, CompletionQueue};
use crate::export::panic_message;
use crate::iterator::IterState;

/// How long the runtime thread polls an empty channel before it parks. Short: the machine may
/// have two cores, and the caller's goroutines need one.
const SPIN: Duration = Duration::from_micros(20);
/// Most requests handled before the group's writes are flushed and completions published.
const MAX_GROUP: usize = 1024;

/// A message to the runtime thread. Every field is owned: nothing borrows caller memory.
pub enum Request {
    Open {
        path: PathBuf,
        opts: Options,
        token: u64,
    },
    Close {
        db: u64,
        token: u64,
    },
    Write {
        db: u64,
        batch: Batch,
        token: u64,
    },
    Get {
        db: u64,
        key: Box<[u8]>,
        token: u64,
    },
    Stats {
        db: u64,
        token: u64,
    },
    IterOpen {
        db: u64,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        reverse: bool,
        token: u64,
    },
    IterNext {
        iter: u64,
        token: u64,
    },
    IterClose {
        iter: u64,
    },
    /// From the syncer thread: an fsync of `db`'s WAL finished.
    Synced {
        db: u64,
        point: SyncPoint,
        result: std::io::Result<()>,
    },
}

impl Request {
    /// The database a request concerns, for poisoning on panic.
    fn db(&self, iters: &HashMap<u64, IterState>) -> Option<u64> {
        match self {
            Request::Open { .. } => None,
            Request::Close { db, .. }
            | Request::Write { db, .. }
            | Request::Get { db, .. }
            | Request::Stats { db, .. }
            | Request::IterOpen { db, .. }
            | Request::Synced { db, .. } => Some(*db),
            Request::IterNext { iter, .. } | Request::IterClose { iter } => {
                iters.get(iter).map(|it| it.db)
            }
        }
    }

    fn token(&self) -> Option<u64> {
        match self {
            Request::Open { token, .. }
            | Request::Close { token, .. }
            | Request::Write { token, .. }
            | Request::Get { token, .. }
            | Request::Stats { token, .. }
            | Request::IterOpen { token, .. }
            | Request::IterNext { token, .. } => Some(*token),
            Request::IterClose { .. } | Request::Synced { .. } => None,
        }
    }
}

/// The process-wide runtime: the request channel and the completion queue.
pub struct Runtime {
    requests: Sender<Request>,
    /// Where completions wait for the caller.
    pub completions: Arc<CompletionQueue>,
}

static RUNTIME: OnceCell<Runtime> = OnceCell::new();

/// Starts the runtime thread and the syncer thread on first call; later calls return the same
/// runtime.
pub fn start() -> std::io::Result<&'static Runtime> {
    RUNTIME.get_or_try_init(|| {
        let completions = Arc::new(CompletionQueue::new()?);
        let (requests, inbox) = crossbeam_channel::unbounded();
        let (sync_jobs, sync_inbox) = crossbeam_channel::unbounded();
        let to_runtime = requests.clone();
        threads::spawn("strata-syncer", move || run_syncer(sync_inbox, to_runtime))?;
        let queue = Arc::clone(&completions);
        threads::spawn("strata-runtime", move || {
            State::new(queue, sync_jobs).run(inbox);
        })?;
        Ok(Runtime {
            requests,
            completions,
        })
    })
}

/// The runtime, if started.
pub fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

impl Runtime {
    /// Hands a request to the runtime thread. False if the thread is gone (it never exits
    /// while the process runs, so this signals a bug).
    pub fn submit(&self, request: Request) -> bool {
        self.requests.send(request).is_ok()
    }
}

struct SyncJob {
    db: u64,
    point: SyncPoint,
}

/// The syncer thread: fsyncs WAL groups so the runtime thread never blocks on one.
fn run_syncer(jobs: Receiver<SyncJob>, runtime: Sender<Request>) {
    for SyncJob { db, point } in jobs {
        let result = point.sync();
        if runtime.send(Request::Synced { db, point, result }).is_err() {
            return;
        }
    }
}

struct DbSlot {
    db: Db,
    /// Acknowledgements owed, in ticket order: (ticket, token).
    waiting: VecDeque<(u64, u64)>,
    sync_in_flight: bool,
    iters: HashSet<u64>,
}

/// Everything the runtime thread owns.
struct State {
    dbs: HashMap<u64, DbSlot>,
    iters: HashMap<u64, IterState>,
    next_handle: u64,
    /// Databases with writes prepared in this group.
    dirty: Vec<u64>,
    out: Vec<Completion>,
    completions: Arc<CompletionQueue>,
    sync_jobs: Sender<SyncJob>,
}

fn closed(token: u64) -> Completion {
    Completion::err(token, STRATA_ERR_CLOSED, "strata: database is closed")
}

fn failure(token: u64, err: &Error) -> Completion {
    Completion::err(token, err.code() as i32, format!("strata: {err}"))
}

impl State {
    fn new(completions: Arc<CompletionQueue>, sync_jobs: Sender<SyncJob>) -> State {
        State {
            dbs: HashMap::new(),
            iters: HashMap::new(),
            next_handle: 1,
            dirty: Vec::new(),
            out: Vec::new(),
            completions,
            sync_jobs,
        }
    }

    fn run(mut self, inbox: Receiver<Request>) {
        while let Some(first) = recv_spinning(&inbox) {
            self.handle_guarded(first);
            for _ in 1..MAX_GROUP {
                match inbox.try_recv() {
                    Ok(request) => self.handle_guarded(request),
                    Err(_) => break,
                }
            }
            self.flush_dirty();
            self.completions.publish(&mut self.out);
        }
    }

    fn handle_guarded(&mut self, request: Request) {
        let db = request.db(&self.iters);
        let token = request.token();
        // AssertUnwindSafe: after a panic the affected database is poisoned and only read, so
        // a half-applied update cannot be built on.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.handle(request))) {
            let why = format!("panic in strata: {}", panic_message(&*payload));
            tracing::error!(reason = %why, "request panicked");
            if let Some(slot) = db.and_then(|id| self.dbs.get_mut(&id)) {
                slot.db.poison(why.clone());
                let err = Error::Poisoned(why.clone());
                for (_, waiting) in slot.waiting.drain(..) {
                    self.out.push(failure(waiting, &err));
                }
            }
            if let Some(token) = token {
                self.out
                    .push(Completion::err(token, ErrorCode::Internal as i32, why));
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Open { path, opts, token } => self.open(path, opts, token),
            Request::Close { db, token } => self.close(db, token),
            Request::Write { db, batch, token } => self.write(db, batch, token),
            Request::Get { db, key, token } => self.get(db, &key, token),
            Request::Stats { db, token } => self.stats(db, token),
            Request::IterOpen {
                db,
                lower,
                upper,
                reverse,
                token,
            } => self.iter_open(db, lower, upper, reverse, token),
            Request::IterNext { iter, token } => self.iter_next(iter, token),
            Request::IterClose { iter } => self.iter_close(iter),
            Request::Synced { db, point, result } => self.synced(db, point, result),
        }
    }

    fn open(&mut self, path: PathBuf, opts: Options, token: u64) {
        match Db::open(&path, opts) {
            Ok(db) => {
                let handle = self.next_handle;
                self.next_handle += 1;
                self.dbs.insert(
                    handle,
                    DbSlot {
                        db,
                        waiting: VecDeque::new(),
                        sync_in_flight: false,
                        iters: HashSet::new(),
                    },
                );
                let mut c = Completion::ok(token, None);
                c.handle = handle;
                self.out.push(c);
            }
            Err(e) => self.out.push(failure(token, &e)),
        }
    }

    fn close(&mut self, db: u64, token: u64) {
        let Some(mut slot) = self.dbs.remove(&db) else {
            self.out.push(closed(token));
            return;
        };
        for iter in slot.iters.drain() {
            self.iters.remove(&iter);
        }
        // The slot has left the table, so a panic in close must be caught here: otherwise its
        // waiters would never hear back.
        let result = catch_unwind(AssertUnwindSafe(|| slot.db.close())).unwrap_or_else(|p| {
            Err(Error::Internal(format!(
                "panic in strata: {}",
                panic_message(&*p)
            )))
        });
        // Close wrote and synced everything pending: every waiter is acknowledged, or none is.
        for (_, waiting) in slot.waiting.drain(..) {
            self.out.push(match &result {
                Ok(()) => Completion::ok(waiting, None),
                Err(e) => failure(waiting, e),
            });
        }
        self.out.push(match &result {
            Ok(()) => Completion::ok(token, None),
            Err(e) => failure(token, e),
        });
    }

    fn write(&mut self, db: u64, batch: Batch, token: u64) {
        let Some(slot) = self.dbs.get_mut(&db) else {
            self.out.push(closed(token));
            return;
        };
        match slot.db.prepare(batch) {
            Ok(ticket) => {
                slot.waiting.push_back((ticket, token));
                if !self.dirty.contains(&db) {
                    self.dirty.push(db);
                }
            }
            Err(e) => self.out.push(failure(token, &e)),
        }
    }

    fn get(&mut self, db: u64, key: &[u8], token: u64) {
        let Some(slot) = self.dbs.get(&db) else {
            self.out.push(closed(token));
            return;
        };
        self.out.push(match slot.db.get(key) {
            Ok(Some(value)) => Completion::ok(token, Some(Box::from(value))),
            Ok(None) => Completion {
                code: STRATA_ERR_NOT_FOUND,
                ..Completion::ok(token, None)
            },
            Err(e) => failure(token, &e),
        });
    }

    fn stats(&mut self, db: u64, token: u64) {
        let Some(slot) = self.dbs.get(&db) else {
            self.out.push(closed(token));
            return;
        };
        let s = slot.db.stats();
        let stats = strata_stats {
            tls_inits: threads::tls_inits(),
            strata_threads: threads::threads_spawned(),
            visible_seq: s.visible_seq,
            batches_written: s.batches_written,
            wal_bytes_written: s.wal_bytes_written,
            wal_writes: s.wal_writes,
            wal_syncs: s.wal_syncs,
            wal_size: s.wal_size,
            memtable_bytes: s.memtable_bytes,
            memtable_versions: s.memtable_versions,
            recovered_batches: s.recovered_batches,
            recovered_torn_bytes: s.recovered_torn_bytes,
            snapshots: s.snapshots,
            open_iterators: slot.iters.len() as u64,
        };
        // SAFETY: strata_stats is repr(C) plain u64 fields with no padding; viewing it as bytes
        // reads initialized memory of exactly its size.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&stats as *const strata_stats).cast::<u8>(),
                std::mem::size_of::<strata_stats>(),
            )
        };
        self.out.push(Completion::ok(token, Some(Box::from(bytes))));
    }

    fn iter_open(
        &mut self,
        db: u64,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        reverse: bool,
        token: u64,
    ) {
        let Some(slot) = self.dbs.get_mut(&db) else {
            self.out.push(closed(token));
            return;
        };
        let seq = slot.db.acquire_snapshot();
        let handle = self.next_handle;
        self.next_handle += 1;
        slot.iters.insert(handle);
        self.iters
            .insert(handle, IterState::new(db, seq, lower, upper, reverse));
        let mut c = Completion::ok(token, None);
        c.handle = handle;
        self.out.push(c);
    }

    fn iter_next(&mut self, iter: u64, token: u64) {
        let Some(state) = self.iters.get_mut(&iter) else {
            self.out.push(Completion::err(
                token,
                STRATA_ERR_CLOSED,
                "strata: iterator is closed",
            ));
            return;
        };
        let Some(slot) = self.dbs.get(&state.db) else {
            self.out.push(closed(token));
            return;
        };
        let (chunk, done) = state.next_chunk(&slot.db);
        let mut c = Completion::ok(token, Some(chunk));
        if done {
            c.flags = STRATA_ITER_DONE;
        }
        self.out.push(c);
    }

    fn iter_close(&mut self, iter: u64) {
        if let Some(state) = self.iters.remove(&iter) {
            if let Some(slot) = self.dbs.get_mut(&state.db) {
                slot.iters.remove(&iter);
                slot.db.release_snapshot(state.seq);
            }
        }
    }

    fn synced(&mut self, db: u64, point: SyncPoint, result: std::io::Result<()>) {
        // The database may have closed meanwhile; its close synced everything itself.
        let Some(slot) = self.dbs.get_mut(&db) else {
            return;
        };
        slot.sync_in_flight = false;
        if let Err(e) = slot.db.synced(&point, result) {
            fail_waiting(slot, &e, &mut self.out);
            return;
        }
        acknowledge(slot, &mut self.out);
        if slot.db.has_pending() && !self.dirty.contains(&db) {
            self.dirty.push(db);
        }
    }

    /// Hands each dirty database's WAL group to the OS and starts its fsync, unless one is
    /// already running (the next starts when it reports back and covers everything since).
    fn flush_dirty(&mut self) {
        for db in std::mem::take(&mut self.dirty) {
            let Some(slot) = self.dbs.get_mut(&db) else {
                continue;
            };
            if slot.sync_in_flight {
                continue;
            }
            match slot.db.write_pending() {
                Ok(Some(point)) => {
                    slot.sync_in_flight = true;
                    if self.sync_jobs.send(SyncJob { db, point }).is_err() {
                        let e = Error::Internal("the syncer thread is gone".into());
                        slot.db.poison(e.to_string());
                        fail_waiting(slot, &e, &mut self.out);
                    }
                }
                Ok(None) => acknowledge(slot, &mut self.out),
                Err(e) => fail_waiting(slot, &e, &mut self.out),
            }
        }
    }
}

/// Completes every waiter whose ticket is now visible.
fn acknowledge(slot: &mut DbSlot, out: &mut Vec<Completion>) {
    let visible = slot.db.visible_seq();
    while let Some(&(ticket, token)) = slot.waiting.front() {
        if ticket > visible {
            break;
        }
        slot.waiting.pop_front();
        out.push(Completion::ok(token, None));
    }
}

/// Fails every waiter of a database whose write path broke.
fn fail_waiting(slot: &mut DbSlot, err: &Error, out: &mut Vec<Completion>) {
    // Waiters whose batches became visible before the failure are acknowledged first.
    acknowledge(slot, out);
    for (_, token) in slot.waiting.drain(..) {
        out.push(failure(token, err));
    }
}

/// Receives the next request, polling briefly before parking. None when every sender is gone.
fn recv_spinning(inbox: &Receiver<Request>) -> Option<Request> {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            match inbox.try_recv() {
                Ok(request) => return Some(request),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        if start.elapsed() > SPIN {
            return inbox.recv().ok();
        }
    }
}
