//! The model test: random sequences of writes (range deletes among them), reads, snapshots,
//! iterations, flushes, compactions and reopens, checked step by step against a `BTreeMap`.
//!
//! Options are shrunk so a few thousand operations go through many memtable rotations, flushes
//! and compactions. Each seed is independent; a failure names its seed, and
//! `STRATA_MODEL_SEED=<n>` replays only that one. `STRATA_MODEL_SEEDS` (default 12) and
//! `STRATA_MODEL_OPS` (default 1500) size the run; CI uses the defaults, a soak raises them.

use std::path::PathBuf;

mod common;

use common::{for_each_seed, scan, Model, Rng};
use strata_engine::{Batch, Compression, Db, Options};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Small budgets, so a few thousand operations flush and compact often. The seed picks how
/// tables are read: the values here compress well, so odd seeds store blocks uncompressed (read
/// in place from mapped tables), and seeds 2 mod 4 read every block with pread.
fn small_options(seed: u64) -> Options {
    Options {
        compression: match seed % 2 {
            1 => Compression::None,
            _ => Compression::Lz4,
        },
        map_tables: seed % 4 != 2,
        no_sync: true,
        memtable_budget: 128 << 10, // 64 KiB write buffer
        block_cache_bytes: 256 << 10,
        max_open_files: 16,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 8,
        l0_stop_trigger: 12,
        l1_target_bytes: 128 << 10,
        level_size_ratio: 4,
        target_file_size: 32 << 10,
        ..Options::default()
    }
}

fn key(rng: &mut Rng) -> Vec<u8> {
    // A skewed key space: many overwrites of a few keys, a long tail of others.
    let n = if rng.below(4) == 0 {
        rng.below(16)
    } else {
        rng.below(3000)
    };
    format!("key{n:05}").into_bytes()
}

/// A range to delete: mostly short (nothing, one key, a few), sometimes wide.
fn range(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let from = rng.below(3000);
    let span = [0, 1, 3, 12, 40, 400][rng.below(6) as usize];
    (
        format!("key{from:05}").into_bytes(),
        format!("key{:05}", from + span).into_bytes(),
    )
}

fn delete_range(m: &mut Model, start: &[u8], end: &[u8]) {
    m.retain(|k, _| !(&k[..] >= start && &k[..] < end));
}

fn value(rng: &mut Rng, step: u64) -> Vec<u8> {
    let len = [0, 8, 100, 700][rng.below(4) as usize];
    let mut v = format!("v{step}-").into_bytes();
    v.resize(v.len() + len, b'x');
    v
}

fn model_scan(
    m: &Model,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    reverse: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<_> = m
        .iter()
        .filter(|(k, _)| lo.is_none_or(|l| &k[..] >= l) && hi.is_none_or(|h| &k[..] < h))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if reverse {
        out.reverse();
    }
    out
}

