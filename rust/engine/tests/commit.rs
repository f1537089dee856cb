//! The committer: the write path the Go SDK's writes take (rust/ffi's runtime hands every
//! write to one), driven here through the simulated file system as the runtime drives it:
//! writes sent from several threads, answers through [`Replies`].
//!
//! What must hold: every write is answered exactly once, in arrival order; writes queued
//! while a group is committed share its fsync; after a power cut every acknowledged write is
//! there and no write is there in part; an fsync failure fails the writes it covered and
//! poisons the database; closing answers every write sent before.
//!
//! `STRATA_COMMIT_SEEDS` (default 40) sets how many crash runs; `STRATA_COMMIT_SEED=<n>`
//! replays one.

mod common;

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::{contents, for_each_seed, open_sim, Model, Rng};
use crossbeam_channel::{Receiver, Sender};
use strata_engine::commit::{self, Committer, Replies, SharedDb};
use strata_engine::sim_fs::{FaultOn, SimFs};
use strata_engine::{Batch, Error, ErrorCode, Options};

/// Replies as (token, error code), one message per answer; `deliver` counts groups.
struct Collect {
    answers: Sender<(u64, ErrorCode)>,
    groups: Sender<()>,
}

impl Replies for Collect {
    fn reply(&mut self, token: u64, result: Result<(), &Error>) {
        let code = result.map_or_else(Error::code, |()| ErrorCode::Ok);
        let _ = self.answers.send((token, code));
    }
    fn deliver(&mut self) {
        let _ = self.groups.send(());
    }
}

struct Running {
    db: SharedDb,
    sender: commit::CommitSender,
    committer: Committer,
    answers: Receiver<(u64, ErrorCode)>,
}

fn start(fs: &SimFs, queue_first: Vec<(Batch, u64)>) -> Running {
    start_on(
        Arc::new(RwLock::new(open_sim(fs).expect("open"))),
        queue_first,
    )
}

/// Starts a committer on `db` with `queue_first` already in its inbox.
fn start_on(db: SharedDb, queue_first: Vec<(Batch, u64)>) -> Running {
    let (sender, inbox) = commit::channel();
    for (batch, token) in queue_first {
        assert!(sender.write(batch, token, false).is_ok());
    }
    let (answers_tx, answers) = crossbeam_channel::unbounded();
    let (groups, _) = crossbeam_channel::unbounded();
    let replies = Collect {
        answers: answers_tx,
        groups,
    };
    let committer =
        Committer::start(inbox, Arc::clone(&db), replies, Duration::ZERO).expect("start");
    Running {
        db,
        sender,
        committer,
        answers,
    }
}

fn put(key: &str, value: &str) -> Batch {
    let mut b = Batch::new();
    b.put(key.as_bytes(), value.as_bytes()).unwrap();
    b
}

#[test]
fn writes_queued_together_share_one_fsync_and_are_answered_in_order() {
    let fs = SimFs::new(1);
    let queued = (0..100)
        .map(|i| (put(&format!("k{i:03}"), "v"), i))
        .collect();
    let db: SharedDb = Arc::new(RwLock::new(open_sim(&fs).expect("open")));
    let syncs_before = db.read().unwrap().stats().wal_syncs;
    let run = start_on(db, queued);
    run.committer.finish();
    let answers: Vec<_> = run.answers.try_iter().collect();
    let expected: Vec<_> = (0..100).map(|i| (i, ErrorCode::Ok)).collect();
    assert_eq!(answers, expected);
    let db = run.db.read().unwrap();
    assert_eq!(
        db.stats().wal_syncs - syncs_before,
        1,
        "one group, one fsync"
    );
    assert_eq!(contents(&db).len(), 100);
}

