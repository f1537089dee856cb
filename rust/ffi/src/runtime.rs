//! The threads that own every open database and iterator.
//!
//! Each open database has a thread of its own (`strata-db`), a committer (`strata-commit`) and
//! reader threads (`strata-reader`, one per two cores) beside it. Exports send [`Request`]s over
//! a crossbeam channel found by the upper 32 bits of the handle the request names: writes to the
//! database's committer (the engine's [`Committer`]: group commit, the fsync on its own thread,
//! answers in order), point reads to its readers, which read it under a shared lock, everything
//! else (iterators, snapshots, flushes, checkpoints, close) to its own thread. Requests that name
//! no open database, and opens and the offline tools, go to the front thread
//! (`strata-runtime`). So a writer queues behind no reader and no scan, and a durable write
//! crosses three wake-ups (caller -> committer, the fsync, committer -> caller). Each thread
//! handles its requests in arrival order, in groups, and publishes a group's completions with
//! at most one eventfd signal. Reads never wait for an fsync.
//!
//! A database whose directory blocks (a FIFO where a file should be, a frozen or hung file
//! system) blocks only its own thread: every other database keeps serving. Open runs on the new
//! database's thread, so an open that never returns holds up nothing else either.
//!
//! Every request is handled inside `catch_unwind`. A panic fails that request with
//! `STRATA_ERR_INTERNAL`, poisons the database it concerned (reads keep working, writes are
//! refused with the panic's message), and the thread carries on serving.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, SendError, Sender, TryRecvError};
use once_cell::sync::OnceCell;
use strata_engine::commit::{self, CommitSender, Committer, Replies, SharedDb};
use strata_engine::error::panic_message;
use strata_engine::fs::RealFs;
use strata_engine::{threads, Batch, Db, Error, ErrorCode, KeyBuf, Options};

use crate::abi::{
    strata_stats, STRATA_ERR_CLOSED, STRATA_ERR_CORRUPTION, STRATA_ERR_NOT_FOUND,
    STRATA_ITER_BEHIND_DONE, STRATA_ITER_DONE, STRATA_SNAPSHOT_NEW,
};
use crate::completion::{Completion, CompletionQueue};
use crate::iterator::{Bounds, IterState, Scratch, Seek};
use crate::waiter::{Expected, Waiter};

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
        /// Durable before it is answered, also in a `no_sync` database.
        sync: bool,
        /// Served by the database's own thread, which commits it right there when it can
        /// ([`CommitSender::write_now`]) and hands it to the committer otherwise: for a caller
        /// that waits in its call, so one serving thread does the work its reads and commits
        /// also go to.
        here: bool,
    },
    /// Reads `key` at `snapshot` (0: the latest state).
    Get {
        db: u64,
        snapshot: u64,
        /// Inline up to `KEY_INLINE` bytes: submitting a read allocates nothing.
        key: KeyBuf,
        token: u64,
    },
    /// A [`Request::Get`] whose caller waits for the result in its own call.
    GetWait {
        db: u64,
        snapshot: u64,
        key: KeyBuf,
        waiter: Arc<Waiter>,
    },
    Stats {
        db: u64,
        token: u64,
    },
    /// Opens an iterator at `snapshot` (0: a new snapshot of the latest state).
    IterOpen {
        db: u64,
        snapshot: u64,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        reverse: bool,
        /// When some, the open's completion carries a first chunk of up to that many entries
        /// (0: strata's default).
        first_chunk: Option<u32>,
        token: u64,
    },
    IterNext {
        iter: u64,
        token: u64,
    },
    /// Repositions an iterator within new bounds and reads its first chunk from there.
    IterSeek {
        iter: u64,
        seek: Seek,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        /// The first chunk's entries at most (0: strata's default).
        chunk_entries: u32,
        /// The chunk brings as many entries behind the position too (`STRATA_SEEK_BEHIND`).
        behind: bool,
        token: u64,
    },
    IterClose {
        iter: u64,
    },
    SnapshotOpen {
        db: u64,
        token: u64,
    },
    SnapshotClose {
        snapshot: u64,
    },
    Flush {
        db: u64,
        token: u64,
    },
    Compact {
        db: u64,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        token: u64,
    },
    /// A transaction's commit: `batch` is written only if every key of `reads` reads at the
    /// latest state as it did at `snapshot` (a handle the caller keeps open until the answer).
    /// Served by the database's own thread, which resolves the snapshot and hands the commit
    /// to the committer.
    Commit {
        db: u64,
        snapshot: u64,
        batch: Batch,
        reads: Vec<Box<[u8]>>,
        sync: bool,
        token: u64,
    },
    /// Estimates the table bytes holding the keys in `[lower, upper)`.
    EstimateDiskUsage {
        db: u64,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        token: u64,
    },
    Checkpoint {
        db: u64,
        path: PathBuf,
        token: u64,
    },
    /// Verifies the closed database in `path`.
    Check {
        path: PathBuf,
        token: u64,
    },
    /// Rebuilds the manifest of the closed database in `path`.
    Repair {
        path: PathBuf,
        token: u64,
    },
    /// From a background thread: a requested operation finished with this completion.
    Finished(Completion),
    /// From a database's thread, its last message: the database closed (or never opened) and
    /// the thread is ending. The front thread joins it, then publishes `out` and wakes
    /// `woken`, so a caller that hears its database closed finds its threads gone.
    Retire {
        number: u32,
        out: Vec<Completion>,
        woken: Vec<(Arc<Waiter>, Completion)>,
    },
}

