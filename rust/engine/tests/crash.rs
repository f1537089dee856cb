//! Power-loss tests through the simulated file system: at a random moment everything not yet
//! fsynced is lost (directory entries included, with torn tails of unsynced appends), then
//! recovery must hold every batch acknowledged before the cut, all or nothing for the batch in
//! flight, and nothing else.
//!
//! A second test cuts the power during [`Db::checkpoint`](strata_engine::Db::checkpoint): the
//! source must lose nothing acknowledged, and the checkpoint must be absent, refused with a
//! clear error, or a complete copy of the source as it was when the checkpoint was taken.
//!
//! `STRATA_CRASH_SEEDS` (default 300) sets how many power cuts a run tries;
//! `STRATA_CRASH_SEED=<n>` replays one. `STRATA_CHECKPOINT_SEEDS` (default 50) and
//! `STRATA_CHECKPOINT_SEED=<n>` do the same for the checkpoint test.

mod common;

use std::path::Path;

use common::{contents, for_each_seed, open_sim as open, open_sim_at, Model, Rng};
use strata_engine::check::check_with;
use strata_engine::fs::FileSystem;
use strata_engine::sim_fs::SimFs;
use strata_engine::{Batch, Error};

/// A random batch of puts, deletes and range deletes over `k0000`..`k0599`, and `model` with
/// it applied.
fn random_batch(rng: &mut Rng, model: &Model, tag: &str) -> (Batch, Model) {
    let mut b = Batch::new();
    let mut staged = model.clone();
    for _ in 0..1 + rng.below(8) {
        let k = format!("k{:04}", rng.below(600)).into_bytes();
        if rng.below(25) == 0 {
            let end = format!("k{:04}", rng.below(600)).into_bytes();
            let (start, end) = if k <= end { (k, end) } else { (end, k) };
            b.delete_range(&start, &end).unwrap();
            staged.retain(|key, _| !(key >= &start && key < &end));
        } else if rng.below(5) == 0 {
            b.delete(&k).unwrap();
            staged.remove(&k);
        } else {
            let v = format!("{tag}-{}", "v".repeat(rng.below(300) as usize)).into_bytes();
            b.put(&k, &v).unwrap();
            staged.insert(k, v);
        }
    }
    (b, staged)
}

fn run(seed: u64) {
    let mut rng = Rng::new(seed);
    let fs = SimFs::new(seed);
    let mut acked = Model::new();
    // A few lives per seed: crash, recover, verify, write on.
    for life in 0..3 {
        let mut db =
            open(&fs).unwrap_or_else(|e| panic!("seed {seed} life {life}: reopen failed: {e}"));
        let found = contents(&db);
        let mut in_flight: Option<Model> = None;
        assert!(found == acked, "seed {seed} life {life}: recovered state differs from the acknowledged one ({} vs {} keys)", found.len(), acked.len());
        fs.cut_power_after(1 + rng.below(400));
        let mut step = 0u64;
        while !fs.power_was_cut() && step < 5000 {
            step += 1;
            match rng.below(20) {
                0 => db.flush_and_wait().unwrap(),
                1 => db.compact_and_wait(None, None).unwrap(),
                _ => {
                    let (b, staged) =
                        random_batch(&mut rng, &acked, &format!("s{seed}l{life}s{step}"));
                    db.write(b).unwrap();
                    if fs.power_was_cut() {
                        // Acknowledged after the cut: it may survive or not, but whole.
                        in_flight = Some(staged);
                    } else {
                        acked = staged;
                    }
                }
            }
        }
        drop(db);
        fs.restart();
        if let Some(staged) = in_flight {
            let db =
                open(&fs).unwrap_or_else(|e| panic!("seed {seed} life {life}: reopen failed: {e}"));
            let found = contents(&db);
            if found == staged {
                acked = staged;
            } else {
                assert!(found == acked, "seed {seed} life {life}: the batch in flight at the cut is partial, or older data is missing ({} vs {} keys)", found.len(), acked.len());
            }
        }
    }
}

#[test]
fn acknowledged_writes_survive_power_loss() {
    for_each_seed("STRATA_CRASH_SEED", "STRATA_CRASH_SEEDS", 300, run);
}

/// What a checkpoint directory held after the power came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckpointOutcome {
    /// Nothing of the checkpoint reached the disk: not a database.
    Absent,
    /// Files but no manifest: check and open refuse it as corrupt.
    Refused,
    /// A complete database equal to the source when the checkpoint was taken.
    Complete,
}

/// Judges the checkpoint in `dir` against `expected`, the source's contents when it was taken.
fn judge_checkpoint(fs: &SimFs, dir: &Path, expected: &Model, what: &str) -> CheckpointOutcome {
    let Ok(names) = fs.list(dir) else {
        return CheckpointOutcome::Absent; // cut before the directory was created
    };
    let has_manifest = names.iter().any(|n| n == "MANIFEST");
    let has_wal = names.iter().any(|n| n.ends_with(".wal"));
    // Check first: open creates files.
    let checked = check_with(fs, dir);
    let opened = open_sim_at(fs, dir).map(|db| contents(&db));
    match (checked, opened) {
        (Ok(report), Ok(found)) if !report.damaged() => {
            assert!(
                has_manifest || has_wal,
                "{what}: check passed a directory holding {names:?}"
            );
            assert!(
                found == *expected,
                "{what}: the checkpoint opens with {} keys, the source had {} ({names:?})",
                found.len(),
                expected.len()
            );
            CheckpointOutcome::Complete
        }
        (Err(Error::InvalidArgument(_)), Ok(found)) => {
            assert!(
                !has_manifest && !has_wal && found.is_empty(),
                "{what}: check says no database, open found {} keys in {names:?}",
                found.len()
            );
            CheckpointOutcome::Absent
        }
        (Ok(report), Err(Error::Corruption { file, .. })) if report.damaged() => {
            assert!(
                !has_manifest,
                "{what}: a checkpoint with a manifest is refused ({} in {names:?})",
                file.display()
            );
            CheckpointOutcome::Refused
        }
        (checked, opened) => panic!(
            "{what}: the checkpoint holding {names:?} is neither absent, refused nor complete: check {:?}, open {:?}",
            checked.map(|r| r.text()),
            opened.map(|m| m.len())
        ),
    }
}