#[test]
fn concurrent_writers_each_get_every_answer_in_their_own_order() {
    let fs = SimFs::new(2);
    let run = start(&fs, Vec::new());
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let sender = run.sender.clone();
            std::thread::spawn(move || {
                for i in 0..200u64 {
                    let token = w << 32 | i;
                    assert!(sender
                        .write(put(&format!("w{w}-{i:03}"), "v"), token, false)
                        .is_ok());
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    run.committer.finish();
    let mut next = [0u64; 4];
    for (token, code) in run.answers.try_iter() {
        assert_eq!(code, ErrorCode::Ok);
        let (w, i) = ((token >> 32) as usize, token & 0xffff_ffff);
        assert_eq!(i, next[w], "writer {w}'s answers out of order");
        next[w] += 1;
    }
    assert_eq!(next, [200; 4], "every write answered once");
    assert_eq!(contents(&run.db.read().unwrap()).len(), 800);
}

#[test]
fn a_failed_fsync_fails_its_writes_and_poisons_the_database() {
    let fs = SimFs::new(3);
    let run = start(&fs, Vec::new());
    assert!(run.sender.write(put("before", "v"), 1, false).is_ok());
    assert_eq!(run.answers.recv().unwrap(), (1, ErrorCode::Ok));
    fs.fail_after(0, FaultOn::Syncs, libc::EIO, 1);
    assert!(run.sender.write(put("during", "v"), 2, false).is_ok());
    assert_eq!(run.answers.recv().unwrap(), (2, ErrorCode::Io));
    assert!(run.sender.write(put("after", "v"), 3, false).is_ok());
    assert_eq!(run.answers.recv().unwrap(), (3, ErrorCode::Poisoned));
    run.committer.finish();
    drop(run.sender);
    let db = Arc::into_inner(run.db).unwrap().into_inner().unwrap();
    drop(db);
    fs.restart();
    let db = open_sim(&fs).expect("reopen");
    let got = contents(&db);
    assert!(got.contains_key(&b"before"[..]));
    assert!(!got.contains_key(&b"after"[..]));
}

/// Writers through the committer until the power is cut at a random point; after a restart
/// every acknowledged write is there, and every write is all there or not at all.
#[test]
fn after_a_power_cut_every_acknowledged_write_is_there() {
    for_each_seed(
        "STRATA_COMMIT_SEED",
        "STRATA_COMMIT_SEEDS",
        40,
        power_cut_run,
    );
}

/// The same with `no_sync`: a third of the writes ask to be durable, some of them empty (a
/// barrier, as `DB.Sync`); each such write, once answered, vouches for every write before it.
/// In both runs a quarter of the writes are transactions' commits.
#[test]
fn after_a_power_cut_every_write_answered_as_durable_is_there_also_with_no_sync() {
    for_each_seed(
        "STRATA_COMMIT_SEED",
        "STRATA_COMMIT_SEEDS",
        40,
        power_cut_run_no_sync,
    );
}

fn power_cut_run(seed: u64) {
    power_cut_run_with(seed, false);
}

fn power_cut_run_no_sync(seed: u64) {
    power_cut_run_with(seed, true);
}

fn power_cut_run_with(seed: u64, no_sync: bool) {
    let mut rng = Rng::new(seed);
    let fs = SimFs::new(seed);
    let opts = Options {
        no_sync,
        ..common::sim_options()
    };
    let db = common::open_sim_with(&fs, Path::new("/db"), opts);
    let run = start_on(Arc::new(RwLock::new(db.expect("open"))), Vec::new());
    fs.cut_power_after(rng.below(2000));
    // Every write sent, as its puts, in order; the answers acknowledge a prefix of them.
    let mut sent: Vec<Vec<(Vec<u8>, Vec<u8>)>> = Vec::new();
    // Whether each write sent asked to be durable (all of them without `no_sync`).
    let mut durable: Vec<bool> = Vec::new();
    let (mut answered, mut acked) = (0usize, 0usize);
    loop {
        for _ in 0..1 + rng.below(8) {
            let tag = sent.len();
            let sync = !no_sync || rng.below(3) == 0;
            let empty = no_sync && sync && rng.below(4) == 0;
            let puts: Vec<_> = (0..if empty { 0 } else { 1 + rng.below(3) })
                .map(|_| {
                    let k = format!("k{:03}", rng.below(300)).into_bytes();
                    let v = format!("{tag}-{}", "v".repeat(rng.below(300) as usize)).into_bytes();
                    (k, v)
                })
                .collect();
            let mut b = Batch::new();
            for (k, v) in &puts {
                b.put(k, v).unwrap();
            }
            // A quarter go as transactions' commits, whose reads (keys never written) stay
            // unchanged, so they commit: through validation, whole or not at all.
            if rng.below(4) == 0 {
                let keys = reads(0, &["never-a", "never-b"]);
                assert!(run.sender.commit(b, tag as u64, sync, keys).is_ok());
            } else {
                assert!(run.sender.write(b, tag as u64, sync).is_ok());
            }
            sent.push(puts);
            durable.push(sync);
        }
        let mut failed = false;
        while let Ok((token, code)) = run.answers.recv_timeout(Duration::from_secs(10)) {
            match code {
                ErrorCode::Ok if !failed => {
                    assert_eq!(
                        token as usize, answered,
                        "seed {seed}: answered out of order"
                    );
                    answered += 1;
                    // Answered as durable before the cut: its fsync came first, so it and
                    // every write before it must survive. One answered after may have been
                    // synced to a disk already without power.
                    if !fs.power_was_cut() && durable[token as usize] {
                        acked = answered;
                    }
                }
                ErrorCode::Ok => panic!("seed {seed}: write {token} succeeded after a failure"),
                _ => failed = true,
            }
            if token as usize + 1 == sent.len() {
                break;
            }
        }
        if failed || fs.power_was_cut() || sent.len() > 3000 {
            break;
        }
    }
    run.committer.finish();
    drop(run.sender);
    drop(Arc::into_inner(run.db).unwrap().into_inner().unwrap());
    fs.restart();
    let db = open_sim(&fs).expect("reopen after the cut");
    let got = contents(&db);
    // The recovered state is that of some prefix of the writes sent, no shorter than the
    // acknowledged one: nothing acknowledged lost, no write there in part.
    let mut state = Model::new();
    for (n, puts) in std::iter::once(&Vec::new()).chain(&sent).enumerate() {
        for (k, v) in puts {
            state.insert(k.clone(), v.clone());
        }
        if n >= acked && state == got {
            return;
        }
    }
    panic!(
        "seed {seed}: recovered state ({} keys) is no prefix of the {} writes sent at or past \
         the {acked} acknowledged",
        got.len(),
        sent.len()
    );
}

#[test]
fn an_empty_batch_is_answered_without_a_write() {
    let fs = SimFs::new(4);
    let run = start(&fs, Vec::new());
    assert!(run.sender.write(Batch::new(), 7, false).is_ok());
    assert_eq!(
        run.answers.recv_timeout(Duration::from_secs(10)),
        Ok((7, ErrorCode::Ok))
    );
    run.committer.finish();
}

fn reads(seq: u64, keys: &[&str]) -> commit::ReadSet {
    commit::ReadSet {
        seq,
        keys: keys.iter().map(|k| Box::from(k.as_bytes())).collect(),
        release: false,
    }
}

/// A transaction whose read key changed after its snapshot fails with a conflict and writes
/// nothing, also when the change is the write just before it in the same group (queued
/// together: the committer must commit that write before validating); one whose reads did not
/// change (or were rewritten with the same value) commits.
#[test]
fn transactions_conflict_exactly_when_what_they_read_changed() {
    let fs = SimFs::new(5);
    let db: SharedDb = Arc::new(RwLock::new(open_sim(&fs).expect("open")));
    let run = start_on(Arc::clone(&db), Vec::new());
    let answer = || run.answers.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(run.sender.write(put("k", "1"), 1, false).is_ok());
    assert!(run.sender.write(put("same", "s"), 2, false).is_ok());
    assert_eq!(
        (answer(), answer()),
        ((1, ErrorCode::Ok), (2, ErrorCode::Ok))
    );
    let snap = db.read().unwrap().acquire_snapshot();

    // Changed after the snapshot, in an earlier group.
    assert!(run.sender.write(put("k", "2"), 3, false).is_ok());
    assert_eq!(answer(), (3, ErrorCode::Ok));
    let commit = |token: u64, keys: &[&str]| {
        assert!(run
            .sender
            .commit(
                put("out", &token.to_string()),
                token,
                false,
                reads(snap, keys)
            )
            .is_ok());
    };
    commit(4, &["k"]);
    assert_eq!(answer(), (4, ErrorCode::Conflict));
    // Unchanged, absent then and now, or rewritten with the same value: no conflict.
    assert!(run.sender.write(put("same", "s"), 5, false).is_ok());
    assert_eq!(answer(), (5, ErrorCode::Ok));
    commit(6, &["same", "never-written"]);
    assert_eq!(answer(), (6, ErrorCode::Ok));

    // Changed by the write queued just before it, in the same group.
    let (sender, inbox) = commit::channel();
    drop(run);
    let snap2 = db.read().unwrap().acquire_snapshot();
    assert!(sender.write(put("j", "x"), 7, false).is_ok());
    assert!(sender
        .commit(put("out", "8"), 8, false, reads(snap2, &["j"]))
        .is_ok());
    let (answers_tx, answers) = crossbeam_channel::unbounded();
    let (groups, _) = crossbeam_channel::unbounded();
    let committer = Committer::start(
        inbox,
        Arc::clone(&db),
        Collect {
            answers: answers_tx,
            groups,
        },
        Duration::ZERO,
    )
    .expect("start");
    committer.finish();
    let got: Vec<_> = answers.try_iter().collect();
    assert_eq!(got, vec![(7, ErrorCode::Ok), (8, ErrorCode::Conflict)]);
    let db = db.read().unwrap();
    assert_eq!(db.get(b"out").unwrap(), Some(b"6".to_vec()), "only 6 wrote");
}

/// Replies that each wait for a release first: a write the committer answers stays in flight
/// until the test lets the answer through.
struct Gated {
    gate: Receiver<()>,
    answers: Sender<(u64, ErrorCode)>,
}

impl Replies for Gated {
    fn reply(&mut self, token: u64, result: Result<(), &Error>) {
        let _ = self.gate.recv();
        let code = result.map_or_else(Error::code, |()| ErrorCode::Ok);
        let _ = self.answers.send((token, code));
    }
    fn deliver(&mut self) {}
}

/// A write goes on the calling thread (`write_now`) only when that cannot reorder it against
/// the committer's: `no_sync`, no fsync asked for, nothing sent to the committer unanswered.
/// Otherwise the batch comes back for the committer. A transaction's reads are checked there
/// as the committer checks them.
#[test]
fn writes_commit_on_the_calling_thread_only_when_the_committer_has_nothing_in_hand() {
    let fs = SimFs::new(6);
    let opts = Options {
        no_sync: true,
        ..common::sim_options()
    };
    let db = common::open_sim_with(&fs, Path::new("/db"), opts);
    let db: SharedDb = Arc::new(RwLock::new(db.expect("open")));
    let (sender, inbox) = commit::channel();
    let (release, gate) = crossbeam_channel::unbounded();
    let (answers_tx, answers) = crossbeam_channel::unbounded();
    let replies = Gated {
        gate,
        answers: answers_tx,
    };
    let committer =
        Committer::start(inbox, Arc::clone(&db), replies, Duration::ZERO).expect("start");
    // Bound after the committer, so dropped before it: a failing assertion opens the gate
    // and the committer can end, instead of hanging the test.
    let release = release;
    let get = |key: &str| db.read().unwrap().get(key.as_bytes()).unwrap();

    // Nothing in hand: written here, visible on return.
    assert!(matches!(
        sender.write_now(&db, put("a", "1"), false, None),
        Ok(Ok(()))
    ));
    assert_eq!(get("a"), Some(b"1".to_vec()));
    // Asked to be durable: the committer's to fsync.
    assert!(matches!(
        sender.write_now(&db, put("b", "1"), true, None),
        Err((_, None))
    ));
    // A write sent to the committer and not answered holds back the writes after it.
    assert!(sender.write(put("c", "1"), 1, false).is_ok());
    let Err((batch, None)) = sender.write_now(&db, put("c", "2"), false, None) else {
        panic!("a write went ahead of one still in the committer");
    };
    release.send(()).unwrap();
    assert_eq!(
        answers.recv_timeout(Duration::from_secs(10)),
        Ok((1, ErrorCode::Ok))
    );
    // The committer counts a write off just after answering it: until then the next write
    // still goes to the committer (a slower path, never a reordering), so poll for the count.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut batch = batch;
    loop {
        match sender.write_now(&db, batch, false, None) {
            Ok(Ok(())) => break,
            Err((refused, None)) if std::time::Instant::now() < deadline => {
                batch = refused;
                std::thread::yield_now();
            }
            _ => panic!("a write was refused long after the committer answered the one before"),
        }
    }
    assert_eq!(get("c"), Some(b"2".to_vec()));

    // A transaction whose read changed since its snapshot conflicts and writes nothing; one
    // whose reads held commits.
    let snap = db.read().unwrap().acquire_snapshot();
    assert!(matches!(
        sender.write_now(&db, put("k", "1"), false, None),
        Ok(Ok(()))
    ));
    match sender.write_now(&db, put("out", "x"), false, Some(reads(snap, &["k"]))) {
        Ok(Err(e)) => assert_eq!(e.code(), ErrorCode::Conflict),
        other => panic!("a changed read committed: {:?}", other.map_err(|_| ())),
    }
    assert_eq!(get("out"), None);
    let held = sender.write_now(&db, put("out", "y"), false, Some(reads(snap, &["a"])));
    assert!(matches!(held, Ok(Ok(()))));
    assert_eq!(get("out"), Some(b"y".to_vec()));
    db.read().unwrap().release_snapshot(snap);
    committer.finish();

    // A database that syncs every write: always the committer's.
    let durable = SimFs::new(7);
    let run = start(&durable, Vec::new());
    assert!(matches!(
        run.sender.write_now(&run.db, put("d", "1"), false, None),
        Err((_, None))
    ));
    run.committer.finish();
}
