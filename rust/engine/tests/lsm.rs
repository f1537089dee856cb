//! The LSM life cycle through the public API: memtables flush to tables, WAL segments and
//! obsolete tables are deleted, compaction drops what no one can see, data survives reopen.

use std::path::Path;

mod common;

use common::TempDir;
use strata_engine::{Batch, Db, Options};

fn files(dir: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(ext))
        .collect();
    v.sort();
    v
}

fn small() -> Options {
    Options {
        no_sync: true,
        memtable_budget: 256 << 10,
        l0_compaction_trigger: 4,
        l1_target_bytes: 256 << 10,
        target_file_size: 64 << 10,
        ..Options::default()
    }
}

fn fill(db: &mut Db, n: u32, tag: &str) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut b = Batch::new();
        for i in chunk {
            b.put(
                format!("key{i:08}").as_bytes(),
                format!("{tag}-{i}-{}", "x".repeat(80)).as_bytes(),
            )
            .unwrap();
        }
        db.write(b).unwrap();
    }
}

fn check_all(db: &Db, n: u32, tag: &str) {
    for i in (0..n).step_by(97) {
        let got = db.get(format!("key{i:08}").as_bytes()).unwrap();
        assert_eq!(
            got,
            Some(format!("{tag}-{i}-{}", "x".repeat(80)).into_bytes()),
            "key {i}"
        );
    }
}

#[test]
fn flushed_wal_segments_are_deleted_and_tables_serve_reads_after_reopen() {
    let dir = TempDir::new("flush");
    let mut db = Db::open(&dir.0, small()).unwrap();
    fill(&mut db, 20_000, "a");
    db.flush_and_wait().unwrap();
    let s = db.stats();
    assert!(s.flushes >= 2, "flushes: {}", s.flushes);
    // Only the active segment is left: every flushed one was deleted.
    assert_eq!(
        files(&dir.0, ".wal").len(),
        1,
        "{:?}",
        files(&dir.0, ".wal")
    );
    assert!(!files(&dir.0, ".sst").is_empty());
    check_all(&db, 20_000, "a");
    db.close().unwrap();

    let db = Db::open(&dir.0, small()).unwrap();
    assert_eq!(db.stats().recovered_batches, 0, "everything was in tables");
    check_all(&db, 20_000, "a");
}

