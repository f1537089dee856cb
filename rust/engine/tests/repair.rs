//! Repair: a database whose manifest was lost (or damaged) is refused by open, and
//! `repair` rebuilds it from its tables and WAL without losing an acknowledged write, without
//! deleting a file, and without mixing in another database's tables.

mod common;

use std::path::Path;

use common::{contents, Model, Rng, TempDir};
use strata_engine::manifest::MANIFEST_FILE;
use strata_engine::repair::repair_dir;
use strata_engine::{Batch, Db, Error, Options};

/// Small memtables and tables, so a few thousand writes make tables on several levels.
fn small() -> Options {
    Options {
        memtable_budget: 128 << 10,
        l0_compaction_trigger: 2,
        l1_target_bytes: 128 << 10,
        level_size_ratio: 4,
        target_file_size: 32 << 10,
        ..Options::default()
    }
}

/// Writes `n` random puts, deletes and range deletes (over 800 keys, with overwrites), flushing and
/// compacting along the way, then leaves the last `tail` writes in the WAL only. Returns what
/// the database holds.
fn fill(dir: &Path, seed: u64, n: u64, tail: u64) -> Model {
    let mut rng = Rng::new(seed);
    let mut model = Model::new();
    let mut db = Db::open(dir, small()).unwrap();
    for i in 0..n {
        let key = format!("k{:04}", rng.below(800)).into_bytes();
        let mut b = Batch::new();
        if rng.below(60) == 0 {
            let end = format!("k{:04}", rng.below(800)).into_bytes();
            let (start, end) = if key <= end { (key, end) } else { (end, key) };
            b.delete_range(&start, &end).unwrap();
            model.retain(|k, _| !(k >= &start && k < &end));
        } else if rng.below(6) == 0 {
            b.delete(&key).unwrap();
            model.remove(&key);
        } else {
            let value = format!("{seed}-{i}-{}", "v".repeat(rng.below(200) as usize)).into_bytes();
            b.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        db.write(b).unwrap();
        if i + tail == n {
            db.flush_and_wait().unwrap();
        } else if i % 700 == 699 && i + tail < n {
            db.compact_and_wait(None, None).unwrap();
        }
    }
    db.close().unwrap();
    model
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn tables(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|n| n.ends_with(".sst"))
        .collect()
}

#[test]
fn a_lost_manifest_is_refused_then_repaired_without_losing_a_write() {
    let dir = TempDir::new("repair-lost");
    let model = fill(&dir.0, 1, 3000, 150);
    let before = tables(&dir.0);
    assert!(before.len() >= 2, "tables: {before:?}");
    std::fs::remove_file(dir.0.join(MANIFEST_FILE)).unwrap();

    match Db::open(&dir.0, small()) {
        Err(Error::Corruption { file, detail, .. }) => {
            assert_eq!(file, dir.0.join(MANIFEST_FILE));
            assert!(detail.contains("strata repair"), "{detail}");
        }
        Err(e) => panic!("open without a manifest: {e}"),
        Ok(_) => panic!("open without a manifest succeeded"),
    }
    assert_eq!(tables(&dir.0), before, "open changed the tables");

    let report = repair_dir(&dir.0).unwrap();
    assert!(!report.lossy, "{}", report.text());
    // What repair read is kept aside, byte for byte.
    let aside = dir.0.join("pre-repair-1");
    assert_eq!(tables(&aside), before);

    let db = Db::open(&dir.0, small()).unwrap();
    assert_eq!(contents(&db), model, "report:\n{}", report.text());
    drop(db);
    // Repairing an intact database is refused.
    assert!(matches!(repair_dir(&dir.0), Err(Error::InvalidArgument(_))));
}

#[test]
fn a_damaged_manifest_is_set_aside_and_rebuilt() {
    let dir = TempDir::new("repair-damaged");
    let model = fill(&dir.0, 2, 2000, 0);
    let path = dir.0.join(MANIFEST_FILE);
    let mut data = std::fs::read(&path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x55;
    std::fs::write(&path, &data).unwrap();
    assert!(matches!(
        Db::open(&dir.0, small()),
        Err(Error::Corruption { .. })
    ));
    repair_dir(&dir.0).unwrap();
    assert_eq!(
        std::fs::read(dir.0.join("pre-repair-1").join(MANIFEST_FILE)).unwrap(),
        data
    );
    let db = Db::open(&dir.0, small()).unwrap();
    assert_eq!(contents(&db), model);
}

#[test]
fn tables_of_two_databases_are_not_mixed() {
    let (a, b) = (TempDir::new("repair-mix-a"), TempDir::new("repair-mix-b"));
    fill(&a.0, 3, 1500, 0);
    fill(&b.0, 4, 6000, 0);
    std::fs::remove_file(a.0.join(MANIFEST_FILE)).unwrap();
    // A table of the other database under its own name (one the first does not use).
    let foreign = tables(&b.0).pop().unwrap();
    assert!(!tables(&a.0).contains(&foreign), "{foreign} in both");
    std::fs::copy(b.0.join(&foreign), a.0.join(&foreign)).unwrap();
    let before = files(&a.0);
    match repair_dir(&a.0) {
        Err(Error::InvalidArgument(why)) => assert!(why.contains("2 databases"), "{why}"),
        other => panic!("repair of mixed tables: {other:?}"),
    }
    assert_eq!(
        files(&a.0),
        before,
        "a refused repair changed the directory"
    );
}

#[test]
fn a_directory_with_nothing_of_strata_is_not_repaired() {
    let dir = TempDir::new("repair-foreign");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(
        dir.0.join("000005.sst"),
        b"not a strata table at all, just bytes",
    )
    .unwrap();
    std::fs::write(dir.0.join("CURRENT"), b"MANIFEST-000002\n").unwrap();
    let before = files(&dir.0);
    assert!(matches!(repair_dir(&dir.0), Err(Error::InvalidArgument(_))));
    assert_eq!(files(&dir.0), before);
}

#[test]
fn a_repair_cut_short_before_its_manifest_can_run_again() {
    let dir = TempDir::new("repair-twice");
    let model = fill(&dir.0, 5, 2500, 100);
    std::fs::remove_file(dir.0.join(MANIFEST_FILE)).unwrap();
    repair_dir(&dir.0).unwrap();
    // What a cut after the merged tables were written, before the manifest, leaves: the
    // tables read and the merged ones side by side, no manifest.
    let aside = dir.0.join("pre-repair-1");
    for name in tables(&aside) {
        std::fs::rename(aside.join(&name), dir.0.join(&name)).unwrap();
    }
    std::fs::remove_dir(&aside).unwrap();
    std::fs::remove_file(dir.0.join(MANIFEST_FILE)).unwrap();
    let report = repair_dir(&dir.0).unwrap();
    assert!(!report.lossy, "{}", report.text());
    let db = Db::open(&dir.0, small()).unwrap();
    assert_eq!(contents(&db), model, "report:\n{}", report.text());
}
