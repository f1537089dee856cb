//! The write pipeline's one owner for a database shared between threads: a committer thread
//! that takes writes as they arrive, prepares them in groups, hands each group to the OS in one
//! write, makes it durable with one fsync (none with `no_sync`) on its own thread, and answers
//! every write once its batch is visible, in arrival order.
//!
//! [`Db::write`] runs the same three steps ([`Db::prepare`], [`Db::write_pending`],
//! [`Db::synced`]) on the calling thread for a database with one owner. The committer serves a
//! database behind a lock that other threads read (and its owner changes) meanwhile: the runtime
//! the Go SDK talks to, and concurrent native writers. Its only contacts with the outside are a
//! channel in ([`CommitSender`]) and [`Replies`] out, so tests drive it exactly as the runtime
//! does.
//!
//! A durable write costs three thread wake-ups on this path (its caller's message waking the
//! committer, the fsync returning, the reply waking the caller): the fsync runs on the thread
//! that prepared the group, so no hand-off to a separate syncer and back sits between a write
//! and its answer. Writes that arrive during an fsync form the next group.
//!
//! A caller that waits for its write anyway, and finds the committer with nothing to do, may
//! skip it: [`CommitSender::write_now`] runs the same steps on the calling thread (one of
//! strata's own, serving that caller), which saves the committer's wake-up and keeps the work
//! on a thread that is already running. Only for writes with no fsync to wait for (`no_sync`,
//! no `sync`): an fsync on the calling thread would hold the database's lock, or leave the
//! committer's group and this one syncing at once.
//!
//! While the tree stalls writes ([`Stall`]), the committer holds them in arrival order: all of
//! them on [`Stall::Stop`] until background work reports progress, one group per [`SLOWDOWN`]
//! on [`Stall::Slow`]. A panic while committing poisons the database: the write being prepared
//! fails with [`Error::Internal`] naming the panic, every other unanswered write with
//! [`Error::Poisoned`], and later writes are refused.

use std::collections::VecDeque;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::error::panic_message;
use crate::{threads, Batch, Db, Error, Result, Stall};

/// A database shared by the threads that serve it: readers take the read lock, its owner and
/// its committer the write lock.
pub type SharedDb = Arc<RwLock<Db>>;

/// How long writes wait between groups while compaction falls behind.
pub const SLOWDOWN: Duration = Duration::from_millis(1);

/// Most writes prepared in one group before it is written and synced.
const MAX_GROUP: usize = 1024;

/// Where a committer's answers go.
pub trait Replies: Send + 'static {
    /// The write sent with `token` is visible (and durable, unless `no_sync`), or failed.
    fn reply(&mut self, token: u64, result: std::result::Result<(), &Error>);
    /// The end of a group: deliver every reply gathered since the last call.
    fn deliver(&mut self);
}

enum Message {
    Write(Queued),
    /// Background work finished: stalled writes may go.
    Progress,
    /// The database is closing: answer everything sent before, then end.
    End,
}

/// A write waiting in the committer.
struct Queued {
    batch: Batch,
    token: u64,
    /// Durable before it is answered, also with `no_sync`.
    sync: bool,
    /// A transaction's reads, validated before its batch is prepared.
    reads: Option<ReadSet>,
}

/// What a transaction read, to validate at commit: `keys` were read at snapshot `seq`. The
/// commit fails with [`Error::Conflict`] when any of them reads differently now (another
/// value, or present where it was absent, or absent where it was present) than at `seq`: a
/// write committed after the snapshot changed what the transaction saw, and committing its
/// writes now could not be placed in any serial order. A write of the same value (or a delete
/// and a re-put of it) changes nothing the transaction saw, and does not conflict.
#[derive(Debug, Clone)]
pub struct ReadSet {
    pub seq: u64,
    pub keys: Vec<Box<[u8]>>,
    /// The sender retained snapshot `seq` ([`Db::retain_snapshot`]) for this commit, and the
    /// committer releases it once the commit is answered, so the versions the check reads stay
    /// however long the commit waits (the transaction's own snapshot may close first).
    pub release: bool,
}

impl ReadSet {
    /// Releases the snapshot retained for this commit, if any.
    fn release(&self, db: &Db) {
        if self.release {
            db.release_snapshot(self.seq);
        }
    }
}