fn run_seed(seed: u64, ops: u64, dir: &PathBuf) {
    let _ = std::fs::remove_dir_all(dir);
    let mut rng = Rng::new(seed);
    let mut db = Db::open(dir, small_options(seed)).unwrap();
    let mut model = Model::new();
    let mut snapshots: Vec<(u64, Model)> = Vec::new();
    for step in 0..ops {
        let ctx = || format!("seed {seed}, step {step}");
        match rng.below(100) {
            0..=39 => {
                let (k, v) = (key(&mut rng), value(&mut rng, step));
                let mut b = Batch::new();
                b.put(&k, &v).unwrap();
                db.write(b).unwrap();
                model.insert(k, v);
            }
            40..=46 => {
                let k = key(&mut rng);
                let mut b = Batch::new();
                b.delete(&k).unwrap();
                db.write(b).unwrap();
                model.remove(&k);
            }
            47..=49 => {
                let (start, end) = range(&mut rng);
                let mut b = Batch::new();
                b.delete_range(&start, &end).unwrap();
                db.write(b).unwrap();
                delete_range(&mut model, &start, &end);
            }
            50..=59 => {
                let mut b = Batch::new();
                let mut staged = model.clone();
                for _ in 0..1 + rng.below(20) {
                    let k = key(&mut rng);
                    if rng.below(10) == 0 {
                        // Within a batch, order matters: it deletes what came before it.
                        let (start, end) = range(&mut rng);
                        b.delete_range(&start, &end).unwrap();
                        delete_range(&mut staged, &start, &end);
                    } else if rng.below(3) == 0 {
                        b.delete(&k).unwrap();
                        staged.remove(&k);
                    } else {
                        let v = value(&mut rng, step);
                        b.put(&k, &v).unwrap();
                        staged.insert(k, v);
                    }
                }
                db.write(b).unwrap();
                model = staged;
            }
            60..=74 => {
                let k = key(&mut rng);
                assert_eq!(
                    db.get(&k).unwrap(),
                    model.get(&k).cloned(),
                    "get {:?}, {}",
                    String::from_utf8_lossy(&k),
                    ctx()
                );
            }
            75..=79 => {
                if snapshots.len() < 4 {
                    snapshots.push((db.acquire_snapshot(), model.clone()));
                }
            }
            80..=83 => {
                if !snapshots.is_empty() {
                    let i = rng.below(snapshots.len() as u64) as usize;
                    let (seq, old) = &snapshots[i];
                    let k = key(&mut rng);
                    assert_eq!(
                        db.get_at(&k, *seq).unwrap(),
                        old.get(&k).cloned(),
                        "snapshot get, {}",
                        ctx()
                    );
                    let reverse = rng.below(2) == 0;
                    assert_eq!(
                        scan(&db, None, None, *seq, reverse),
                        model_scan(old, None, None, reverse),
                        "snapshot scan, {}",
                        ctx()
                    );
                    if rng.below(2) == 0 {
                        let (seq, _) = snapshots.swap_remove(i);
                        db.release_snapshot(seq);
                    }
                }
            }
            84..=91 => {
                let (a, b) = (key(&mut rng), key(&mut rng));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let lo = (rng.below(4) != 0).then_some(&lo[..]);
                let hi = (rng.below(4) != 0).then_some(&hi[..]);
                let reverse = rng.below(2) == 0;
                assert_eq!(
                    scan(&db, lo, hi, db.visible_seq(), reverse),
                    model_scan(&model, lo, hi, reverse),
                    "scan, {}",
                    ctx()
                );
            }
            92..=94 => db.flush_and_wait().unwrap(),
            95..=96 => {
                let (a, b) = (key(&mut rng), key(&mut rng));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                db.compact_and_wait(Some(&lo), Some(&hi)).unwrap();
            }
            _ => {
                for (seq, _) in snapshots.drain(..) {
                    db.release_snapshot(seq);
                }
                db.close().unwrap();
                db = Db::open(dir, small_options(seed)).unwrap();
            }
        }
    }
    // The end state, in full, after one more reopen.
    for (seq, _) in snapshots.drain(..) {
        db.release_snapshot(seq);
    }
    db.close().unwrap();
    let db = Db::open(dir, small_options(seed)).unwrap();
    assert_eq!(
        scan(&db, None, None, db.visible_seq(), false),
        model_scan(&model, None, None, false),
        "final scan, seed {seed}"
    );
    let s = db.stats();
    assert!(
        s.flushes + s.level_files.iter().sum::<u64>() > 0 || ops < 200,
        "seed {seed}: no table was ever written"
    );
    // The final scan opened every table: mapped, unless this seed reads with pread.
    let tables = s.level_files.iter().sum::<u64>();
    assert_eq!(
        s.mapped_bytes > 0,
        tables > 0 && small_options(seed).map_tables,
        "seed {seed}: {} bytes mapped with {tables} tables",
        s.mapped_bytes
    );
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn random_operations_match_a_btreemap() {
    let ops = env_u64("STRATA_MODEL_OPS", 1500);
    let dir = std::env::temp_dir().join(format!("strata-model-{}", std::process::id()));
    for_each_seed("STRATA_MODEL_SEED", "STRATA_MODEL_SEEDS", 12, |seed| {
        run_seed(seed, ops, &dir)
    });
}