impl Request {
    /// The database handle a request names, if it names one (iterator and snapshot requests
    /// name their own handle instead).
    fn db_handle(&self) -> Option<u64> {
        match self {
            Request::Close { db, .. }
            | Request::Write { db, .. }
            | Request::Get { db, .. }
            | Request::GetWait { db, .. }
            | Request::Stats { db, .. }
            | Request::IterOpen { db, .. }
            | Request::SnapshotOpen { db, .. }
            | Request::Flush { db, .. }
            | Request::Compact { db, .. }
            | Request::EstimateDiskUsage { db, .. }
            | Request::Commit { db, .. }
            | Request::Checkpoint { db, .. } => Some(*db),
            Request::Open { .. }
            | Request::Check { .. }
            | Request::Repair { .. }
            | Request::Finished(_)
            | Request::Retire { .. }
            | Request::IterNext { .. }
            | Request::IterSeek { .. }
            | Request::IterClose { .. }
            | Request::SnapshotClose { .. } => None,
        }
    }

    /// The database a request concerns, for poisoning on panic.
    fn db(&self, state: &State) -> Option<u64> {
        self.db_handle().or_else(|| match self {
            Request::IterNext { iter, .. }
            | Request::IterSeek { iter, .. }
            | Request::IterClose { iter } => state.iters.get(iter).map(|it| it.db),
            Request::SnapshotClose { snapshot } => Some(database_handle(*snapshot)),
            _ => None,
        })
    }

    fn token(&self) -> Option<u64> {
        match self {
            Request::Open { token, .. }
            | Request::Close { token, .. }
            | Request::Write { token, .. }
            | Request::Get { token, .. }
            | Request::Stats { token, .. }
            | Request::IterOpen { token, .. }
            | Request::IterNext { token, .. }
            | Request::IterSeek { token, .. }
            | Request::SnapshotOpen { token, .. }
            | Request::Flush { token, .. }
            | Request::Compact { token, .. }
            | Request::EstimateDiskUsage { token, .. }
            | Request::Commit { token, .. }
            | Request::Checkpoint { token, .. }
            | Request::Check { token, .. }
            | Request::Repair { token, .. } => Some(*token),
            Request::Finished(c) => Some(c.token),
            Request::IterClose { .. }
            | Request::GetWait { .. }
            | Request::SnapshotClose { .. }
            | Request::Retire { .. } => None,
        }
    }

    /// Served by a reader thread: point reads through the completion queue, which callers
    /// issue concurrently. What a caller waits for in its own call (point reads, snapshot
    /// opens, writes, commits: a lone caller's work) goes to the database's own thread
    /// instead, so one thread, kept awake by the caller's stream of requests, serves them
    /// all: on two cores, a reader, the committer and the database's thread each woken for
    /// every other request cost 40-70 us per request, where one awake thread costs a few.
    /// A commit also stays behind any snapshot close sent before it (closes go there, so that
    /// a Stats sent after a close counts it gone): a commit naming a snapshot its caller
    /// closed first must fail as closed.
    fn is_read(&self) -> bool {
        matches!(self, Request::Get { .. })
    }

    /// The number of the database whose thread serves this request (the upper half of the
    /// handle it names); `None` for the front thread's own requests.
    fn owner(&self) -> Option<u32> {
        let handle = self.db_handle().or(match self {
            Request::IterNext { iter, .. }
            | Request::IterSeek { iter, .. }
            | Request::IterClose { iter } => Some(*iter),
            Request::SnapshotClose { snapshot } => Some(*snapshot),
            _ => None,
        })?;
        Some(database_number(handle))
    }

    /// The blocked caller waiting for this request's result, if one does.
    fn waiter(&self) -> Option<Arc<Waiter>> {
        match self {
            Request::GetWait { waiter, .. } => Some(Arc::clone(waiter)),
            _ => None,
        }
    }
}

/// The database number in a handle: a database's handle is its number shifted up 32 bits, and
/// its iterators' and snapshots' handles carry the same upper half.
fn database_number(handle: u64) -> u32 {
    (handle >> 32) as u32
}

/// The handle of the database an iterator or snapshot handle belongs to.
fn database_handle(handle: u64) -> u64 {
    u64::from(database_number(handle)) << 32
}

/// What every strata-owned thread of the runtime shares.
struct Shared {
    completions: Arc<CompletionQueue>,
    expected: Arc<Expected>,
    /// The front thread's inbox.
    front: Sender<Request>,
    /// Each open database's inboxes, by database number. Requests are sent under the read
    /// lock, so once a closing database removed itself (under the write lock) nothing more
    /// reaches them, and what did can be drained to the last.
    inboxes: RwLock<HashMap<u32, Route>>,
    /// How many databases are open: result buffers are recycled and waiters pooled while any is.
    open: Mutex<usize>,
}

impl Shared {
    /// Counts a database in (`true`) or out, switching recycling on at the first and off after
    /// the last.
    fn count_open(&self, opened: bool) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let before = *open;
        *open = if opened { before + 1 } else { before - 1 };
        if (before == 0) != (*open == 0) {
            self.completions.set_recycling(opened);
            Waiter::set_pooling(opened);
        }
    }

    fn inboxes(&self) -> RwLockReadGuard<'_, HashMap<u32, Route>> {
        self.inboxes.read().unwrap_or_else(|e| e.into_inner())
    }

    fn inboxes_mut(&self) -> RwLockWriteGuard<'_, HashMap<u32, Route>> {
        self.inboxes.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where requests naming an open database go: writes to its committer, point reads to its
/// reader threads, everything else to its own thread.
struct Route {
    /// The database's handle: a write must name exactly it.
    handle: u64,
    inbox: Sender<Request>,
    reads: Sender<Request>,
    writes: CommitSender,
    /// The database skips fsyncs: a write its caller waits for may be written by the
    /// database's own thread, which the committer's idle moments allow.
    no_sync: bool,
}