/// The way writes reach a committer. Cheap to clone; every clone feeds the same committer.
#[derive(Clone)]
pub struct CommitSender {
    messages: Sender<Message>,
    /// Writes sent and not yet answered.
    in_flight: Arc<AtomicU64>,
}

impl CommitSender {
    /// Queues `batch` to commit, answered with `token`; with `sync`, only once it is durable,
    /// also in a `no_sync` database (an empty batch with `sync` answers once every write sent
    /// before it is durable). Gives the batch back if the committer has ended.
    pub fn write(&self, batch: Batch, token: u64, sync: bool) -> std::result::Result<(), Batch> {
        self.send(Queued {
            batch,
            token,
            sync,
            reads: None,
        })
    }

    /// Queues a transaction's commit: `batch` is written (as [`CommitSender::write`] writes
    /// it) only if every key of `reads` still reads as it did at the read set's snapshot;
    /// otherwise the answer is [`Error::Conflict`] and nothing is written. The snapshot must
    /// stay pinned until the answer. Gives the batch back if the committer has ended.
    pub fn commit(
        &self,
        batch: Batch,
        token: u64,
        sync: bool,
        reads: ReadSet,
    ) -> std::result::Result<(), Batch> {
        self.send(Queued {
            batch,
            token,
            sync,
            reads: Some(reads),
        })
    }

    /// Commits `batch` (with `reads`, a transaction's, validated first) on the calling thread
    /// when the committer has nothing in hand and no fsync is asked for: `no_sync`, no `sync`,
    /// no write sent to the committer unanswered or prepared, and the tree not stalling
    /// writes. Returns the write's outcome, or gives `batch` and `reads` back for
    /// [`CommitSender::write`] or [`CommitSender::commit`] when it cannot go now. Writes
    /// answered before it are ordered before it; one still in the committer makes it wait its
    /// turn there, so a caller's writes never overtake each other.
    #[allow(clippy::type_complexity)]
    pub fn write_now(
        &self,
        db: &SharedDb,
        batch: Batch,
        sync: bool,
        reads: Option<ReadSet>,
    ) -> std::result::Result<Result<()>, (Batch, Option<ReadSet>)> {
        // The checks that need no lock first: while the committer is busy (many writers), a
        // write goes to it without taking the lock readers share. The count falls only once a
        // write is answered, so a write sent before this check is seen by it.
        if sync || self.in_flight.load(Ordering::Acquire) != 0 {
            return Err((batch, reads));
        }
        let mut db = db.write().unwrap_or_else(|e| e.into_inner());
        if !db.options().no_sync || db.needs_commit() || db.write_stall() != Stall::None {
            return Err((batch, reads));
        }
        if let Some(reads) = reads {
            let valid = validate(&db, &reads);
            reads.release(&db);
            if let Err(e) = valid {
                return Ok(Err(e));
            }
        }
        Ok(db.prepare(batch).and_then(|_| match db.write_pending()? {
            None => Ok(()),
            Some(_) => Err(Error::Internal(
                "a write without fsync left a point to sync".into(),
            )),
        }))
    }

    fn send(&self, queued: Queued) -> std::result::Result<(), Batch> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.messages
            .send(Message::Write(queued))
            .map_err(|e| match e.0 {
                Message::Write(queued) => {
                    self.in_flight.fetch_sub(1, Ordering::AcqRel);
                    queued.batch
                }
                _ => unreachable!("a write was sent"),
            })
    }

    /// The callback for [`Db::open_with`]: wakes the committer when a flush or compaction
    /// finishes, so writes it holds may go.
    pub fn notifier(&self) -> Box<dyn Fn() + Send + Sync> {
        let to = self.messages.clone();
        Box::new(move || {
            let _ = to.send(Message::Progress);
        })
    }
}

/// The receiving end, handed to [`Committer::start`] once the database is open.
pub struct CommitInbox {
    messages: Receiver<Message>,
    sender: CommitSender,
}

/// A committer's channel: make it before opening the database, so the database's progress
/// callback ([`CommitSender::notifier`]) can reach the committer.
pub fn channel() -> (CommitSender, CommitInbox) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let sender = CommitSender {
        messages: tx,
        in_flight: Arc::new(AtomicU64::new(0)),
    };
    let inbox = CommitInbox {
        messages: rx,
        sender: sender.clone(),
    };
    (sender, inbox)
}

