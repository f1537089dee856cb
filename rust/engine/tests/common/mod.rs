//! Pieces the engine's integration tests share: a seeded RNG, a model map, a full scan, temp
//! directories, the simulated-file-system setup, and the seed loop that names a failing seed.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_engine::sim_fs::SimFs;
use strata_engine::{Db, Options};

/// What the database should hold.
pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A seeded xorshift64* generator: reproducible streams without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Live entries within `[lo, hi)` at `seq`, in the asked direction.
pub fn scan(
    db: &Db,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    seq: u64,
    reverse: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let view = db.read_view();
    let mut it = db.iter(&view, lo, hi, seq, reverse).expect("iter");
    let mut out = Vec::new();
    while let Some((k, v)) = it.next_entry() {
        out.push((k.to_vec(), v.to_vec()));
    }
    it.status().expect("iterator status");
    out
}

/// Everything the database holds now.
pub fn contents(db: &Db) -> Model {
    scan(db, None, None, db.visible_seq(), false)
        .into_iter()
        .collect()
}

/// A fresh directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("strata-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Durable writes and tiny memtables and tables, so a few hundred writes rotate, flush and
/// compact: crash and fault points land everywhere.
pub fn sim_options() -> Options {
    Options {
        no_sync: false,
        memtable_budget: 96 << 10,
        l0_compaction_trigger: 2,
        l1_target_bytes: 64 << 10,
        level_size_ratio: 4,
        target_file_size: 16 << 10,
        wal_reserve_bytes: 4 << 10,
        ..Options::default()
    }
}

/// Opens the database at `/db` of a simulated file system.
pub fn open_sim(fs: &SimFs) -> strata_engine::Result<Db> {
    open_sim_at(fs, Path::new("/db"))
}

/// Opens the database at `dir` of a simulated file system.
pub fn open_sim_at(fs: &SimFs, dir: &Path) -> strata_engine::Result<Db> {
    open_sim_with(fs, dir, sim_options())
}

/// Opens the database at `dir` of a simulated file system with `opts`.
pub fn open_sim_with(fs: &SimFs, dir: &Path, opts: Options) -> strata_engine::Result<Db> {
    Db::open_with(dir, opts, Arc::new(fs.clone()), Box::new(|| {}))
}

/// Runs `test` for each seed: only `<one>` when that variable is set, else 1 to `<many>`
/// (default `default`). A failure names the seed and how to replay it.
pub fn for_each_seed(one: &str, many: &str, default: u64, test: impl Fn(u64)) {
    let seeds: Vec<u64> = match std::env::var(one) {
        Ok(s) => vec![s.parse().unwrap_or_else(|_| panic!("{one} is a number"))],
        Err(_) => {
            let n = std::env::var(many)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default);
            (1..=n).collect()
        }
    };
    for seed in seeds {
        // AssertUnwindSafe: the panic is re-raised at once; nothing observes the state.
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(seed))) {
            eprintln!("failed for seed {seed}; replay with {one}={seed}");
            std::panic::resume_unwind(e);
        }
    }
}

/// A closed database in `dir` holding ten puts (keys `k0`..`k9`, values of 32 copies of the
/// key's number), whose WAL was then cut past the seal close wrote and into its last record:
/// what a crash in the middle of writing that record leaves. Returns the WAL's path and new
/// length.
pub fn torn_wal_fixture(dir: &Path) -> (PathBuf, u64) {
    {
        let mut db = Db::open(dir, Options::default()).unwrap();
        for i in 0..10u8 {
            let mut b = strata_engine::Batch::new();
            b.put(&[b'k', i], &[i; 32]).unwrap();
            db.write(b).unwrap();
        }
        db.close().unwrap();
    }
    let wal = dir.join("000001.wal");
    let len = std::fs::metadata(&wal).unwrap().len();
    let torn = len - strata_engine::wal::RECORD_HEADER_LEN as u64 - 7;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(torn)
        .unwrap();
    (wal, torn)
}
