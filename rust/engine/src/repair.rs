//! `strata repair`: rebuilds the manifest of a database that lost it (or whose manifest is
//! damaged) from what the tables and the WAL say about themselves.
//!
//! Repair never deletes or rewrites a file it found. It reads every table (each block is
//! checksummed), keeps the intact ones of a single database (tables carry the database's id,
//! see [`crate::sstable`]), and merges them, the way a compaction does, into new tables at the
//! bottom level: a table's level was recorded only in the lost manifest, and the merge puts
//! every key's versions back in order whatever levels they came from. The tables it read, and
//! a damaged manifest, are moved into a `pre-repair-N/` subdirectory, kept for the operator to
//! inspect and delete. WAL segments whose records all lie in the tables are left for open to
//! remove as flushed; the rest are replayed by the next open, from the first record after the
//! tables' newest sequence number.
//!
//! The order makes a repair cut short safe to run again: what is damaged (tables, the
//! manifest) goes aside first; then the merged tables are written beside the ones they come
//! from, and only then the new manifest. Cut before the manifest, the directory still has
//! every table it had (a second merge drops the duplicates the first one wrote); cut after,
//! the database is whole, and the tables it merged, not yet moved aside, are removed by the
//! next open as this database's leftovers.
//!
//! What cannot be recovered is reported, never hidden: damaged tables (kept in `pre-repair-N/`
//! as found), tables of another database (refused: repair does not mix databases), and a gap
//! between the tables' newest write and the WAL's oldest (writes that were only in lost
//! tables).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::batch::Batch;
use crate::cache::{BlockCache, TableCache};
use crate::compaction::{self, MergeEnv};
use crate::db::lock_dir;
use crate::error::{Error, Result};
use crate::fs::{FileSystem, RealFs};
use crate::iterator::{InternalIterator, MergingIter};
use crate::manifest::{self, parse_table_name, table_name, FileMeta, ManifestState, NUM_LEVELS};
use crate::range_del::RangeDelSet;
use crate::sstable::{Table, TableOptions, TableSummary};
use crate::version::empty_levels;
use crate::wal;

/// Output tables are cut near this size, as compactions cut them by default.
const TARGET_FILE_SIZE: u64 = 16 << 20;

/// What a repair did, one line per decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairReport {
    pub lines: Vec<String>,
    /// Something was lost or left out (damaged tables, a gap in the sequence).
    pub lossy: bool,
}

impl RepairReport {
    /// The report as text, one line each.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    fn say(&mut self, line: String) {
        tracing::info!("repair: {line}");
        self.lines.push(line);
    }
}

/// Repairs the database in `dir` on the real file system.
pub fn repair_dir(dir: &Path) -> Result<RepairReport> {
    crate::threads::enter_engine();
    repair_with(Arc::new(RealFs), dir)
}

/// An intact table found in the directory.
struct Found {
    meta: FileMeta,
    db_id: u64,
}

