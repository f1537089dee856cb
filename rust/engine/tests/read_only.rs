//! Read-only opens: they see everything a writer left (tables, the WAL's records, a torn tail
//! cut off in memory only), change no byte of the directory, refuse every write, and share
//! the database with each other but never with a writer.

use std::collections::BTreeMap;
use std::path::Path;

mod common;

use common::{scan, TempDir};
use strata_engine::{Batch, Db, Error, Options};

fn read_only() -> Options {
    Options {
        read_only: true,
        ..Options::default()
    }
}

fn put(db: &mut Db, k: &[u8], v: &[u8]) {
    let mut b = Batch::new();
    b.put(k, v).unwrap();
    db.write(b).unwrap();
}

/// Every entry of `dir` (recursively) with its full contents and modification time.
fn snapshot_dir(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let data = if meta.is_dir() {
            Vec::new()
        } else {
            std::fs::read(entry.path()).unwrap()
        };
        out.insert(name, (data, meta.modified().unwrap()));
    }
    out
}

/// A database with keys in tables and more in its WAL, left open by a crash (not closed), so
/// its WAL still holds records a read-only open must replay.
fn crashed_database(dir: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    let mut db = Db::open(dir, Options::default()).unwrap();
    for i in 0..200u32 {
        let (k, v) = (format!("t{i:05}").into_bytes(), vec![i as u8; 40]);
        put(&mut db, &k, &v);
        model.insert(k, v);
    }
    db.flush_and_wait().unwrap();
    for i in 0..50u32 {
        let (k, v) = (format!("w{i:05}").into_bytes(), vec![i as u8; 20]);
        put(&mut db, &k, &v);
        model.insert(k, v);
    }
    let mut b = Batch::new();
    b.delete(b"t00007").unwrap();
    db.write(b).unwrap();
    model.remove(b"t00007".as_slice());
    drop(db); // a crash: no close, the WAL keeps its records and its zeros ahead
    model
}

#[test]
fn a_read_only_open_sees_tables_and_log_and_changes_nothing() {
    let dir = TempDir::new("ro-sees");
    let model = crashed_database(&dir.0);
    let before = snapshot_dir(&dir.0);
    {
        let mut db = Db::open(&dir.0, read_only()).unwrap();
        let got: BTreeMap<_, _> = scan(&db, None, None, db.visible_seq(), false)
            .into_iter()
            .collect();
        assert_eq!(got, model);
        assert_eq!(db.get(b"w00049").unwrap(), Some(vec![49u8; 20]));
        assert_eq!(db.get(b"t00007").unwrap(), None);
        assert!(db.stats().recovered_batches > 0);
        // Snapshots work as on a writable database.
        let seq = db.acquire_snapshot();
        assert_eq!(db.get_at(b"t00001", seq).unwrap(), Some(vec![1u8; 40]));
        db.release_snapshot(seq);
        // Every change is refused, and says why.
        let mut b = Batch::new();
        b.put(b"x", b"y").unwrap();
        assert!(matches!(db.write(b), Err(Error::ReadOnly(_))));
        assert!(matches!(db.flush_and_wait(), Err(Error::ReadOnly(_))));
        assert!(matches!(
            db.compact_and_wait(None, None),
            Err(Error::ReadOnly(_))
        ));
        let target = dir.0.with_extension("checkpoint");
        assert!(matches!(db.checkpoint(&target), Err(Error::ReadOnly(_))));
        assert!(!target.exists());
        let e = db.flush_and_wait().unwrap_err();
        assert!(e.to_string().contains("read-only"), "{e}");
        db.close().unwrap();
    }
    assert_eq!(
        snapshot_dir(&dir.0),
        before,
        "a read-only open changed the directory"
    );
    // The writer that opens next recovers the same state.
    let db = Db::open(&dir.0, Options::default()).unwrap();
    let got: BTreeMap<_, _> = scan(&db, None, None, db.visible_seq(), false)
        .into_iter()
        .collect();
    assert_eq!(got, model);
}