#[test]
fn compaction_rewrites_overwrites_and_deletes_obsolete_tables() {
    let dir = TempDir::new("compact");
    let mut db = Db::open(&dir.0, small()).unwrap();
    for tag in ["a", "b", "c"] {
        fill(&mut db, 10_000, tag);
        db.flush_and_wait().unwrap();
    }
    let before: u64 = db.stats().level_bytes.iter().sum();
    db.compact_and_wait(None, None).unwrap();
    let s = db.stats();
    let after: u64 = s.level_bytes.iter().sum();
    assert!(s.compactions >= 1);
    assert_eq!(s.level_files[0], 0, "compaction emptied L0");
    assert!(after < before, "before {before} bytes, after {after}");
    // No table file outlives the tree's view of it.
    let live: u64 = s.level_files.iter().sum();
    assert_eq!(files(&dir.0, ".sst").len() as u64, live);
    check_all(&db, 10_000, "c");
    db.close().unwrap();
    // Three versions of every key became one: the tables hold 10,000 entries in all.
    let report = strata_engine::check::check_dir(&dir.0).unwrap();
    let entries: u64 = report
        .files
        .iter()
        .filter_map(|f| {
            f.verdict
                .as_ref()
                .ok()?
                .strip_suffix(" entries, live")?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(entries, 10_000, "{}", report.text());
    let mut db = Db::open(&dir.0, small()).unwrap();

    // Deleting everything and compacting leaves no tables at all.
    let mut b = Batch::new();
    for i in 0..10_000u32 {
        b.delete(format!("key{i:08}").as_bytes()).unwrap();
    }
    db.write(b).unwrap();
    db.compact_and_wait(None, None).unwrap();
    assert_eq!(db.stats().level_files.iter().sum::<u64>(), 0);
    assert_eq!(db.get(b"key00000001").unwrap(), None);
}

#[test]
fn a_snapshot_keeps_its_versions_through_compaction() {
    let dir = TempDir::new("snapshot");
    let mut db = Db::open(&dir.0, small()).unwrap();
    fill(&mut db, 5_000, "old");
    let snap = db.acquire_snapshot();
    fill(&mut db, 5_000, "new");
    let mut b = Batch::new();
    b.delete(b"key00000007").unwrap();
    db.write(b).unwrap();
    db.compact_and_wait(None, None).unwrap();
    assert_eq!(
        db.get_at(b"key00000007", snap).unwrap(),
        Some(format!("old-7-{}", "x".repeat(80)).into_bytes())
    );
    assert_eq!(db.get(b"key00000007").unwrap(), None);
    db.release_snapshot(snap);
    db.compact_and_wait(None, None).unwrap();
    assert_eq!(
        db.get_at(b"key00000007", snap).unwrap(),
        None,
        "released: the old version is gone"
    );
}

fn total_bytes(db: &Db) -> u64 {
    db.stats().level_bytes.iter().sum()
}

fn listed_range_deletes(dir: &Path) -> usize {
    let state = strata_engine::manifest::read(&strata_engine::fs::RealFs, dir)
        .unwrap()
        .unwrap();
    state
        .levels
        .iter()
        .flatten()
        .map(|f| f.range_dels.len())
        .sum()
}

#[test]
fn a_range_delete_is_one_write_and_compaction_reclaims_its_space() {
    let dir = TempDir::new("range-delete");
    let mut db = Db::open(&dir.0, small()).unwrap();
    fill(&mut db, 20_000, "v");
    db.compact_and_wait(None, None).unwrap();
    let full = total_bytes(&db);
    let snap = db.acquire_snapshot();
    let seq_before = db.visible_seq();
    let mut b = Batch::new();
    b.delete_range(b"key00001000", b"key00019000").unwrap();
    db.write(b).unwrap();
    assert_eq!(
        db.visible_seq(),
        seq_before + 1,
        "one write, one sequence number"
    );
    let value = |i: u32| Some(format!("v-{i}-{}", "x".repeat(80)).into_bytes());
    assert_eq!(db.get(b"key00000999").unwrap(), value(999));
    assert_eq!(db.get(b"key00001000").unwrap(), None);
    assert_eq!(db.get(b"key00018999").unwrap(), None);
    assert_eq!(db.get(b"key00019000").unwrap(), value(19_000));
    assert_eq!(db.get_at(b"key00005000", snap).unwrap(), value(5_000));
    let live = common::contents(&db);
    assert_eq!(live.len(), 2_000);
    // While the snapshot needs them, compaction keeps the deleted versions.
    db.compact_and_wait(None, None).unwrap();
    assert!(
        total_bytes(&db) > full / 2,
        "{} of {full}",
        total_bytes(&db)
    );
    assert_eq!(db.get_at(b"key00005000", snap).unwrap(), value(5_000));
    assert_eq!(
        common::scan(&db, None, None, snap, true).len(),
        20_000,
        "the snapshot still sees every key"
    );
    assert_eq!(listed_range_deletes(&dir.0), 1);
    // Released, the next compaction drops them and the tombstone with them.
    db.release_snapshot(snap);
    db.compact_and_wait(None, None).unwrap();
    assert!(
        total_bytes(&db) < full / 5,
        "{} of {full} left",
        total_bytes(&db)
    );
    assert_eq!(listed_range_deletes(&dir.0), 0);
    assert_eq!(common::contents(&db), live);
    // A put inside the range after the delete is live, and all of it survives a reopen.
    let mut b = Batch::new();
    b.put(b"key00002000", b"back").unwrap();
    db.write(b).unwrap();
    db.close().unwrap();
    let db = Db::open(&dir.0, small()).unwrap();
    assert_eq!(db.get(b"key00002000").unwrap(), Some(b"back".to_vec()));
    assert_eq!(db.get(b"key00002001").unwrap(), None);
    assert_eq!(common::contents(&db).len(), 2_001);
}

#[test]
fn a_range_tombstone_outlives_the_compaction_of_its_own_table() {
    // Two L0 tables of disjoint keys, then a tombstone over both in a third. Compacting the
    // tombstone with one of them leaves older covered data in the other: the tombstone must
    // stay until that data is gone too.
    let dir = TempDir::new("range-delete-kept");
    let mut db = Db::open(&dir.0, small()).unwrap();
    let put_range = |db: &mut Db, from: u32, to: u32| {
        let mut b = Batch::new();
        for i in from..to {
            b.put(format!("key{i:08}").as_bytes(), b"v").unwrap();
        }
        db.write(b).unwrap();
        db.flush_and_wait().unwrap();
    };
    put_range(&mut db, 2_000, 4_000);
    put_range(&mut db, 0, 1_000);
    let mut b = Batch::new();
    b.delete_range(b"key00000000", b"key00004000").unwrap();
    db.write(b).unwrap();
    db.flush_and_wait().unwrap();
    assert_eq!(db.stats().level_files[0], 3, "three L0 tables");
    // Compacts the tombstone's table with the one of keys 0..1000 only.
    db.compact_and_wait(Some(b"key00000000"), Some(b"key00000001"))
        .unwrap();
    assert_eq!(listed_range_deletes(&dir.0), 1, "the tombstone is kept");
    assert_eq!(db.get(b"key00003999").unwrap(), None);
    assert_eq!(common::contents(&db).len(), 0);
    db.close().unwrap();
    let mut db = Db::open(&dir.0, small()).unwrap();
    assert_eq!(db.get(b"key00003000").unwrap(), None);
    db.compact_and_wait(None, None).unwrap();
    assert!(common::contents(&db).is_empty());
    assert_eq!(listed_range_deletes(&dir.0), 0, "nothing left to delete");
}

#[test]
fn tables_a_range_delete_covers_whole_are_skipped_by_scans_and_dropped_unread() {
    let dir = TempDir::new("range-delete-unread");
    let mut db = Db::open(&dir.0, small()).unwrap();
    fill(&mut db, 20_000, "v");
    db.compact_and_wait(None, None).unwrap();
    let mut b = Batch::new();
    b.delete_range(b"key00001000", b"key00019000").unwrap();
    db.write(b).unwrap();
    db.flush_and_wait().unwrap();
    db.close().unwrap();
    // Damage the data of every table the range covers whole: reading one would fail.
    let state = strata_engine::manifest::read(&strata_engine::fs::RealFs, &dir.0)
        .unwrap()
        .unwrap();
    let inside = |k: &[u8]| {
        let user = &k[..k.len() - 8];
        user >= &b"key00001000"[..] && user < &b"key00019000"[..]
    };
    let covered: Vec<String> = state
        .levels
        .iter()
        .flatten()
        .filter(|f| f.range_dels.is_empty() && inside(&f.smallest) && inside(&f.largest))
        .map(|f| strata_engine::manifest::table_name(f.number))
        .collect();
    assert!(
        covered.len() >= 2,
        "{} tables inside the range",
        covered.len()
    );
    for name in &covered {
        let path = dir.0.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[64] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let mut db = Db::open(&dir.0, small()).unwrap();
    // Scans step over them too, both ways.
    assert_eq!(common::contents(&db).len(), 2_000);
    let seq = db.visible_seq();
    assert_eq!(common::scan(&db, None, None, seq, true).len(), 2_000);
    db.compact_and_wait(None, None).unwrap();
    assert_eq!(common::contents(&db).len(), 2_000);
    let left = files(&dir.0, ".sst");
    assert!(
        covered.iter().all(|name| !left.contains(name)),
        "covered tables were deleted"
    );
}

#[test]
fn checkpoint_is_an_openable_copy_at_that_moment() {
    let dir = TempDir::new("ckpt");
    let copy = TempDir::new("ckpt-copy");
    let mut db = Db::open(&dir.0, small()).unwrap();
    fill(&mut db, 8_000, "a");
    db.checkpoint(&copy.0).unwrap();
    fill(&mut db, 8_000, "b");
    assert!(
        db.checkpoint(&copy.0).is_err(),
        "a non-empty target is refused"
    );
    let cp = Db::open(&copy.0, small()).unwrap();
    check_all(&cp, 8_000, "a");
    check_all(&db, 8_000, "b");
}

#[test]
fn check_names_a_damaged_table() {
    let dir = TempDir::new("check");
    let mut db = Db::open(&dir.0, small()).unwrap();
    fill(&mut db, 3_000, "a");
    db.flush_and_wait().unwrap();
    db.close().unwrap();
    let report = strata_engine::check::check_dir(&dir.0).unwrap();
    assert!(!report.damaged(), "{}", report.text());
    // A directory that never held a database is refused, and left untouched.
    let empty = TempDir::new("check-empty");
    std::fs::create_dir_all(&empty.0).unwrap();
    assert!(matches!(
        strata_engine::check::check_dir(&empty.0),
        Err(strata_engine::Error::InvalidArgument(_))
    ));
    assert!(files(&empty.0, "").is_empty());
    let table = files(&dir.0, ".sst").pop().unwrap();
    let path = dir.0.join(&table);
    let mut data = std::fs::read(&path).unwrap();
    let mid = data.len() / 3;
    data[mid] ^= 0x10;
    std::fs::write(&path, &data).unwrap();
    let report = strata_engine::check::check_dir(&dir.0).unwrap();
    assert!(report.damaged());
    assert!(
        report.text().contains(&format!("damaged {table}")),
        "{}",
        report.text()
    );
}

#[test]
fn a_flush_keeps_only_the_versions_a_snapshot_can_see() {
    let dir = TempDir::new("overwrite");
    let mut db = Db::open(&dir.0, small()).unwrap();
    let put = |db: &mut Db, v: &str| {
        let mut b = Batch::new();
        b.put(b"hot", v.as_bytes()).unwrap();
        db.write(b).unwrap();
    };
    for i in 0..500 {
        put(&mut db, &format!("v{i}"));
    }
    let snap = db.acquire_snapshot();
    for i in 500..1000 {
        put(&mut db, &format!("v{i}"));
    }
    assert_eq!(
        db.stats().memtable_versions,
        1000,
        "the memtable keeps every version"
    );
    db.flush_and_wait().unwrap();
    assert_eq!(db.get_at(b"hot", snap).unwrap(), Some(b"v499".to_vec()));
    assert_eq!(db.get(b"hot").unwrap(), Some(b"v999".to_vec()));
    db.release_snapshot(snap);
    db.close().unwrap();
    // The table holds the newest version and the one the snapshot saw, nothing else.
    let report = strata_engine::check::check_dir(&dir.0).unwrap();
    assert!(
        report.text().contains(": 2 entries, live"),
        "{}",
        report.text()
    );
}

/// L0 tables below the trigger, which writes alone never compact, are compacted into L1 once
/// seeks through them were charged what that compaction reads (each seek a fixed charge per L0
/// table); reads keep every value, and the compaction starts the charges over.
#[test]
fn seeks_through_l0_compact_it_below_the_trigger_once_they_paid_for_it() {
    use strata_engine::tree::L0_SEEK_CHARGE;
    let dir = TempDir::new("read-compaction");
    let opts = Options {
        memtable_budget: 1 << 20,
        ..small()
    };
    let mut db = Db::open(&dir.0, opts).unwrap();
    for tag in ["a", "b"] {
        fill(&mut db, 2_000, tag); // about 200 KB: one memtable, one L0 table each
        db.flush_and_wait().unwrap();
    }
    let s = db.stats();
    assert_eq!(
        (s.level_files[0], s.compactions),
        (2, 0),
        "{:?}",
        s.level_files
    );
    let price: u64 = s.level_bytes[..2].iter().sum();
    assert_eq!(
        db.l0_seek_charges(),
        (0, price),
        "L0 and what it overlaps in L1"
    );
    let seek = |db: &Db, i: u32| {
        let key = format!("key{:08}", i % 2_000);
        let view = db.read_view();
        let mut it = db
            .iter(&view, Some(key.as_bytes()), None, db.visible_seq(), false)
            .unwrap();
        assert_eq!(it.next_entry().unwrap().0, key.as_bytes());
    };
    seek(&db, 0);
    assert_eq!(
        db.l0_seek_charges(),
        (2 * L0_SEEK_CHARGE, price),
        "two tables"
    );
    let mut seeks = 1;
    while db.l0_seek_charges().0 < price {
        seek(&db, seeks);
        seeks += 1;
    }
    // Paid: the compaction comes without another read.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while db.stats().level_files[0] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "L0 still holds {} tables a minute after {seeks} seeks paid for compacting it",
            db.stats().level_files[0]
        );
        std::thread::yield_now();
    }
    let s = db.stats();
    assert!(s.compactions >= 1 && s.level_files[1] >= 1, "{s:?}");
    assert_eq!(
        db.l0_seek_charges(),
        (0, u64::MAX),
        "L0 is empty: nothing to charge"
    );
    check_all(&db, 2_000, "b");
    db.close().unwrap();
}