/// Repairs the database in `dir` through `fs`.
pub fn repair_with(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<RepairReport> {
    let _lock = lock_dir(fs.as_ref(), dir, false)?;
    let mut names = fs
        .list(dir)
        .map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
    names.sort();
    let mut report = RepairReport::default();
    let had_manifest = names.iter().any(|n| n == manifest::MANIFEST_FILE);
    if had_manifest {
        match manifest::read(fs.as_ref(), dir) {
            Ok(_) => {
                return Err(Error::InvalidArgument(format!(
                    "{} has an intact {}: nothing to repair (`strata check` verifies the rest)",
                    dir.display(),
                    manifest::MANIFEST_FILE
                )))
            }
            Err(e) => report.say(format!("damaged {}: {e}", manifest::MANIFEST_FILE)),
        }
    }

    let (found, damaged) = read_tables(fs.as_ref(), dir, &names, &mut report);
    let db_id = single_database(&found, dir)?;
    let segments = read_segments(fs.as_ref(), dir, &names)?;
    if found.is_empty() && segments.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} holds no intact strata table or WAL segment: nothing to repair from",
            dir.display()
        )));
    }
    let db_id = db_id.unwrap_or_else(manifest::new_db_id);

    let mut aside_moved: Vec<String> = damaged.clone();
    if had_manifest {
        aside_moved.push(manifest::MANIFEST_FILE.to_owned());
    }
    let aside = if found.is_empty() && aside_moved.is_empty() {
        None
    } else {
        Some(aside_dir(fs.as_ref(), dir, &names)?)
    };
    if let Some(aside) = &aside {
        move_into(fs.as_ref(), dir, aside, &aside_moved)?;
    }

    let table_seq = found.iter().map(|f| f.meta.largest_seq).max().unwrap_or(0);
    let (log_number, last_seq) = plan_replay(&segments, table_seq, &mut report)?;
    let max_number = names
        .iter()
        .filter_map(|n| parse_table_name(n).or_else(|| wal::parse_segment_name(n)))
        .max()
        .unwrap_or(0);
    let next = AtomicU64::new(max_number + 1);
    let outputs = merge(&fs, dir, db_id, &found, &next)?;
    let entries: u64 = outputs.iter().map(|f| f.entries).sum();
    report.say(format!(
        "merged {} tables into {} at level {} ({entries} entries)",
        found.len(),
        outputs.len(),
        NUM_LEVELS - 1
    ));

    let mut levels = empty_levels();
    levels[NUM_LEVELS - 1] = outputs.into_iter().map(Arc::new).collect();
    let state = ManifestState {
        db_id,
        next_file_number: next.load(Ordering::Relaxed),
        last_seq,
        log_number,
        levels,
    };
    manifest::write(fs.as_ref(), dir, &state)?;
    report.say(format!(
        "wrote {}: database {db_id:016x}, last sequence {last_seq}, WAL from segment {log_number}",
        manifest::MANIFEST_FILE
    ));
    if let Some(aside) = &aside {
        let inputs: Vec<String> = found.iter().map(|f| table_name(f.meta.number)).collect();
        move_into(fs.as_ref(), dir, aside, &inputs)?;
        aside_moved.extend(inputs);
        report.say(format!(
            "moved what repair read or replaced ({}) to {}/: delete it once the database reads \
             right",
            aside_moved.join(", "),
            aside.display()
        ));
    }
    Ok(report)
}

/// Opens and verifies every `NNNNNN.sst`: intact tables are returned, damaged ones named.
fn read_tables(
    fs: &dyn FileSystem,
    dir: &Path,
    names: &[String],
    report: &mut RepairReport,
) -> (Vec<Found>, Vec<String>) {
    let mut found = Vec::new();
    let mut damaged = Vec::new();
    for name in names {
        let Some(number) = parse_table_name(name) else {
            continue;
        };
        let path = dir.join(name);
        let table = fs
            .open_read(&path)
            .map_err(|e| Error::io(format!("open {}", path.display()), e))
            .and_then(|file| Table::open(file, path, number, None))
            .and_then(|t| t.verify_with_tombstones().map(|(_, dels)| (t, dels)));
        match table {
            Ok((t, range_dels)) => found.push(Found {
                db_id: t.id().db_id,
                meta: compaction::file_meta(
                    number,
                    TableSummary {
                        range_dels,
                        ..t.summary()
                    },
                ),
            }),
            Err(e) => {
                report.lossy = true;
                report.say(format!("damaged {name}: {e} (left out)"));
                damaged.push(name.clone());
            }
        }
    }
    (found, damaged)
}