fn run_checkpoint(seed: u64) -> CheckpointOutcome {
    let mut rng = Rng::new(seed);
    let fs = SimFs::new(seed);
    let target = Path::new("/checkpoint");
    let mut db = open(&fs).unwrap();
    let mut acked = Model::new();
    // Tables on several levels, a frozen memtable or not, an active one: what the checkpoint
    // copies varies with the seed.
    for step in 0..rng.below(300) {
        match rng.below(25) {
            0 => db.flush_and_wait().unwrap(),
            1 => db.compact_and_wait(None, None).unwrap(),
            _ => {
                let (b, staged) = random_batch(&mut rng, &acked, &format!("s{seed}b{step}"));
                db.write(b).unwrap();
                acked = staged;
            }
        }
    }
    let at_checkpoint = acked.clone();
    // A checkpoint (a flush, then a link per table and the manifest) takes a few dozen file
    // operations; some cuts land after it, while the source writes on.
    fs.cut_power_after(1 + rng.below(60));
    db.checkpoint(target)
        .unwrap_or_else(|e| panic!("seed {seed}: checkpoint failed: {e}"));
    let mut in_flight: Option<Model> = None;
    let mut step = 0u64;
    while !fs.power_was_cut() && step < 200 {
        step += 1;
        let (b, staged) = random_batch(&mut rng, &acked, &format!("s{seed}a{step}"));
        db.write(b).unwrap();
        if fs.power_was_cut() {
            in_flight = Some(staged);
        } else {
            acked = staged;
        }
    }
    drop(db);
    fs.restart();

    let db = open(&fs).unwrap_or_else(|e| panic!("seed {seed}: reopening the source failed: {e}"));
    let found = contents(&db);
    assert!(
        found == acked || in_flight.is_some_and(|staged| found == staged),
        "seed {seed}: the source lost acknowledged data across a cut during a checkpoint ({} vs {} keys)",
        found.len(),
        acked.len()
    );
    drop(db);
    // What the checkpoint wrote, before opening it adds files.
    let written = fs.list(target).unwrap_or_default();
    let outcome = judge_checkpoint(&fs, target, &at_checkpoint, &format!("seed {seed}"));
    if outcome == CheckpointOutcome::Complete {
        judge_partial_checkpoints(&fs, target, &written, &at_checkpoint, seed);
    }
    outcome
}

/// A real file system may make some directory entries durable before the directory is
/// fsynced (the simulated one never does). The checkpoint creates its files in order (tables,
/// any WAL segments, the manifest last), so after a power cut any prefix of them may be there:
/// each must be absent, refused or complete too. (Checkpoints that copied WAL segments failed
/// here: the tables and segments without the manifest opened as a wrong database.)
fn judge_partial_checkpoints(
    fs: &SimFs,
    complete: &Path,
    written: &[String],
    expected: &Model,
    seed: u64,
) {
    let state = strata_engine::manifest::read(fs, complete)
        .unwrap()
        .expect("a complete checkpoint has a manifest");
    let mut order: Vec<String> = state
        .levels
        .iter()
        .flatten()
        .map(|f| strata_engine::manifest::table_name(f.number))
        .collect();
    let mut segments: Vec<u64> = written
        .iter()
        .filter_map(|n| strata_engine::wal::parse_segment_name(n))
        .filter(|&n| n >= state.log_number)
        .collect();
    segments.sort_unstable();
    order.extend(segments.into_iter().map(strata_engine::wal::segment_name));
    for kept in 0..=order.len() {
        let dir = Path::new("/partial").join(kept.to_string());
        fs.create_dir_all(&dir).unwrap();
        for name in &order[..kept] {
            let data = fs.read_all(&complete.join(name)).unwrap();
            let f = fs.create(&dir.join(name)).unwrap();
            f.append(&data).unwrap();
            f.sync_data().unwrap();
        }
        judge_checkpoint(
            fs,
            &dir,
            expected,
            &format!("seed {seed}, first {kept} of {order:?}"),
        );
    }
}

#[test]
fn power_loss_during_checkpoint_leaves_it_absent_refused_or_complete() {
    let outcomes = std::sync::Mutex::new(Vec::new());
    for_each_seed(
        "STRATA_CHECKPOINT_SEED",
        "STRATA_CHECKPOINT_SEEDS",
        50,
        |seed| outcomes.lock().unwrap().push(run_checkpoint(seed)),
    );
    let outcomes = outcomes.into_inner().unwrap();
    let count = |o| outcomes.iter().filter(|&&x| x == o).count();
    eprintln!(
        "checkpoint power cuts: {} absent, {} refused, {} complete",
        count(CheckpointOutcome::Absent),
        count(CheckpointOutcome::Refused),
        count(CheckpointOutcome::Complete)
    );
}
