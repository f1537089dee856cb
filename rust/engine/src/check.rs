//! `strata check`: verify every checksum of a closed database and name each damaged file.
//!
//! Reads the manifest, every table (every block, and its identity against the manifest), and
//! every WAL segment, without changing anything. Holds the directory lock meanwhile, so it
//! never races a writer. A directory without a manifest is refused when it holds no strata
//! file, and reported damaged (the manifest missing) when it holds strata tables or WAL.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::db::{lock_dir, refuse_without_manifest};
use crate::error::{Error, Result};
use crate::fs::{FileSystem, RealFs};
use crate::manifest::{self, parse_table_name, table_name, FileMeta};
use crate::sstable::table::TableId;
use crate::sstable::Table;
use crate::wal;

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    pub name: String,
    /// `Ok(summary)` when intact, `Err(why)` when damaged.
    pub verdict: std::result::Result<String, String>,
}

/// The verdicts on every file of a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub files: Vec<FileCheck>,
}

impl CheckReport {
    /// True when any file is damaged.
    pub fn damaged(&self) -> bool {
        self.files.iter().any(|f| f.verdict.is_err())
    }

    /// One line per file: `ok NAME: summary` or `damaged NAME: why`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            let _ = match &f.verdict {
                Ok(summary) => writeln!(out, "ok {}: {summary}", f.name),
                Err(why) => writeln!(out, "damaged {}: {why}", f.name),
            };
        }
        out
    }

    fn push(&mut self, name: String, verdict: std::result::Result<String, String>) {
        self.files.push(FileCheck { name, verdict });
    }
}

/// Checks the database in `dir` on the real file system.
pub fn check_dir(dir: &Path) -> Result<CheckReport> {
    crate::threads::enter_engine();
    check_with(&RealFs, dir)
}

/// Checks the database in `dir` through `fs`.
pub fn check_with(fs: &dyn FileSystem, dir: &Path) -> Result<CheckReport> {
    let mut names = fs
        .list(dir)
        .map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
    names.sort();
    let mut report = CheckReport::default();
    if !names.iter().any(|n| n == manifest::MANIFEST_FILE) {
        match refuse_without_manifest(fs, dir, &names) {
            e @ Error::Corruption { .. } => {
                report.push(manifest::MANIFEST_FILE.into(), Err(e.to_string()))
            }
            e => return Err(e),
        }
    }
    // Checking never creates files: the lock is on the directory itself.
    let _lock = lock_dir(fs, dir, true)?;

    let manifest = manifest::read(fs, dir);
    let listed: Vec<Arc<FileMeta>> = match &manifest {
        Ok(Some(state)) => {
            let n: usize = state.levels.iter().map(Vec::len).sum();
            report.push(
                manifest::MANIFEST_FILE.into(),
                Ok(format!("{n} tables, log from segment {}", state.log_number)),
            );
            state.levels.iter().flatten().cloned().collect()
        }
        Ok(None) => Vec::new(),
        Err(e) => {
            report.push(manifest::MANIFEST_FILE.into(), Err(e.to_string()));
            Vec::new()
        }
    };
    let db_id = match &manifest {
        Ok(Some(state)) => Some(state.db_id),
        _ => None,
    };
    let log_number = match &manifest {
        Ok(Some(state)) => state.log_number,
        _ => 0,
    };

    for f in &listed {
        if !names.contains(&table_name(f.number)) {
            report.push(
                table_name(f.number),
                Err("listed in the manifest but missing".into()),
            );
        }
    }
    for name in &names {
        if let Some(number) = parse_table_name(name) {
            let meta = listed.iter().find(|f| f.number == number);
            let verdict = check_table(fs, dir, number, meta.zip(db_id)).map(|(entries, id)| {
                let live = match (meta, db_id) {
                    (Some(_), _) => "live",
                    (None, Some(db)) if id.db_id == db => "not in the manifest: a leftover",
                    (None, Some(_)) => "not in the manifest, of another database",
                    (None, None) => "no manifest to list it",
                };
                format!("{entries} entries, {live}")
            });
            report.push(name.clone(), verdict.map_err(|e| e.to_string()));
        }
    }
    let mut segments: Vec<u64> = names
        .iter()
        .filter_map(|n| wal::parse_segment_name(n))
        .collect();
    segments.sort_unstable();
    for (i, &number) in segments.iter().enumerate() {
        let name = wal::segment_name(number);
        let path = dir.join(&name);
        let verdict = fs
            .read_all(&path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))
            .and_then(|data| {
                let mut records = 0u64;
                let last = i + 1 == segments.len();
                let r = wal::replay(&path, &data, last, |_, _| {
                    records += 1;
                    Ok(())
                })?;
                let obsolete = if number < log_number {
                    ", obsolete"
                } else {
                    ""
                };
                Ok(if r.torn_bytes > 0 {
                    format!(
                        "{records} records, torn tail of {} bytes{obsolete}",
                        r.torn_bytes
                    )
                } else {
                    format!("{records} records{obsolete}")
                })
            });
        report.push(name, verdict.map_err(|e| e.to_string()));
    }
    Ok(report)
}

/// Verifies table `number` block by block, and against its manifest entry when it has one
/// (`listed`, with the database's id). Returns its entry count and identity.
fn check_table(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    listed: Option<(&Arc<FileMeta>, u64)>,
) -> Result<(u64, TableId)> {
    let path = dir.join(table_name(number));
    let file = fs
        .open_read(&path)
        .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    let table = Arc::new(Table::open(file, path, number, None)?);
    if let Some((meta, db_id)) = listed {
        table.check_identity(db_id, meta.size, meta.footer_crc)?;
    }
    Ok((table.verify()?, table.id()))
}