impl Route {
    /// Sends `request` to the thread of this database that serves it; gives it back when that
    /// thread has ended (the database is closing) or when it is a write naming another handle
    /// than the database's (the front thread answers those).
    // The request comes back by value, as crossbeam's SendError carries it: boxing it would
    // allocate on every submission for the sake of the rare refusal.
    #[allow(clippy::result_large_err)]
    fn send(&self, request: Request) -> Result<(), Request> {
        match request {
            // A write that will need an fsync goes to the committer, here or not: the
            // database's thread would only pass it on.
            Request::Write {
                db,
                batch,
                token,
                sync,
                here,
            } if db == self.handle && (!here || sync || !self.no_sync) => self
                .writes
                .write(batch, token, sync)
                .map_err(|batch| Request::Write {
                    db,
                    batch,
                    token,
                    sync,
                    here,
                }),
            Request::Write { db, .. } if db != self.handle => Err(request),
            r if r.is_read() => self.reads.send(r).map_err(|SendError(r)| r),
            r => self.inbox.send(r).map_err(|SendError(r)| r),
        }
    }
}

/// The process-wide runtime: where requests go, and the completion queue.
pub struct Runtime {
    shared: Arc<Shared>,
    /// Where completions wait for the caller.
    pub completions: Arc<CompletionQueue>,
    /// Results callers wait for in their own call instead (see [`crate::waiter`]).
    pub expected: Arc<Expected>,
}

static RUNTIME: OnceCell<Runtime> = OnceCell::new();

/// Starts the front thread on first call; later calls return the same runtime.
pub fn start() -> std::io::Result<&'static Runtime> {
    RUNTIME.get_or_try_init(|| {
        crate::crash::install();
        let completions = Arc::new(CompletionQueue::new()?);
        crate::logs::install(Arc::clone(&completions));
        let (front, inbox) = crossbeam_channel::unbounded();
        let expected = Arc::new(Expected::default());
        let shared = Arc::new(Shared {
            completions: Arc::clone(&completions),
            expected: Arc::clone(&expected),
            front: front.clone(),
            inboxes: RwLock::new(HashMap::new()),
            open: Mutex::new(0),
        });
        let state = State::new(Arc::clone(&shared), 0, front);
        threads::spawn("strata-runtime", threads::Role::Serving, move || {
            state.run(inbox)
        })?;
        Ok(Runtime {
            shared,
            completions,
            expected,
        })
    })
}

/// The runtime, if started.
pub fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

impl Runtime {
    /// Hands a request to the thread of the database it names, or to the front thread. False
    /// if the front thread is gone (it never exits while the process runs, so this signals a
    /// bug).
    pub fn submit(&self, request: Request) -> bool {
        let request = match request.owner() {
            Some(number) => match self.shared.inboxes().get(&number) {
                Some(route) => match route.send(request) {
                    Ok(()) => return true,
                    Err(request) => request,
                },
                None => request,
            },
            None => request,
        };
        self.shared.front.send(request).is_ok()
    }
}

/// A database, shared by its own thread, its committer and its reader threads.
struct DbCell {
    /// The database's handle.
    handle: u64,
    db: SharedDb,
    /// Its open snapshots (handle -> sequence number), for reads that name one.
    snapshots: RwLock<HashMap<u64, u64>>,
    /// The next iterator or snapshot handle: the database's number in the upper half, so
    /// requests naming it reach this database's threads, and a count that never repeats.
    next_handle: AtomicU64,
}

