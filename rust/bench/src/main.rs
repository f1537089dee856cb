//! strata-bench: strata's engine against fjall and redb, same workloads, same run.
//!
//! Workloads run in the order given; within a workload every engine runs back to back, so the
//! engines see the same machine state. Read workloads reopen the database that fillrandom
//! produced (running an untimed fillrandom first if it was not selected). See
//! `docs/benchmarks.md` for what each workload does and how each engine is configured.

mod data;
mod engines;
mod measurement;
mod workloads;

use std::path::{Path, PathBuf};
use std::time::Instant;

use data::Data;
use engines::{Durability, Engine, Result};
use measurement::Row;

const WORKLOADS: [&str; 9] = [
    "fillseq",
    "fillrandom",
    "readrandom",
    "readmissing",
    "scan",
    "scan100",
    "scanall",
    "mix",
    "fillsync",
];

const USAGE: &str = "\
usage: strata-bench [flags]
  --keys N            keys written by fillseq/fillrandom (default 1000000)
  --value-size N      value bytes (default 100); keys are 16 bytes
  --reads N           point reads in readrandom and readmissing (default: --keys)
  --scans N           scans in scan (seek + 10 entries) and scan100 (seek + 100, per thread
                      count) (default: --keys / 10)
  --full-scans N      times scanall reads the whole database, one thread (default 5)
  --read-threads L    readrandom and scan100 thread counts, comma-separated (default 1,16)
  --mix-ops N         operations of the 50/50 read/write mix, no fsync (default: --keys)
  --mix-threads L     mix thread counts, comma-separated (default 16)
  --sync-ops N        fsynced writes in fillsync, split among the writers (default 20000)
  --sync-writers L    fillsync writer thread counts, comma-separated (default 1,32)
  --engines L         comma-separated from strata,fjall,redb (default all)
  --workloads L       comma-separated from fillseq,fillrandom,readrandom,readmissing,scan,
                      scan100,scanall,mix,fillsync
                      (default all)
  --dir D             where databases go (default a temp dir under /tmp, removed at exit;
                      a given --dir is kept, and read workloads reuse a fillrandom database
                      already in it, which must have the same --keys)
  --json              one JSON object per engine x workload on stdout; the table goes to stderr";

struct Config {
    keys: u64,
    value_size: usize,
    reads: u64,
    scans: u64,
    full_scans: u64,
    read_threads: Vec<usize>,
    mix_ops: u64,
    mix_threads: Vec<usize>,
    sync_ops: u64,
    sync_writers: Vec<usize>,
    engines: Vec<Engine>,
    workloads: Vec<&'static str>,
    dir: Option<PathBuf>,
    json: bool,
}

