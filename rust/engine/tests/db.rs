//! Database behaviour through the public API: reads, writes, recovery, locking, the pipeline.

use std::collections::BTreeMap;
use std::ops::Bound;

mod common;

use common::{scan, TempDir};
use strata_engine::wal;
use strata_engine::{Batch, Db, Error, Options};

fn put(db: &mut Db, k: &[u8], v: &[u8]) {
    let mut b = Batch::new();
    b.put(k, v).unwrap();
    db.write(b).unwrap();
}

fn scan_latest(db: &Db, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
    scan(db, lo, hi, db.visible_seq(), false)
}

fn val(v: &[u8]) -> Option<Vec<u8>> {
    Some(v.to_vec())
}

#[test]
fn put_get_delete_and_reopen() {
    let dir = TempDir::new("basic");
    {
        let mut db = Db::open(&dir.0, Options::default()).unwrap();
        put(&mut db, b"a", b"1");
        put(&mut db, b"b", b"2");
        let mut b = Batch::new();
        b.delete(b"a").unwrap();
        b.put(b"c", b"3").unwrap();
        db.write(b).unwrap();
        assert_eq!(db.get(b"a").unwrap(), None);
        assert_eq!(db.get(b"c").unwrap(), val(b"3"));
        db.close().unwrap();
    }
    let db = Db::open(&dir.0, Options::default()).unwrap();
    assert_eq!(db.stats().recovered_batches, 3);
    assert_eq!(db.get(b"a").unwrap(), None);
    assert_eq!(db.get(b"b").unwrap(), val(b"2"));
    assert_eq!(db.get(b"c").unwrap(), val(b"3"));
    assert_eq!(db.visible_seq(), 4);
}

