//! I/O faults through the simulated file system: EIO and ENOSPC on writes (short writes) and on
//! fsyncs, in the write path and in background flushes and compactions. The error must reach
//! the caller; the database must then refuse writes rather than pretend; reads of acknowledged
//! data keep working; and after a reopen (with or without a power cut) every acknowledged batch
//! is there, the failed one all or nothing.
//!
//! `STRATA_FAULT_SEEDS` (default 300) sets how many faults a run injects;
//! `STRATA_FAULT_SEED=<n>` replays one.

mod common;

use common::{contents, for_each_seed, open_sim as open, Model, Rng};
use strata_engine::sim_fs::{FaultOn, SimFs};
use strata_engine::{Batch, Error};

/// A random batch applied to a copy of `model`.
fn batch(rng: &mut Rng, model: &Model, tag: u64) -> (Batch, Model) {
    let mut b = Batch::new();
    let mut staged = model.clone();
    for _ in 0..1 + rng.below(6) {
        let k = format!("k{:04}", rng.below(500)).into_bytes();
        if rng.below(5) == 0 {
            b.delete(&k).unwrap();
            staged.remove(&k);
        } else {
            let v = format!("t{tag}-{}", "v".repeat(rng.below(200) as usize)).into_bytes();
            b.put(&k, &v).unwrap();
            staged.insert(k, v);
        }
    }
    (b, staged)
}

fn run(seed: u64) {
    let mut rng = Rng::new(seed);
    let fs = SimFs::new(seed);
    let mut db = open(&fs).unwrap();
    let mut acked = Model::new();
    for step in 0..rng.below(60) {
        let (b, staged) = batch(&mut rng, &acked, step);
        db.write(b).unwrap();
        acked = staged;
    }
    let on = [FaultOn::Writes, FaultOn::Syncs, FaultOn::Any][rng.below(3) as usize];
    let errno = [libc::EIO, libc::ENOSPC][rng.below(2) as usize];
    let times = if rng.below(2) == 0 { 1 } else { u32::MAX };
    fs.fail_after(rng.below(300), on, errno, times);

    let mut in_flight: Option<Model> = None;
    for step in 0..3000u64 {
        if rng.below(15) == 0 {
            if db.flush_and_wait().is_err() {
                break;
            }
            continue;
        }
        let (b, staged) = batch(&mut rng, &acked, 1000 + step);
        match db.write(b) {
            Ok(()) => acked = staged,
            Err(e) => {
                assert!(
                    matches!(e, Error::Io { .. } | Error::Poisoned(_)),
                    "seed {seed}: a fault surfaced as {e:?}"
                );
                in_flight = Some(staged);
                break;
            }
        }
    }
    if fs.faults_pending() == if times == 1 { 1 } else { u32::MAX } {
        // The fault never fired (the plan started past the work done): nothing to check.
        return;
    }
    // A fault in a background flush or compaction surfaces asynchronously: let flushes finish
    // so a flush failure is recorded before looking.
    let foreground = in_flight.is_some();
    let _ = db.flush_and_wait();
    if foreground || db.poisoned().is_some() {
        // After a failure the database refuses writes; it never pretends.
        let (b, _) = batch(&mut rng, &acked, 9999);
        let refused = db.write(b);
        assert!(
            matches!(refused, Err(Error::Poisoned(_))),
            "seed {seed}: a write after the failure returned {refused:?}"
        );
    }
    // Reads of acknowledged data still work.
    if let Some((k, v)) = acked.iter().next() {
        assert_eq!(
            db.get(k).unwrap().as_ref(),
            Some(v),
            "seed {seed}: read after the failure"
        );
    }
    drop(db);
    fs.fail_after(0, FaultOn::Any, 0, 0);
    let cut = rng.below(2) == 0;
    if cut {
        fs.restart(); // and a power cut on top
    }
    if std::env::var("STRATA_FAULT_TRACE").is_ok() {
        eprintln!("seed {seed}: fault on {on:?}, errno {errno}, times {times}, foreground {foreground}, power cut {cut}");
    }
    let db =
        open(&fs).unwrap_or_else(|e| panic!("seed {seed}: reopen after the fault failed: {e}"));
    let found = contents(&db);
    let whole = in_flight.is_some_and(|staged| found == staged);
    assert!(
        whole || found == acked,
        "seed {seed}: after reopen {} keys, {} acknowledged",
        found.len(),
        acked.len()
    );
}

#[test]
fn io_faults_are_reported_and_lose_nothing_acknowledged() {
    for_each_seed("STRATA_FAULT_SEED", "STRATA_FAULT_SEEDS", 300, run);
}