impl DbCell {
    fn read(&self) -> RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Db> {
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshots_mut(&self) -> RwLockWriteGuard<'_, HashMap<u64, u64>> {
        self.snapshots.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A new handle for an iterator or snapshot of this database.
    fn new_handle(&self) -> u64 {
        self.next_handle.fetch_add(1, Ordering::Relaxed)
    }

    /// Pins the latest state as a new snapshot and returns its handle in the completion.
    fn snapshot_open(&self, token: u64) -> Completion {
        let mut c = Completion::ok(token, Vec::new());
        c.handle = self.open_snapshot();
        c
    }

    /// Pins the latest state as a new snapshot and returns its handle.
    fn open_snapshot(&self) -> u64 {
        let handle = self.new_handle();
        let seq = self.read().acquire_snapshot();
        self.snapshots_mut().insert(handle, seq);
        handle
    }

    /// Closes a snapshot of this database (a closed or unknown handle: nothing to do).
    fn snapshot_close(&self, snapshot: u64) {
        if let Some(seq) = self.snapshots_mut().remove(&snapshot) {
            self.read().release_snapshot(seq);
        }
    }

    /// The sequence number a read of `snapshot` reads at (0: the latest state); `None` when
    /// the snapshot is closed or another database's.
    fn snapshot_seq(&self, snapshot: u64) -> Option<u64> {
        if snapshot == 0 {
            return Some(self.read().visible_seq());
        }
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.get(&snapshot).copied()
    }

    /// Reads `key` at `snapshot` into a buffer from `buffers` (refilled from the completion
    /// queue's recycled ones). `STRATA_SNAPSHOT_NEW` opens a snapshot first, reads at it and
    /// hands it over in the completion's handle, unless the read fails (not found is no failure).
    fn get(
        &self,
        snapshot: u64,
        key: &[u8],
        token: u64,
        buffers: &mut Vec<Vec<u8>>,
        completions: &CompletionQueue,
    ) -> Completion {
        if snapshot == STRATA_SNAPSHOT_NEW {
            let opened = self.open_snapshot();
            let mut c = self.get(opened, key, token, buffers, completions);
            if c.code == 0 || c.code == STRATA_ERR_NOT_FOUND {
                c.handle = opened;
            } else {
                self.snapshot_close(opened);
            }
            return c;
        }
        let Some(seq) = self.snapshot_seq(snapshot) else {
            return snapshot_closed(token);
        };
        if buffers.is_empty() {
            completions.take_recycled(buffers);
        }
        let mut buf = buffers.pop().unwrap_or_default();
        let found = self
            .read()
            .get_at_with(key, seq, |value| buf.extend_from_slice(value));
        match found {
            Ok(Some(())) => Completion::ok(token, buf),
            Ok(None) => {
                buffers.push(buf);
                Completion {
                    code: STRATA_ERR_NOT_FOUND,
                    ..Completion::ok(token, Vec::new())
                }
            }
            Err(e) => failure(token, &e),
        }
    }

    /// Takes the database back once nothing else holds the cell (its readers and committer
    /// ended).
    fn into_db(self: Arc<DbCell>) -> Db {
        let cell = Arc::into_inner(self).expect("the reader threads have ended");
        let db = Arc::into_inner(cell.db).expect("the committer has ended");
        db.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where a database's committer answers writes: completions published from its thread, as a
/// reader publishes its reads.
struct Answers {
    shared: Arc<Shared>,
    out: Vec<Completion>,
}

impl Replies for Answers {
    fn reply(&mut self, token: u64, result: Result<(), &Error>) {
        self.out.push(match result {
            Ok(()) => Completion::ok(token, Vec::new()),
            Err(e) => failure(token, e),
        });
    }

    fn deliver(&mut self) {
        if !self.out.is_empty() {
            self.shared.expected.route(&mut self.out);
            self.shared.completions.publish(&mut self.out);
        }
    }
}

/// A database's reader thread: serves point reads through the completion queue in groups, as
/// the database's own thread serves everything else, until the database closes (its inbox
/// disconnects).
fn serve_reads(cell: Arc<DbCell>, reads: Receiver<Request>, shared: Arc<Shared>) {
    let mut out = Vec::new();
    let mut buffers = Vec::new();
    while let Some(first) = threads::recv_spinning(&reads, SPIN) {
        let mut next = Some(first);
        let mut served = 0;
        while let Some(request) = next {
            out.push(read_guarded(&cell, request, &mut buffers, &shared));
            served += 1;
            next = if served < MAX_GROUP {
                reads.try_recv().ok()
            } else {
                None
            };
        }
        shared.expected.route(&mut out);
        shared.completions.publish(&mut out);
    }
}

/// Serves one point read; a panic fails it with `STRATA_ERR_INTERNAL` and poisons the
/// database, as on the database's own thread.
fn read_guarded(
    cell: &DbCell,
    request: Request,
    buffers: &mut Vec<Vec<u8>>,
    shared: &Shared,
) -> Completion {
    let Request::Get {
        db,
        snapshot,
        key,
        token,
    } = request
    else {
        unreachable!("only point reads through the queue reach a reader");
    };
    let serve = || {
        if db != cell.handle {
            return closed(token);
        }
        cell.get(snapshot, &key, token, buffers, &shared.completions)
    };
    // AssertUnwindSafe: after a panic the database is poisoned, as on its own thread.
    catch_unwind(AssertUnwindSafe(serve)).unwrap_or_else(|payload| {
        let why = panicked(&*payload, "read");
        cell.write().poison(why.clone());
        Completion::err(token, ErrorCode::Internal as i32, why)
    })
}

/// How many reader threads each open database has: one per two cores the process may use
/// (the callers need the others), one to four. On 2 cores one reader and two measured alike
/// (docs/benchmarks.md); more than 2 cores were not measured.
fn readers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .clamp(1, 4)
}

struct DbSlot {
    db: Arc<DbCell>,
    /// The reader threads, joined when the database closes.
    readers: Vec<JoinHandle<()>>,
    /// Its write pipeline, finished when the database closes.
    committer: Option<Committer>,
    iters: HashSet<u64>,
}

/// Everything one of the runtime's threads owns: a database thread its one database (and its
/// iterators and snapshots); the front thread no database, only the database threads it
/// started.
struct State {
    /// This thread's database number (0: the front thread).
    number: u32,
    dbs: HashMap<u64, DbSlot>,
    iters: HashMap<u64, IterState>,
    /// Where this thread encodes its iterators' chunks.
    scratch: Scratch,
    /// Iterators whose next chunk is to be read ahead once no request waits (see
    /// [`State::read_ahead`]).
    reading_ahead: VecDeque<u64>,
    out: Vec<Completion>,
    /// Results for callers blocked in their own call, delivered with the group's completions.
    woken: Vec<(Arc<Waiter>, Completion)>,
    /// Emptied result buffers back from the drainer, for the next reads' values.
    buffers: Vec<Vec<u8>>,
    shared: Arc<Shared>,
    /// This thread's own inbox, for callbacks from background threads.
    to_self: Sender<Request>,
    /// On the front thread: the database threads running, by number, and the next number.
    threads: HashMap<u32, JoinHandle<()>>,
    next_number: u32,
}

fn closed(token: u64) -> Completion {
    Completion::err(token, STRATA_ERR_CLOSED, "strata: database is closed")
}

/// The completion of a write committed on a serving thread.
fn written(token: u64, result: strata_engine::Result<()>) -> Completion {
    match result {
        Ok(()) => Completion::ok(token, Vec::new()),
        Err(e) => failure(token, &e),
    }
}

fn failure(token: u64, err: &Error) -> Completion {
    Completion::err(token, err.code() as i32, format!("strata: {err}"))
}

/// A database thread: opens the database, serves it until it closes, then retires.
fn serve_database(
    shared: Arc<Shared>,
    number: u32,
    open: Request,
    inbox: Receiver<Request>,
    to_self: Sender<Request>,
) {
    let mut state = State::new(Arc::clone(&shared), number, to_self);
    state.handle_guarded(open);
    if !state.dbs.is_empty() {
        state.publish();
        state.serve(&inbox);
    }
    // Closed, or never opened: nothing more may reach this thread.
    shared.inboxes_mut().remove(&number);
    while let Ok(request) = inbox.try_recv() {
        state.handle_guarded(request);
    }
    let out = std::mem::take(&mut state.out);
    let woken = std::mem::take(&mut state.woken);
    drop(state);
    drop(inbox);
    let _ = shared.front.send(Request::Retire { number, out, woken });
}

impl State {
    fn new(shared: Arc<Shared>, number: u32, to_self: Sender<Request>) -> State {
        State {
            number,
            dbs: HashMap::new(),
            iters: HashMap::new(),
            scratch: Scratch::default(),
            reading_ahead: VecDeque::new(),
            buffers: Vec::new(),
            out: Vec::new(),
            woken: Vec::new(),
            shared,
            to_self,
            threads: HashMap::new(),
            next_number: 1,
        }
    }

    /// Serves requests until the inbox closes (the front thread) or the database closes.
    fn run(mut self, inbox: Receiver<Request>) {
        self.serve(&inbox);
    }

    fn serve(&mut self, inbox: &Receiver<Request>) {
        let front = self.number == 0;
        loop {
            let first = if front {
                // Opens and tools: nothing here is worth a spin.
                inbox.recv().ok()
            } else if self.reading_ahead.is_empty() {
                threads::recv_spinning(inbox, SPIN)
            } else {
                match inbox.try_recv() {
                    Ok(request) => Some(request),
                    Err(TryRecvError::Empty) => {
                        self.read_ahead();
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            let Some(first) = first else {
                return;
            };
            self.handle_guarded(first);
            for _ in 1..MAX_GROUP {
                match inbox.try_recv() {
                    Ok(request) => self.handle_guarded(request),
                    Err(_) => break,
                }
            }
            if !front && self.dbs.is_empty() {
                // Closed: the last results go out with the retirement, after the thread ends.
                return;
            }
            self.publish();
        }
    }

    /// Publishes the group's completions and wakes its blocked callers.
    fn publish(&mut self) {
        self.shared.expected.route(&mut self.out);
        self.shared.completions.publish(&mut self.out);
        for (waiter, result) in self.woken.drain(..) {
            waiter.deliver(result);
        }
    }

    fn handle_guarded(&mut self, request: Request) {
        let db = request.db(self);
        let token = request.token();
        let waiter = request.waiter();
        // AssertUnwindSafe: after a panic the affected database is poisoned and only read, so
        // a half-applied update cannot be built on.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.handle(request))) {
            let why = panicked(&*payload, "request");
            if let Some(slot) = db.and_then(|id| self.dbs.get(&id)) {
                // The committer refuses every later write, and fails those it holds.
                slot.db.write().poison(why.clone());
            }
            if let Some(waiter) = waiter {
                let failed = Completion::err(0, ErrorCode::Internal as i32, why.clone());
                self.woken.push((waiter, failed));
            }
            if let Some(token) = token {
                self.out
                    .push(Completion::err(token, ErrorCode::Internal as i32, why));
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Open { path, opts, token } if self.number == 0 => {
                self.start_database(Request::Open { path, opts, token })
            }
            Request::Open { path, opts, token } => self.open(path, opts, token),
            Request::Close { db, token } => self.close(db, token),
            Request::Write {
                db,
                batch,
                token,
                sync,
                here: true,
            } => self.write_here(db, batch, sync, token),
            // Other writes go to the database's committer; one here names no open database.
            Request::Write { token, .. } => self.out.push(closed(token)),
            Request::Commit {
                db,
                snapshot,
                batch,
                reads,
                sync,
                token,
            } => self.commit(db, snapshot, batch, reads, sync, token),
            Request::Get {
                db,
                snapshot,
                key,
                token,
            } => {
                let result = self.get(db, snapshot, &key, token);
                self.out.push(result);
            }
            Request::GetWait {
                db,
                snapshot,
                key,
                waiter,
            } => {
                let result = self.get(db, snapshot, &key, 0);
                self.woken.push((waiter, result));
            }
            Request::Stats { db, token } => self.stats(db, token),
            Request::IterOpen {
                db,
                snapshot,
                lower,
                upper,
                reverse,
                first_chunk,
                token,
            } => {
                let bounds = (lower, upper);
                self.iter_open(db, snapshot, bounds, reverse, first_chunk, token)
            }
            Request::IterNext { iter, token } => {
                // A caller reading chunk after chunk: the next one is read while it reads
                // this one.
                self.iter_next(iter, token, false);
                self.reading_ahead.push_back(iter);
            }
            Request::IterSeek {
                iter,
                seek,
                lower,
                upper,
                chunk_entries,
                behind,
                token,
            } => {
                if let Some(state) = self.iters.get_mut(&iter) {
                    state.seek(seek, (lower, upper), chunk_entries);
                }
                self.iter_next(iter, token, behind)
            }
            Request::IterClose { iter } => self.iter_close(iter),
            Request::SnapshotOpen { db, token } => self.snapshot_open(db, token),
            Request::SnapshotClose { snapshot } => self.snapshot_close(snapshot),
            Request::Flush { db, token } => self.flush(db, token),
            Request::Compact {
                db,
                lower,
                upper,
                token,
            } => self.compact(db, lower, upper, token),
            Request::EstimateDiskUsage {
                db,
                lower,
                upper,
                token,
            } => self.estimate_disk_usage(db, lower, upper, token),
            Request::Checkpoint { db, path, token } => self.checkpoint(db, &path, token),
            Request::Check { path, token } => self.check(path, token),
            Request::Repair { path, token } => self.repair(path, token),
            Request::Finished(c) => self.out.push(c),
            Request::Retire { number, out, woken } => self.retire(number, out, woken),
        }
    }

    /// On the front thread: starts a database thread that opens the database (so an open that
    /// blocks holds up only that thread).
    fn start_database(&mut self, open: Request) {
        let token = open.token().unwrap_or(0);
        let number = self.next_number;
        if number == u32::MAX {
            let e = Error::Internal("no database numbers left in this process".into());
            return self.out.push(failure(token, &e));
        }
        let (to_thread, inbox) = crossbeam_channel::unbounded();
        let shared = Arc::clone(&self.shared);
        let spawned = threads::spawn("strata-db", threads::Role::Serving, move || {
            serve_database(shared, number, open, inbox, to_thread)
        });
        match spawned {
            Ok(thread) => {
                self.next_number += 1;
                self.threads.insert(number, thread);
            }
            Err(e) => {
                let e = Error::io("spawn a database thread", e);
                self.out.push(failure(token, &e));
            }
        }
    }

    /// On the front thread: a database thread ended; its last results go out once it is gone.
    fn retire(&mut self, number: u32, out: Vec<Completion>, woken: Vec<(Arc<Waiter>, Completion)>) {
        if let Some(thread) = self.threads.remove(&number) {
            let _ = thread.join();
        }
        self.out.extend(out);
        self.woken.extend(woken);
    }

    /// On a database thread: opens its database and, if that worked, makes the thread the one
    /// requests naming it reach.
    fn open(&mut self, path: PathBuf, opts: Options, token: u64) {
        let handle = u64::from(self.number) << 32;
        // Made first: finished flushes and compactions wake the committer, which holds
        // stalled writes.
        let (writes, commit_inbox) = commit::channel();
        let no_sync = opts.no_sync;
        let db = match Db::open_with(&path, opts, Arc::new(RealFs), writes.notifier()) {
            Ok(db) => db,
            Err(e) => return self.out.push(failure(token, &e)),
        };
        let cell = Arc::new(DbCell {
            handle,
            db: Arc::new(RwLock::new(db)),
            snapshots: RwLock::new(HashMap::new()),
            next_handle: AtomicU64::new(handle + 1),
        });
        let (reads, read_inbox) = crossbeam_channel::unbounded();
        let count = readers();
        let mut readers = Vec::with_capacity(count);
        for _ in 0..count {
            let (shared_cell, inbox, shared) = (
                Arc::clone(&cell),
                read_inbox.clone(),
                Arc::clone(&self.shared),
            );
            let serve = move || serve_reads(shared_cell, inbox, shared);
            match threads::spawn("strata-reader", threads::Role::Serving, serve) {
                Ok(reader) => readers.push(reader),
                Err(e) => {
                    drop((reads, read_inbox));
                    for reader in readers {
                        let _ = reader.join();
                    }
                    let _ = cell.into_db().close();
                    let e = Error::io("spawn a reader thread", e);
                    return self.out.push(failure(token, &e));
                }
            }
        }
        drop(read_inbox);
        let answers = Answers {
            shared: Arc::clone(&self.shared),
            out: Vec::new(),
        };
        let committer = match Committer::start(commit_inbox, Arc::clone(&cell.db), answers, SPIN) {
            Ok(committer) => committer,
            Err(e) => {
                drop(reads);
                for reader in readers {
                    let _ = reader.join();
                }
                let _ = cell.into_db().close();
                let e = Error::io("spawn the committer thread", e);
                return self.out.push(failure(token, &e));
            }
        };
        self.dbs.insert(
            handle,
            DbSlot {
                db: cell,
                readers,
                committer: Some(committer),
                iters: HashSet::new(),
            },
        );
        self.shared.count_open(true);
        let route = Route {
            handle,
            inbox: self.to_self.clone(),
            reads,
            writes,
            no_sync,
        };
        self.shared.inboxes_mut().insert(self.number, route);
        let mut c = Completion::ok(token, Vec::new());
        c.handle = handle;
        self.out.push(c);
    }

    fn close(&mut self, db: u64, token: u64) {
        let Some(mut slot) = self.dbs.remove(&db) else {
            self.out.push(closed(token));
            return;
        };
        // Nothing more reaches this database; the reads and writes routed before this are
        // answered first (writes the tree still stalls fail as closed, nothing of them
        // written).
        self.shared.inboxes_mut().remove(&self.number);
        for reader in slot.readers.drain(..) {
            let _ = reader.join();
        }
        if let Some(committer) = slot.committer.take() {
            committer.finish();
        }
        // The last database closed: keep no buffers around for reads that may never come.
        self.shared.count_open(false);
        self.buffers = Vec::new();
        for iter in slot.iters.drain() {
            self.iters.remove(&iter);
        }
        // The slot has left the table, so a panic in close must be caught here: otherwise its
        // waiters would never hear back.
        let cell = slot.db;
        let result =
            catch_unwind(AssertUnwindSafe(|| cell.into_db().close())).unwrap_or_else(|p| {
                Err(Error::Internal(format!(
                    "panic in strata: {}",
                    panic_message(&*p)
                )))
            });
        self.out.push(match &result {
            Ok(()) => Completion::ok(token, Vec::new()),
            Err(e) => failure(token, e),
        });
    }

    /// A point read that reached this thread rather than a reader: one naming no open
    /// database (the front thread answers those), or none at all in practice.
    fn get(&mut self, db: u64, snapshot: u64, key: &[u8], token: u64) -> Completion {
        match self.dbs.get(&db) {
            Some(slot) => {
                let cell = Arc::clone(&slot.db);
                cell.get(
                    snapshot,
                    key,
                    token,
                    &mut self.buffers,
                    &self.shared.completions,
                )
            }
            None => closed(token),
        }
    }

    /// The sequence number to read at: the snapshot's, or the latest for 0. `None` when the
    /// snapshot is closed or belongs to another database.
    fn snapshot_seq(&self, db: u64, snapshot: u64) -> Option<u64> {
        if snapshot != 0 && database_handle(snapshot) != db {
            return None;
        }
        self.dbs.get(&db)?.db.snapshot_seq(snapshot)
    }

    fn stats(&mut self, db: u64, token: u64) {
        let Some(slot) = self.dbs.get(&db) else {
            self.out.push(closed(token));
            return;
        };
        let s = slot.db.read().stats();
        let mut level_files = [0u64; 7];
        let mut level_bytes = [0u64; 7];
        for (i, (f, b)) in s.level_files.iter().zip(&s.level_bytes).enumerate().take(7) {
            level_files[i] = *f;
            level_bytes[i] = *b;
        }
        let memory = crate::alloc::counts();
        let stats = strata_stats {
            tls_inits: threads::tls_inits(),
            strata_threads: threads::threads_spawned(),
            rust_live_bytes: memory.live_bytes,
            rust_live_allocations: memory.live_allocations,
            rust_allocations: memory.allocations,
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
            frozen_memtables: s.frozen_memtables,
            flushes: s.flushes,
            compactions: s.compactions,
            flush_bytes: s.flush_bytes,
            compaction_bytes_read: s.compaction_bytes_read,
            compaction_bytes_written: s.compaction_bytes_written,
            compaction_debt: s.compaction_debt,
            cache_hits: s.cache_hits,
            cache_misses: s.cache_misses,
            cache_bytes: s.cache_bytes,
            stalled_writes: slot.committer.as_ref().map_or(0, Committer::held),
            level_files,
            level_bytes,
            mapped_bytes: s.mapped_bytes,
            mapped_resident_bytes: s.mapped_resident_bytes,
        };
        // SAFETY: strata_stats is repr(C) plain u64 fields with no padding; viewing it as bytes
        // reads initialized memory of exactly its size.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&stats as *const strata_stats).cast::<u8>(),
                std::mem::size_of::<strata_stats>(),
            )
        };
        self.out.push(Completion::ok(token, bytes.to_vec()));
    }

    /// Opens an iterator; `first_chunk`, when some, reads a first chunk of up to that many
    /// entries (0: the default) into the completion.
    fn iter_open(
        &mut self,
        db: u64,
        snapshot: u64,
        bounds: Bounds,
        reverse: bool,
        first_chunk: Option<u32>,
        token: u64,
    ) {
        if !self.dbs.contains_key(&db) {
            return self.out.push(closed(token));
        }
        let Some(seq) = self.snapshot_seq(db, snapshot) else {
            return self.out.push(snapshot_closed(token));
        };
        let slot = self.dbs.get_mut(&db).expect("checked above");
        let handle = slot.db.new_handle();
        slot.db.read().retain_snapshot(seq);
        let mut state = IterState::new(db, seq, bounds, reverse, first_chunk.unwrap_or(0));
        let mut c = if first_chunk.is_some() {
            chunk_completion(token, state.next_chunk(&slot.db.read(), &mut self.scratch))
        } else {
            Completion::ok(token, Vec::new())
        };
        if c.code != 0 {
            slot.db.read().release_snapshot(seq);
            return self.out.push(c);
        }
        slot.iters.insert(handle);
        self.iters.insert(handle, state);
        c.handle = handle;
        self.out.push(c);
    }

    /// The next chunk of iterator `iter`; with `behind` (a seek's `STRATA_SEEK_BEHIND`), the
    /// entries behind where it starts in front of it.
    fn iter_next(&mut self, iter: u64, token: u64, behind: bool) {
        let Some(state) = self.iters.get_mut(&iter) else {
            return self.out.push(iter_closed(token));
        };
        let Some(slot) = self.dbs.get(&state.db) else {
            return self.out.push(closed(token));
        };
        let db = slot.db.read();
        let c = if behind {
            match state.next_chunk_with_behind(&db, &mut self.scratch) {
                Ok((data, done, behind_done)) => {
                    let mut c = chunk_completion(token, Ok((data, done)));
                    if behind_done {
                        c.flags |= STRATA_ITER_BEHIND_DONE;
                    }
                    c
                }
                Err(e) => failure(token, &e),
            }
        } else {
            chunk_completion(token, state.next_chunk(&db, &mut self.scratch))
        };
        self.out.push(c);
    }

    /// Reads ahead the next chunk of the iterator that waited longest for it, while its caller
    /// reads the last one: called only when no request waits, so it delays none already
    /// sent (one arriving meanwhile waits for this chunk, as it would behind a request for
    /// it). A panic poisons the database, as one in a request does; the iterator's next
    /// request then reads its chunk itself.
    fn read_ahead(&mut self) {
        let Some(iter) = self.reading_ahead.pop_front() else {
            return;
        };
        let Some(state) = self.iters.get_mut(&iter) else {
            return; // closed meanwhile
        };
        let Some(slot) = self.dbs.get(&state.db) else {
            return;
        };
        let scratch = &mut self.scratch;
        let read = catch_unwind(AssertUnwindSafe(|| {
            strata_engine::failpoint::hit("iter.read_ahead");
            state.read_ahead(&slot.db.read(), scratch)
        }));
        if let Err(payload) = read {
            slot.db
                .write()
                .poison(panicked(&*payload, "reading an iterator's chunk ahead"));
        }
    }

    fn iter_close(&mut self, iter: u64) {
        if let Some(state) = self.iters.remove(&iter) {
            if let Some(slot) = self.dbs.get_mut(&state.db) {
                slot.iters.remove(&iter);
                slot.db.read().release_snapshot(state.seq);
            }
        }
    }

    /// A snapshot open that reached this thread rather than a reader: one naming no open
    /// database (the front thread answers those), or none at all in practice.
    fn snapshot_open(&mut self, db: u64, token: u64) {
        let c = match self.dbs.get(&db) {
            Some(slot) => slot.db.snapshot_open(token),
            None => closed(token),
        };
        self.out.push(c);
    }

    /// Closes a snapshot here, on the database's own thread (not a reader), so a Stats sent
    /// after the close counts it gone.
    fn snapshot_close(&mut self, snapshot: u64) {
        if let Some(slot) = self.dbs.get(&database_handle(snapshot)) {
            slot.db.snapshot_close(snapshot);
        }
    }

    /// A callback that completes `token` from a background thread.
    fn finisher(&self, token: u64) -> Box<dyn FnOnce(strata_engine::Result<()>) + Send> {
        let to_self = self.to_self.clone();
        Box::new(move |result| {
            let c = match result {
                Ok(()) => Completion::ok(token, Vec::new()),
                Err(e) => failure(token, &e),
            };
            let _ = to_self.send(Request::Finished(c));
        })
    }

    fn flush(&mut self, db: u64, token: u64) {
        let done = self.finisher(token);
        match self.dbs.get_mut(&db) {
            Some(slot) => slot.db.write().flush(done),
            None => self.out.push(closed(token)),
        }
    }

    fn compact(&mut self, db: u64, lower: Option<Box<[u8]>>, upper: Option<Box<[u8]>>, token: u64) {
        let done = self.finisher(token);
        match self.dbs.get_mut(&db) {
            Some(slot) => slot
                .db
                .write()
                .compact(lower.as_deref(), upper.as_deref(), done),
            None => self.out.push(closed(token)),
        }
    }

    /// A transaction's commit: resolves its snapshot, retains its versions until the
    /// committer has checked the reads (the caller may close its own snapshot first), and
    /// hands both to the committer; fails at once when the snapshot is closed.
    fn commit(
        &mut self,
        db: u64,
        snapshot: u64,
        batch: Batch,
        keys: Vec<Box<[u8]>>,
        sync: bool,
        token: u64,
    ) {
        let Some(slot) = self.dbs.get(&db) else {
            return self.out.push(closed(token));
        };
        let Some(committer) = slot.committer.as_ref() else {
            return self.out.push(closed(token));
        };
        let seq = match snapshot {
            0 => None,
            _ => self.snapshot_seq(db, snapshot),
        };
        let Some(seq) = seq else {
            return self.out.push(snapshot_closed(token));
        };
        slot.db.read().retain_snapshot(seq);
        let reads = strata_engine::ReadSet {
            seq,
            keys,
            release: true,
        };
        let (batch, reads) =
            match committer
                .sender()
                .write_now(&slot.db.db, batch, sync, Some(reads))
            {
                Ok(result) => return self.out.push(written(token, result)),
                Err((batch, reads)) => (batch, reads.expect("the read set comes back")),
            };
        if committer
            .sender()
            .commit(batch, token, sync, reads)
            .is_err()
        {
            slot.db.read().release_snapshot(seq);
            self.out.push(closed(token));
        }
    }

    /// A write whose caller waits in its call: committed here when the committer has
    /// nothing in hand, else handed to it.
    fn write_here(&mut self, db: u64, batch: Batch, sync: bool, token: u64) {
        let Some(slot) = self.dbs.get(&db) else {
            return self.out.push(closed(token));
        };
        let Some(committer) = slot.committer.as_ref() else {
            return self.out.push(closed(token));
        };
        let batch = match committer.sender().write_now(&slot.db.db, batch, sync, None) {
            Ok(result) => return self.out.push(written(token, result)),
            Err((batch, _)) => batch,
        };
        if committer.sender().write(batch, token, sync).is_err() {
            self.out.push(closed(token));
        }
    }

    fn estimate_disk_usage(
        &mut self,
        db: u64,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        token: u64,
    ) {
        let Some(slot) = self.dbs.get(&db) else {
            return self.out.push(closed(token));
        };
        let estimate = slot
            .db
            .read()
            .estimate_disk_usage(lower.as_deref(), upper.as_deref());
        self.out.push(match estimate {
            Ok(bytes) => Completion::ok(token, bytes.to_le_bytes().to_vec()),
            Err(e) => failure(token, &e),
        });
    }

    fn checkpoint(&mut self, db: u64, path: &Path, token: u64) {
        let Some(slot) = self.dbs.get_mut(&db) else {
            return self.out.push(closed(token));
        };
        // Pending writes are synced and applied by the checkpoint; the committer answers them.
        let result = slot.db.write().checkpoint(path);
        self.out.push(match result {
            Ok(()) => Completion::ok(token, Vec::new()),
            Err(e) => failure(token, &e),
        });
    }

    /// Checks the database in `dir`, completing `token` with the report.
    fn check(&mut self, dir: PathBuf, token: u64) {
        self.offline(
            "check",
            token,
            move || match strata_engine::check::check_dir(&dir) {
                Ok(r) if r.damaged() => Completion::err(token, STRATA_ERR_CORRUPTION, r.text()),
                Ok(r) => Completion::ok(token, r.text().into_bytes()),
                Err(e) => failure(token, &e),
            },
        );
    }

    /// Repairs the database in `dir`, completing `token` with the report.
    fn repair(&mut self, dir: PathBuf, token: u64) {
        self.offline(
            "repair",
            token,
            move || match strata_engine::repair::repair_dir(&dir) {
                Ok(r) => Completion::ok(token, r.text().into_bytes()),
                Err(e) => failure(token, &e),
            },
        );
    }

    /// Runs a tool on a closed database on a strata thread of its own (it reads every file,
    /// which must not hold up the runtime thread); `run` makes the completion.
    fn offline(
        &mut self,
        what: &str,
        token: u64,
        run: impl FnOnce() -> Completion + Send + 'static,
    ) {
        let to_runtime = self.to_self.clone();
        let spawned = threads::spawn(
            &format!("strata-{what}"),
            threads::Role::Background,
            move || {
                let _ = to_runtime.send(Request::Finished(run()));
            },
        );
        if let Err(e) = spawned {
            let e = Error::io(format!("spawn the {what} thread"), e);
            self.out.push(failure(token, &e));
        }
    }
}

/// The completion carrying an iterator chunk (flagged `STRATA_ITER_DONE` when it is the last),
/// or the error that stopped reading it.
fn chunk_completion(token: u64, chunk: strata_engine::Result<(Vec<u8>, bool)>) -> Completion {
    match chunk {
        Ok((chunk, done)) => {
            let mut c = Completion::ok(token, chunk);
            if done {
                c.flags = STRATA_ITER_DONE;
            }
            c
        }
        Err(e) => failure(token, &e),
    }
}

/// Says why a serving thread's work panicked, in the log and as the message a poisoned
/// database gives: `what` names the work.
fn panicked(payload: &(dyn std::any::Any + Send), what: &str) -> String {
    let why = format!("panic in strata: {}", panic_message(payload));
    tracing::error!(reason = %why, work = what, "panicked");
    why
}

fn iter_closed(token: u64) -> Completion {
    Completion::err(token, STRATA_ERR_CLOSED, "strata: iterator is closed")
}

fn snapshot_closed(token: u64) -> Completion {
    Completion::err(
        token,
        STRATA_ERR_CLOSED,
        "strata: snapshot is closed or belongs to another database",
    )
}