#[test]
fn recovery_without_close_keeps_acknowledged_writes() {
    let dir = TempDir::new("noclose");
    {
        let mut db = Db::open(&dir.0, Options::default()).unwrap();
        for i in 0..100u32 {
            put(&mut db, &i.to_be_bytes(), &[i as u8; 10]);
        }
        // Dropped without close: only what write() made durable counts.
    }
    let db = Db::open(&dir.0, Options::default()).unwrap();
    for i in 0..100u32 {
        assert_eq!(db.get(&i.to_be_bytes()).unwrap(), val(&[i as u8; 10]));
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = TempDir::new("lock");
    let db = Db::open(&dir.0, Options::default()).unwrap();
    match Db::open(&dir.0, Options::default()) {
        Err(Error::Locked(p)) => assert_eq!(p, dir.0),
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("second open succeeded"),
    }
    db.close().unwrap();
    Db::open(&dir.0, Options::default()).unwrap();
}

#[test]
fn group_commit_shares_one_write_and_one_fsync() {
    let dir = TempDir::new("group");
    let mut db = Db::open(&dir.0, Options::default()).unwrap();
    let mut tickets = Vec::new();
    for i in 0..10u8 {
        let mut b = Batch::new();
        b.put(&[b'k', i], &[i]).unwrap();
        tickets.push(db.prepare(b).unwrap());
    }
    // Nothing is visible before the group is durable.
    assert_eq!(db.get(&[b'k', 0]).unwrap(), None);
    let point = db.write_pending().unwrap().expect("sync point");
    assert_eq!(db.visible_seq(), 0);
    let result = point.sync();
    db.synced(&point, result).unwrap();
    assert_eq!(db.visible_seq(), *tickets.last().unwrap());
    let s = db.stats();
    assert_eq!((s.wal_writes, s.wal_syncs, s.batches_written), (1, 1, 10));
    assert_eq!(db.get(&[b'k', 9]).unwrap(), val(&[9u8]));
}

#[test]
fn a_failed_fsync_poisons_and_drops_pending() {
    let dir = TempDir::new("poison");
    let mut db = Db::open(&dir.0, Options::default()).unwrap();
    put(&mut db, b"kept", b"1");
    let mut b = Batch::new();
    b.put(b"lost", b"2").unwrap();
    db.prepare(b).unwrap();
    let point = db.write_pending().unwrap().unwrap();
    let err = db
        .synced(&point, Err(std::io::Error::from_raw_os_error(libc::EIO)))
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert_eq!(db.get(b"lost").unwrap(), None);
    assert_eq!(db.get(b"kept").unwrap(), val(b"1"));
    let mut b = Batch::new();
    b.put(b"more", b"3").unwrap();
    assert!(matches!(db.write(b), Err(Error::Poisoned(_))));
}

#[test]
fn no_sync_applies_on_write() {
    let dir = TempDir::new("nosync");
    let mut db = Db::open(
        &dir.0,
        Options {
            no_sync: true,
            ..Options::default()
        },
    )
    .unwrap();
    let mut b = Batch::new();
    b.put(b"k", b"v").unwrap();
    let ticket = db.prepare(b).unwrap();
    assert!(db.write_pending().unwrap().is_none());
    assert_eq!(db.visible_seq(), ticket);
    assert_eq!(db.stats().wal_syncs, 0);
    db.close().unwrap();
    let db = Db::open(&dir.0, Options::default()).unwrap();
    assert_eq!(db.get(b"k").unwrap(), val(b"v"));
}

#[test]
fn iteration_matches_a_model_with_bounds_and_snapshots() {
    let dir = TempDir::new("iter");
    let mut db = Db::open(
        &dir.0,
        Options {
            no_sync: true,
            ..Options::default()
        },
    )
    .unwrap();
    let mut model = BTreeMap::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut snapshot = None;
    for step in 0..3000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = format!("key{:03}", x % 500).into_bytes();
        let mut b = Batch::new();
        if x % 4 == 0 {
            b.delete(&key).unwrap();
            model.remove(&key);
        } else {
            let value = step.to_le_bytes().to_vec();
            b.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        db.write(b).unwrap();
        if step == 1500 {
            snapshot = Some((db.acquire_snapshot(), model.clone()));
        }
    }
    let lo: &[u8] = b"key100";
    let hi: &[u8] = b"key300";
    let want: Vec<_> = model
        .range::<[u8], _>((Bound::Included(lo), Bound::Excluded(hi)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(scan_latest(&db, Some(lo), Some(hi)), want);
    let rev: Vec<_> = scan(&db, None, None, db.visible_seq(), true)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let want_rev: Vec<_> = model.keys().rev().cloned().collect();
    assert_eq!(rev, want_rev);
    // The snapshot still reads the state from step 1500.
    let (seq, old) = snapshot.unwrap();
    let at_snapshot = scan(&db, None, None, seq, false);
    let want_old: Vec<_> = old.into_iter().collect();
    assert_eq!(at_snapshot, want_old);
    db.release_snapshot(seq);
    assert_eq!(db.stats().snapshots, 0);
}

#[test]
fn corrupted_middle_fails_open_with_the_file_named() {
    let dir = TempDir::new("corrupt");
    {
        let mut db = Db::open(&dir.0, Options::default()).unwrap();
        for i in 0..10u8 {
            put(&mut db, &[b'k', i], &[i; 32]);
        }
        db.close().unwrap();
    }
    let wal = dir.0.join("000001.wal");
    let mut data = std::fs::read(&wal).unwrap();
    data[100] ^= 0xFF;
    std::fs::write(&wal, &data).unwrap();
    match Db::open(&dir.0, Options::default()) {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, wal),
        Err(e) => panic!("expected corruption, got {e}"),
        Ok(_) => panic!("open succeeded on a corrupted WAL"),
    }
}

#[test]
fn torn_tail_loses_only_the_torn_record() {
    let dir = TempDir::new("torn");
    common::torn_wal_fixture(&dir.0);
    {
        let mut db = Db::open(&dir.0, Options::default()).unwrap();
        assert_eq!(db.get(&[b'k', 9]).unwrap(), None);
        assert_eq!(db.get(&[b'k', 8]).unwrap(), val(&[8u8; 32]));
        assert!(db.stats().recovered_torn_bytes > 0);
        put(&mut db, b"after", b"x");
        db.close().unwrap();
    }
    let db = Db::open(&dir.0, Options::default()).unwrap();
    assert_eq!(db.get(b"after").unwrap(), val(b"x"));
    assert_eq!(db.stats().recovered_torn_bytes, 0);
}

/// True when the WAL segment `name` ends in its last record, with no zeros written ahead.
fn ends_in_a_record(dir: &std::path::Path, name: &str) -> bool {
    let path = dir.join(name);
    let data = std::fs::read(&path).unwrap();
    let replay = wal::replay(&path, &data, true, |_, _| Ok(())).unwrap();
    replay.valid_len == data.len() as u64
}

/// Every WAL segment in `dir`, by name, with its length.
fn wal_files(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wal"))
        .map(|e| {
            let len = e.metadata().unwrap().len();
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_wal_reserve_is_cut_at_rotation_and_close_and_survives_a_crash() {
    let dir = TempDir::new("reserve");
    let small = Options {
        memtable_budget: 256 * 1024,
        ..Options::default()
    };
    let value = [5u8; 100];
    {
        let mut db = Db::open(&dir.0, small.clone()).unwrap();
        for i in 0..3000u32 {
            put(&mut db, &i.to_be_bytes(), &value);
        }
        let wal_size = db.stats().wal_size;
        let files = wal_files(&dir.0);
        let (newest, newest_len) = files.last().unwrap().clone();
        // The open segment keeps zeros written ahead of its records ...
        assert!(
            newest_len > wal_size,
            "{newest}: {newest_len} bytes, {wal_size} written"
        );
        // ... and every segment rotated away from ends in its last record.
        for (name, len) in &files[..files.len() - 1] {
            assert!(
                ends_in_a_record(&dir.0, name),
                "{name} ({len} bytes) ends in zeros"
            );
        }
        // Dropped without close, as a crash would: the zeros stay.
    }
    {
        let mut db = Db::open(&dir.0, small.clone()).unwrap();
        assert_eq!(
            db.stats().recovered_torn_bytes,
            0,
            "zeros are not torn bytes"
        );
        for i in 0..3000u32 {
            assert_eq!(db.get(&i.to_be_bytes()).unwrap(), val(&value), "key {i}");
        }
        put(&mut db, b"after", b"x");
        db.close().unwrap();
    }
    for (name, len) in wal_files(&dir.0) {
        assert!(
            ends_in_a_record(&dir.0, &name),
            "{name} ({len} bytes) ends in zeros after close"
        );
    }
    let db = Db::open(&dir.0, small).unwrap();
    assert_eq!(db.get(b"after").unwrap(), val(b"x"));
}

#[test]
fn open_creates_only_in_an_empty_directory_and_refuses_foreign_files_untouched() {
    let names = |dir: &std::path::Path| {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    };
    // What an empty file system's root, or an earlier strata's lock file, leaves: empty.
    for leftover in ["lost+found", "LOCK"] {
        let dir = TempDir::new("open-empty");
        std::fs::create_dir_all(dir.0.join("lost+found")).unwrap();
        if leftover == "LOCK" {
            std::fs::write(dir.0.join("LOCK"), b"").unwrap();
        }
        let mut db = Db::open(&dir.0, Options::default()).unwrap();
        put(&mut db, b"k", b"v");
        db.close().unwrap();
        assert!(names(&dir.0).contains(&"MANIFEST".to_string()));
        let db = Db::open(&dir.0, Options::default()).unwrap();
        assert_eq!(db.get(b"k").unwrap(), val(b"v"));
    }
    // Anything else and no MANIFEST: refused, nothing created.
    let dir = TempDir::new("open-foreign");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("notes.txt"), b"mine").unwrap();
    match Db::open(&dir.0, Options::default()) {
        Err(Error::InvalidArgument(why)) => assert!(why.contains("not a strata database"), "{why}"),
        other => panic!("open of a foreign directory: {:?}", other.map(|_| ())),
    }
    assert_eq!(names(&dir.0), vec!["notes.txt".to_string()]);
}

#[test]
fn disk_usage_estimates_follow_the_key_range() {
    let dir = TempDir::new("estimate");
    let opts = Options {
        compression: strata_engine::Compression::None,
        target_file_size: 64 << 10,
        ..Options::default()
    };
    let mut db = Db::open(&dir.0, opts).unwrap();
    let key = |i: u32| format!("k{i:06}").into_bytes();
    let mut b = Batch::new();
    for i in 0..20_000u32 {
        b.put(&key(i), &[i as u8; 100]).unwrap();
        if b.count() == 1000 {
            db.write(std::mem::take(&mut b)).unwrap();
        }
    }
    // Only tables count: nothing is flushed yet.
    assert_eq!(db.estimate_disk_usage(None, None).unwrap(), 0);
    db.compact_and_wait(None, None).unwrap();
    let tables: u64 = db.stats().level_bytes.iter().sum();
    let files: u64 = db.stats().level_files.iter().sum();
    assert!(files > 10, "want many tables, got {files}");
    let all = db.estimate_disk_usage(None, None).unwrap();
    assert_eq!(all, tables, "the whole range is every table");
    // A fraction of the keys is about that fraction of the bytes, cutting tables at both
    // ends (the middle of a table is found through its index, to within a block).
    for (lo, hi) in [
        (0, 5_000),
        (5_123, 15_077),
        (19_990, 20_000),
        (7_001, 7_003),
    ] {
        let got = db
            .estimate_disk_usage(Some(&key(lo)), Some(&key(hi)))
            .unwrap();
        let want = all as f64 * f64::from(hi - lo) / 20_000.0;
        let slack = 2.0 * 4096.0 + want * 0.05;
        assert!(
            (got as f64 - want).abs() <= slack,
            "[{lo}, {hi}): estimated {got} bytes, want about {want:.0}"
        );
    }
    assert_eq!(
        db.estimate_disk_usage(Some(b"a"), Some(b"b")).unwrap(),
        0,
        "before every key"
    );
    assert_eq!(
        db.estimate_disk_usage(Some(b"z"), None).unwrap(),
        0,
        "after every key"
    );
    assert_eq!(
        db.estimate_disk_usage(Some(&key(300)), Some(&key(300)))
            .unwrap(),
        0,
        "an empty range"
    );
}