#[test]
fn a_torn_tail_is_cut_in_memory_only() {
    let dir = TempDir::new("ro-torn");
    let (wal, torn) = common::torn_wal_fixture(&dir.0);
    let before = snapshot_dir(&dir.0);
    let db = Db::open(&dir.0, read_only()).unwrap();
    assert_eq!(db.get(&[b'k', 9]).unwrap(), None);
    assert_eq!(db.get(&[b'k', 8]).unwrap(), Some(vec![8u8; 32]));
    assert!(db.stats().recovered_torn_bytes > 0);
    db.close().unwrap();
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), torn);
    assert_eq!(snapshot_dir(&dir.0), before);
}

#[test]
fn read_only_opens_share_the_database_but_not_with_a_writer() {
    let dir = TempDir::new("ro-lock");
    crashed_database(&dir.0);
    let first = Db::open(&dir.0, read_only()).unwrap();
    let second = Db::open(&dir.0, read_only()).unwrap();
    assert!(matches!(
        Db::open(&dir.0, Options::default()),
        Err(Error::Locked(_))
    ));
    assert_eq!(
        first.get(b"w00001").unwrap(),
        second.get(b"w00001").unwrap()
    );
    drop(first);
    second.close().unwrap();
    let writer = Db::open(&dir.0, Options::default()).unwrap();
    assert!(matches!(
        Db::open(&dir.0, read_only()),
        Err(Error::Locked(_))
    ));
    writer.close().unwrap();
}

#[test]
fn a_read_only_open_creates_no_database() {
    let root = TempDir::new("ro-none");
    let missing = root.0.join("missing");
    let e = Db::open(&missing, read_only())
        .err()
        .expect("opened a missing directory");
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(!missing.exists());

    let empty = root.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = Db::open(&empty, read_only())
        .err()
        .expect("opened an empty directory");
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(e.to_string().contains("read-only open creates none"), "{e}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

/// Writes sent to a read-only database's committer are refused at once, even when its tables
/// would stall a writer (here: a stop trigger of one L0 table, which no compaction will lift).
#[test]
fn the_committer_refuses_writes_to_a_read_only_database_without_stalling() {
    use std::sync::{Arc, RwLock};
    use strata_engine::commit::{self, Committer, Replies};
    use strata_engine::ErrorCode;

    struct Collect(crossbeam_channel::Sender<(u64, ErrorCode)>);
    impl Replies for Collect {
        fn reply(&mut self, token: u64, result: Result<(), &Error>) {
            let code = result.map_or_else(Error::code, |()| ErrorCode::Ok);
            let _ = self.0.send((token, code));
        }
        fn deliver(&mut self) {}
    }

    let dir = TempDir::new("ro-commit");
    crashed_database(&dir.0);
    let opts = Options {
        l0_compaction_trigger: 0, // the stop trigger is at least this plus one
        l0_slowdown_trigger: 1,
        l0_stop_trigger: 1,
        ..read_only()
    };
    let (sender, inbox) = commit::channel();
    let db = Db::open_with(
        &dir.0,
        opts,
        Arc::new(strata_engine::fs::RealFs),
        sender.notifier(),
    )
    .unwrap();
    assert!(
        db.stats().level_files[0] >= 1,
        "the fixture has an L0 table"
    );
    let (tx, answers) = crossbeam_channel::unbounded();
    let committer = Committer::start(
        inbox,
        Arc::new(RwLock::new(db)),
        Collect(tx),
        std::time::Duration::ZERO,
    )
    .unwrap();
    let mut b = Batch::new();
    b.put(b"x", b"y").unwrap();
    assert!(sender.write(b, 1, false).is_ok());
    assert!(sender.write(Batch::new(), 2, true).is_ok());
    let timeout = std::time::Duration::from_secs(10);
    assert_eq!(answers.recv_timeout(timeout), Ok((1, ErrorCode::ReadOnly)));
    assert_eq!(answers.recv_timeout(timeout), Ok((2, ErrorCode::ReadOnly)));
    committer.finish();
}