/// A running committer thread (`strata-commit`). Dropping it finishes it ([`Committer::finish`]).
pub struct Committer {
    sender: CommitSender,
    held: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts committing writes from `inbox` to `db`, answering through `replies`. The thread
    /// polls its empty inbox for `spin` before it parks (zero: parks at once).
    pub fn start(
        inbox: CommitInbox,
        db: SharedDb,
        replies: impl Replies,
        spin: Duration,
    ) -> io::Result<Committer> {
        let held = Arc::new(AtomicU64::new(0));
        let CommitInbox { messages, sender } = inbox;
        let mut pipeline = Pipeline {
            db,
            messages,
            replies: Counted {
                replies,
                in_flight: Arc::clone(&sender.in_flight),
            },
            spin,
            held: Arc::clone(&held),
            queued: VecDeque::new(),
            waiting: VecDeque::new(),
            next_slow_admit: Instant::now(),
            preparing: None,
            transaction_next: false,
        };
        let thread = threads::spawn("strata-commit", threads::Role::Serving, move || {
            pipeline.run()
        })?;
        Ok(Committer {
            sender,
            held,
            thread: Some(thread),
        })
    }

    /// The way writes reach this committer.
    pub fn sender(&self) -> &CommitSender {
        &self.sender
    }

    /// Writes held back while the tree stalls them, as of the last group.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Ends the committer once every write sent before this call is answered: committed, or
    /// (if the tree still stops writes) failed with [`Error::Closed`], nothing of it written.
    pub fn finish(self) {
        drop(self);
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        let _ = self.sender.messages.send(Message::End);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The committer's replies, each also counted off the senders' writes in flight (every write
/// sent is answered exactly once).
struct Counted<R> {
    replies: R,
    in_flight: Arc<AtomicU64>,
}

impl<R: Replies> Counted<R> {
    fn reply(&mut self, token: u64, result: std::result::Result<(), &Error>) {
        self.replies.reply(token, result);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    fn deliver(&mut self) {
        self.replies.deliver();
    }
}

/// The committer thread's state.
struct Pipeline<R> {
    db: SharedDb,
    messages: Receiver<Message>,
    replies: Counted<R>,
    spin: Duration,
    held: Arc<AtomicU64>,
    /// Writes received and not yet prepared, in arrival order.
    queued: VecDeque<Queued>,
    /// Prepared writes not yet answered: (ticket, token), in ticket order.
    waiting: VecDeque<(u64, u64)>,
    /// While the tree slows writes, the next moment a held group may go.
    next_slow_admit: Instant,
    /// The token whose batch is being prepared: the one a panic there fails as internal.
    preparing: Option<u64>,
    /// The last group stopped before a transaction, to validate it against that group: it
    /// goes next, without waiting for another message.
    transaction_next: bool,
}

impl<R: Replies> Pipeline<R> {
    fn run(&mut self) {
        loop {
            let ending = self.receive();
            self.commit_guarded(ending);
            while std::mem::take(&mut self.transaction_next) {
                self.replies.deliver();
                self.commit_guarded(ending);
            }
            self.held.store(self.queued.len() as u64, Ordering::Relaxed);
            self.replies.deliver();
            if ending {
                for q in std::mem::take(&mut self.queued) {
                    self.release_reads(&q);
                    self.replies.reply(q.token, Err(&Error::Closed));
                }
                self.replies.deliver();
                return;
            }
        }
    }

    /// Takes what arrived into `queued`: waits for the first message (on a clock while writes
    /// are held, so slowed writes go on time), then whatever else is queued, up to a group.
    /// True once the database is closing (or every sender is gone).
    fn receive(&mut self) -> bool {
        let first = if self.queued.is_empty() {
            threads::recv_spinning(&self.messages, self.spin)
        } else {
            match self.messages.recv_timeout(SLOWDOWN) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => None,
            }
        };
        let Some(mut message) = first else {
            return true;
        };
        let mut taken = 0;
        loop {
            match message {
                Message::Write(queued) => self.queued.push_back(queued),
                Message::Progress => {}
                Message::End => return true,
            }
            taken += 1;
            if taken == MAX_GROUP {
                return false;
            }
            match self.messages.try_recv() {
                Ok(m) => message = m,
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    fn commit_guarded(&mut self, ending: bool) {
        // AssertUnwindSafe: after a panic the database is poisoned and every write it held is
        // answered, so nothing half-done is built on.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.commit(ending))) {
            let why = format!("panic in strata: {}", panic_message(&*payload));
            tracing::error!(reason = %why, "commit panicked");
            self.write().poison(why.clone());
            if let Some(token) = self.preparing.take() {
                self.replies
                    .reply(token, Err(&Error::Internal(why.clone())));
            }
            self.fail_all(&Error::Poisoned(why));
        }
    }

    /// One group: prepares what the tree admits, writes it, syncs it, answers it.
    fn commit(&mut self, ending: bool) {
        if !self.admit(ending) {
            // Nothing to write; an empty batch's ticket is visible already.
            return self.acknowledge();
        }
        let written = self.write().write_pending();
        let outcome = match written {
            Ok(Some(point)) => {
                let result = point.sync();
                self.write().synced(&point, result)
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => self.acknowledge(),
            Err(e) => self.fail_all(&e),
        }
    }

    /// Prepares the queued writes the tree admits now, in order. True if there is a group to
    /// write and sync: prepared writes (now or left by an earlier group) or a requested sync.
    fn admit(&mut self, ending: bool) -> bool {
        let mut db = self.db.write().unwrap_or_else(|e| e.into_inner());
        match db.write_stall() {
            Stall::Stop => return db.needs_commit(),
            // Closing: the last writes go now rather than one group per tick.
            Stall::Slow if !ending => {
                let now = Instant::now();
                if now < self.next_slow_admit {
                    return db.needs_commit();
                }
                self.next_slow_admit = now + SLOWDOWN;
            }
            Stall::Slow | Stall::None => {}
        }
        while let Some(front) = self.queued.front() {
            // A transaction is validated against every write before it, so the writes already
            // prepared in this group (not yet in the memtable) commit first.
            if front.reads.is_some() && db.has_pending() {
                self.transaction_next = true;
                break;
            }
            let Queued {
                batch,
                token,
                sync,
                reads,
            } = self.queued.pop_front().expect("front exists");
            self.preparing = Some(token);
            let prepared = match reads {
                Some(reads) => {
                    let valid = validate(&db, &reads);
                    reads.release(&db);
                    valid.and_then(|()| db.prepare(batch))
                }
                None => db.prepare(batch),
            };
            self.preparing = None;
            match prepared {
                Ok(ticket) => {
                    if sync {
                        db.request_sync();
                    }
                    self.waiting.push_back((ticket, token));
                }
                Err(e) => self.replies.reply(token, Err(&e)),
            }
            // A prepare that rotated the memtable may have made the tree stop writes.
            if db.write_stall() == Stall::Stop {
                break;
            }
        }
        db.needs_commit()
    }

    /// Answers every waiting write whose ticket is visible.
    fn acknowledge(&mut self) {
        let visible = self.read().visible_seq();
        while let Some(&(ticket, token)) = self.waiting.front() {
            if ticket > visible {
                break;
            }
            self.waiting.pop_front();
            self.replies.reply(token, Ok(()));
        }
    }

    /// The write path broke (the database is poisoned): answers what became visible before,
    /// and fails every other write, prepared or held.
    fn fail_all(&mut self, err: &Error) {
        self.acknowledge();
        for (_, token) in self.waiting.drain(..) {
            self.replies.reply(token, Err(err));
        }
        for q in std::mem::take(&mut self.queued) {
            self.release_reads(&q);
            self.replies.reply(q.token, Err(err));
        }
    }

    /// Releases the snapshot a queued transaction retained, for a write answered unprepared.
    fn release_reads(&self, queued: &Queued) {
        if let Some(reads) = &queued.reads {
            reads.release(&self.read());
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Db> {
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Checks a transaction's reads against the latest visible state (the caller holds the write
/// lock and has nothing pending, so that is every write acknowledged before).
fn validate(db: &Db, reads: &ReadSet) -> Result<()> {
    let latest = db.visible_seq();
    if latest == reads.seq {
        return Ok(());
    }
    for key in &reads.keys {
        let then = db.get_at(key, reads.seq)?;
        let now = db.get_at(key, latest)?;
        if then != now {
            return Err(Error::Conflict(format!(
                "a write committed after the transaction's snapshot changed the key {:?}, \
                 which it read",
                String::from_utf8_lossy(&key[..key.len().min(64)])
            )));
        }
    }
    Ok(())
}