fn parse_args() -> std::result::Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let mut c = Config {
        keys: 1_000_000,
        value_size: 100,
        reads: 0,
        scans: 0,
        full_scans: 5,
        read_threads: vec![1, 16],
        mix_ops: 0,
        mix_threads: vec![16],
        sync_ops: 20_000,
        sync_writers: vec![1, 32],
        engines: Engine::ALL.to_vec(),
        workloads: WORKLOADS.to_vec(),
        dir: None,
        json: false,
    };
    let (mut reads, mut scans, mut mix_ops) = (None, None, None);
    while let Some(flag) = args.next() {
        if flag == "--json" {
            c.json = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--keys" => c.keys = number()?.max(1),
            "--value-size" => c.value_size = number()? as usize,
            "--reads" => reads = Some(number()?),
            "--scans" => scans = Some(number()?),
            "--full-scans" => c.full_scans = number()?.max(1),
            "--sync-ops" => c.sync_ops = number()?,
            "--mix-ops" => mix_ops = Some(number()?),
            "--sync-writers" => c.sync_writers = counts(&flag, &value)?,
            "--read-threads" => c.read_threads = counts(&flag, &value)?,
            "--mix-threads" => c.mix_threads = counts(&flag, &value)?,
            "--engines" => {
                c.engines = list(&value)
                    .map(|e| Engine::parse(e).ok_or_else(|| format!("unknown engine {e}")))
                    .collect::<std::result::Result<_, String>>()?
            }
            "--workloads" => {
                c.workloads = list(&value)
                    .map(|w| {
                        WORKLOADS
                            .into_iter()
                            .find(|&known| known == w)
                            .ok_or_else(|| format!("unknown workload {w}"))
                    })
                    .collect::<std::result::Result<_, String>>()?
            }
            "--dir" => c.dir = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    c.reads = reads.unwrap_or(c.keys);
    c.scans = scans.unwrap_or((c.keys / 10).max(1));
    c.mix_ops = mix_ops.unwrap_or(c.keys);
    Ok(c)
}

/// A comma-separated list of thread counts, each at least 1.
fn counts(flag: &str, value: &str) -> std::result::Result<Vec<usize>, String> {
    let counts = list(value)
        .map(|w| match w.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("{flag} {w}: not a positive number")),
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    if counts.is_empty() {
        return Err(format!("{flag}: no thread count"));
    }
    Ok(counts)
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

/// The directory all databases of this run live under; removed on drop when it is ours.
struct RunDir {
    path: PathBuf,
    remove: bool,
}

impl RunDir {
    fn new(given: Option<PathBuf>) -> Result<RunDir> {
        let (path, remove) = match given {
            Some(p) => (p, false),
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .subsec_nanos();
                let name = format!("strata-bench-{}-{nanos}", std::process::id());
                (std::env::temp_dir().join(name), true)
            }
        };
        std::fs::create_dir_all(&path)?;
        Ok(RunDir { path, remove })
    }

    /// A fresh (emptied) directory for one engine's database.
    fn fresh(&self, engine: Engine, workload: &str) -> Result<PathBuf> {
        let dir = self.path.join(format!("{}-{workload}", engine.name()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        Ok(dir)
    }

    fn filled(&self, engine: Engine) -> PathBuf {
        self.path.join(format!("{}-fillrandom", engine.name()))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Bytes the files under `dir` occupy on disk (allocated blocks, as `du` counts them).
fn disk_usage(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            disk_usage(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Ok(total)
}

struct Runner {
    config: Config,
    data: Data,
    run_dir: RunDir,
    /// Engines whose fillrandom database is ready to be reopened for reads.
    filled: Vec<Engine>,
}

impl Runner {
    fn run(&mut self, engine: Engine, workload: &'static str) -> Result<Vec<Row>> {
        let name = engine.name();
        match workload {
            "fillseq" | "fillrandom" => {
                let order: Vec<u64> = if workload == "fillseq" {
                    (0..self.data.keys).collect()
                } else {
                    (0..self.data.keys)
                        .map(|j| self.data.fill_order(j))
                        .collect()
                };
                let dir = self.run_dir.fresh(engine, workload)?;
                let mut store = engine.open(&dir, Durability::Buffered)?;
                let m = workloads::fill(store.as_mut(), &self.data, &order)?;
                let mut row = Row::new(name, workload, 1, "batch", m);
                let t = Instant::now();
                store.close()?;
                row.close_secs = Some(t.elapsed().as_secs_f64());
                row.disk_bytes = Some(disk_usage(&dir)?);
                if workload == "fillrandom" {
                    self.filled.push(engine);
                } else if self.run_dir.remove {
                    std::fs::remove_dir_all(&dir)?;
                }
                Ok(vec![row])
            }
            "readrandom" | "readmissing" | "scan" | "scan100" | "scanall" | "mix" => {
                // A kept --dir may hold a fillrandom database from an earlier run (for
                // profiling reads alone); it must have been made with the same --keys.
                let reusable = !self.run_dir.remove && self.run_dir.filled(engine).exists();
                if !self.filled.contains(&engine) && !reusable {
                    eprintln!("  ({name}: untimed fillrandom to read from)");
                    self.run(engine, "fillrandom")?;
                }
                let store = engine.open(&self.run_dir.filled(engine), Durability::Buffered)?;
                let shape = store.describe();
                if !shape.is_empty() {
                    eprintln!("  ({name} reopened: {shape})");
                }
                let threads = match workload {
                    "readrandom" | "scan100" => self.config.read_threads.clone(),
                    "mix" => self.config.mix_threads.clone(),
                    _ => vec![1],
                };
                let mut rows = Vec::new();
                for t in threads {
                    let (data, store) = (&self.data, store.as_ref());
                    let m = match workload {
                        "scan" => {
                            let scans = self.config.scans;
                            workloads::scan(store, data, scans, workloads::SCAN_LEN, 1)?
                        }
                        "scan100" => {
                            let (scans, len) = (self.config.scans, workloads::LONG_SCAN_LEN);
                            workloads::scan(store, data, scans, len, t)?
                        }
                        "scanall" => workloads::scan_all(store, data, self.config.full_scans)?,
                        "mix" => workloads::mix(store, data, self.config.mix_ops, t)?,
                        _ => workloads::read(
                            store,
                            data,
                            self.config.reads,
                            workload == "readmissing",
                            t,
                        )?,
                    };
                    let unit = if workload == "scanall" { "pass" } else { "op" };
                    rows.push(Row::new(name, workload, t, unit, m));
                }
                store.close()?;
                Ok(rows)
            }
            "fillsync" => {
                let mut rows = Vec::new();
                for &writers in &self.config.sync_writers {
                    let dir = self.run_dir.fresh(engine, &format!("fillsync{writers}"))?;
                    let m = engine.fill_sync(&dir, &self.data, writers, self.config.sync_ops)?;
                    rows.push(Row::new(name, workload, writers, "op", m));
                    if self.run_dir.remove {
                        std::fs::remove_dir_all(&dir)?;
                    }
                }
                Ok(rows)
            }
            other => Err(format!("unknown workload {other}").into()),
        }
    }
}

fn main() {
    let config = match parse_args() {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run_all(config) {
        eprintln!("strata-bench: {e}");
        std::process::exit(1);
    }
}

fn run_all(config: Config) -> Result<()> {
    let data = Data::new(config.keys, config.value_size);
    let run_dir = RunDir::new(config.dir.clone())?;
    eprintln!(
        "strata-bench: {} keys x ({} + {}) bytes, {} reads, {} scans, {} mix ops, {} fillsync writes; dir {}",
        config.keys,
        data::KEY_LEN,
        config.value_size,
        config.reads,
        config.scans,
        config.mix_ops,
        config.sync_ops,
        run_dir.path.display()
    );
    let json = config.json;
    let mut runner = Runner {
        data,
        run_dir,
        filled: Vec::new(),
        config,
    };
    let mut rows = Vec::new();
    for workload in runner.config.workloads.clone() {
        for engine in runner.config.engines.clone() {
            for row in runner.run(engine, workload)? {
                eprintln!(
                    "  {:<14} {:<7} {:>10.0} ops/s",
                    row.label(),
                    row.engine,
                    row.ops_per_sec()
                );
                if json {
                    println!("{}", row.to_json());
                }
                rows.push(row);
            }
        }
    }
    // Group the table by workload (fillsync by writer count too), engines in run order.
    rows.sort_by_key(|r| (WORKLOADS.iter().position(|&w| w == r.workload), r.threads));
    let table = measurement::table(&rows);
    if json {
        eprint!("\n{table}");
    } else {
        print!("\n{table}");
    }
    Ok(())
}