/// The one database the tables belong to (`None` without tables), or an error naming them
/// when they come from several.
fn single_database(found: &[Found], dir: &Path) -> Result<Option<u64>> {
    let mut ids: Vec<u64> = found.iter().map(|f| f.db_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 1 {
        let mut detail = String::new();
        for id in &ids {
            let tables: Vec<String> = found
                .iter()
                .filter(|f| f.db_id == *id)
                .map(|f| table_name(f.meta.number))
                .collect();
            let _ = write!(detail, "; database {id:016x}: {}", tables.join(", "));
        }
        return Err(Error::InvalidArgument(format!(
            "{} holds tables of {} databases{detail}. Repair does not mix databases: move the \
             tables that do not belong elsewhere, then repair again",
            dir.display(),
            ids.len()
        )));
    }
    Ok(ids.first().copied())
}

/// One WAL segment: its number and the sequence range of its records.
struct Segment {
    number: u64,
    /// First and last sequence number of its records; `None` when it has none.
    seqs: Option<(u64, u64)>,
}

fn read_segments(fs: &dyn FileSystem, dir: &Path, names: &[String]) -> Result<Vec<Segment>> {
    let mut numbers: Vec<u64> = names
        .iter()
        .filter_map(|n| wal::parse_segment_name(n))
        .collect();
    numbers.sort_unstable();
    let mut out = Vec::new();
    for (i, &number) in numbers.iter().enumerate() {
        let path = dir.join(wal::segment_name(number));
        let data = fs
            .read_all(&path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        let mut seqs: Option<(u64, u64)> = None;
        let last = i + 1 == numbers.len();
        wal::replay(&path, &data, last, |first, payload| {
            let batch = Batch::from_bytes(payload.to_vec()).map_err(|e| {
                Error::corruption(&path, 0, format!("record payload is not a batch: {e}"))
            })?;
            let end = first + u64::from(batch.count()).max(1) - 1;
            seqs = Some(seqs.map_or((first, end), |(lo, _)| (lo, end)));
            Ok(())
        })?;
        out.push(Segment { number, seqs });
    }
    Ok(out)
}

/// Which WAL segment the next open replays from, and the last sequence number before it.
fn plan_replay(
    segments: &[Segment],
    table_seq: u64,
    report: &mut RepairReport,
) -> Result<(u64, u64)> {
    let mut last_seq = table_seq;
    for s in segments {
        let Some((first, end)) = s.seqs else {
            continue;
        };
        if end <= table_seq {
            report.say(format!(
                "{}: every record is in the tables",
                wal::segment_name(s.number)
            ));
            continue;
        }
        if first <= table_seq {
            return Err(Error::InvalidArgument(format!(
                "{} holds sequence numbers {first}..={end}, which straddle the tables' newest \
                 ({table_seq}): the tables and the log disagree, and repair cannot replay a part \
                 of a segment",
                wal::segment_name(s.number)
            )));
        }
        if first > table_seq + 1 {
            report.lossy = true;
            report.say(format!(
                "writes {}..={} are in no table and no WAL segment: lost with the tables that \
                 held them",
                table_seq + 1,
                first - 1
            ));
            last_seq = first - 1;
        }
        report.say(format!(
            "{}: replayed at the next open, from sequence {first}",
            wal::segment_name(s.number)
        ));
        return Ok((s.number, last_seq));
    }
    // Nothing to replay: the next open starts a new segment after every existing one.
    let log_number = segments.last().map_or(0, |s| s.number + 1);
    Ok((log_number, last_seq))
}

/// Merges `found` into new tables of database `db_id`, numbered from `next`.
fn merge(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    db_id: u64,
    found: &[Found],
    next: &AtomicU64,
) -> Result<Vec<FileMeta>> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let tables = Arc::new(TableCache::new(
        Arc::clone(fs),
        dir.to_owned(),
        db_id,
        BlockCache::new(8 << 20),
        64,
    ));
    let mut children: Vec<Box<dyn InternalIterator + '_>> = Vec::with_capacity(found.len());
    for f in found {
        children.push(Box::new(tables.get(&f.meta)?.iter()));
    }
    let mut merged = MergingIter::new(children, false);
    let levels = empty_levels();
    let inputs = std::collections::HashSet::new();
    // Every tombstone applies; none is kept (nothing older lies outside the merge).
    let range_dels = RangeDelSet::new(found.iter().flat_map(|f| &f.meta.range_dels));
    let cancel = AtomicBool::new(false);
    let next_number = || next.fetch_add(1, Ordering::Relaxed);
    let env = MergeEnv {
        fs: fs.as_ref(),
        dir,
        tables: &tables,
        db_id,
        table_options: TableOptions::default(),
        target_file_size: TARGET_FILE_SIZE,
        snapshots: &[],
        levels: &levels,
        inputs: &inputs,
        range_dels: &range_dels,
        next_number: &next_number,
        cancel: &cancel,
    };
    let outputs = compaction::merge_into_bottom(&env, &mut merged)?;
    fs.sync_dir(dir)
        .map_err(|e| Error::io(format!("fsync {}", dir.display()), e))?;
    Ok(outputs)
}

/// Creates a new `pre-repair-N/` in `dir` (whose entries are `names`).
fn aside_dir(fs: &dyn FileSystem, dir: &Path, names: &[String]) -> Result<PathBuf> {
    let aside = (1..)
        .map(|n| format!("pre-repair-{n}"))
        .find(|p| !names.contains(p))
        .map(|p| dir.join(p))
        .expect("an unused name exists");
    fs.create_dir_all(&aside)
        .map_err(|e| Error::io(format!("create {}", aside.display()), e))?;
    Ok(aside)
}

/// Moves the files `names` of `dir` into `aside`, durably.
fn move_into(fs: &dyn FileSystem, dir: &Path, aside: &Path, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    for name in names {
        let (from, to) = (dir.join(name), aside.join(name));
        fs.rename(&from, &to)
            .map_err(|e| Error::io(format!("move {} to {}", from.display(), to.display()), e))?;
    }
    for d in [aside, dir] {
        fs.sync_dir(d)
            .map_err(|e| Error::io(format!("fsync {}", d.display()), e))?;
    }
    Ok(())
}
