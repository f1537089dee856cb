//! Leveled compaction: choosing what to merge, and merging it into new tables.
//!
//! L0 holds flushed memtables, which may overlap. Once L0 has `l0_trigger` tables they are
//! merged with the L1 tables they overlap. Each deeper level has a byte target, `ratio` times
//! the one above; a level over its target sends one table (round-robin through its key space)
//! down, merged with the overlapping tables of the next level. Merging drops versions that no
//! snapshot can see, versions a range tombstone deletes for every snapshot, tombstones that
//! shadow nothing deeper, and range tombstones no other table needs (see
//! [`crate::range_del`]).
//!
//! This module decides and computes; it never changes the live tree. The tree installs what a
//! merge produced.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::cache::TableCache;
use crate::error::{Error, Result};
use crate::fs::FileSystem;
use crate::iterator::{InternalIterator, MergingIter};
use crate::key::{self, ValueKind};
use crate::manifest::{table_name, FileMeta, NUM_LEVELS};
use crate::range_del::{RangeDelSet, RangeTombstone};
use crate::sstable::table::TableId;
use crate::sstable::{TableBuilder, TableOptions, TableSummary};
use crate::version::{covers, level_bytes, LevelIter, Levels};

/// Shape of the tree.
#[derive(Debug, Clone)]
pub struct Config {
    /// L0 tables that trigger an L0 -> L1 compaction.
    pub l0_trigger: usize,
    /// Byte target of L1.
    pub l1_target_bytes: u64,
    /// Each level's target is this many times the one above.
    pub ratio: u64,
    /// Output tables are cut near this size (at a user-key boundary).
    pub target_file_size: u64,
}

/// The byte target of `level` (>= 1).
pub fn level_target(cfg: &Config, level: usize) -> u64 {
    let mut t = cfg.l1_target_bytes;
    for _ in 1..level {
        t = t.saturating_mul(cfg.ratio);
    }
    t
}

/// Bytes above target summed over levels 1..: how far compaction is behind.
pub fn debt(cfg: &Config, levels: &Levels) -> u64 {
    (1..NUM_LEVELS - 1)
        .map(|l| level_bytes(&levels[l]).saturating_sub(level_target(cfg, l)))
        .sum()
}

/// One merge: `inputs` from `level` with the overlapping `next` tables of `output_level`
/// (`level + 1`, or `level` itself when a manual compaction rewrites the bottom of the tree).
#[derive(Debug, Clone)]
pub struct Compaction {
    pub level: usize,
    pub inputs: Vec<Arc<FileMeta>>,
    pub next: Vec<Arc<FileMeta>>,
    pub output_level: usize,
}

impl Compaction {
    /// The level outputs go to.
    pub fn output_level(&self) -> usize {
        self.output_level
    }

    /// True when the inputs can simply move down a level: nothing below overlaps them and they
    /// do not overlap each other (L0 tables may), so there is nothing to merge. A sequential
    /// load moves down this way without being rewritten. Such a move drops no garbage.
    pub fn is_trivial_move(&self) -> bool {
        self.output_level == self.level + 1
            && self.next.is_empty()
            && (self.level > 0 || disjoint(&self.inputs))
    }

    /// Numbers of every input table.
    pub fn file_numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.inputs.iter().chain(&self.next).map(|f| f.number)
    }

    /// Bytes read by this merge.
    pub fn input_bytes(&self) -> u64 {
        level_bytes(&self.inputs) + level_bytes(&self.next)
    }
}

/// True when no two of `files` share a user key.
fn disjoint(files: &[Arc<FileMeta>]) -> bool {
    let mut sorted: Vec<&Arc<FileMeta>> = files.iter().collect();
    sorted.sort_by(|a, b| key::compare_internal(&a.smallest, &b.smallest));
    sorted
        .windows(2)
        .all(|w| key::user_key(&w[0].largest) < key::user_key(&w[1].smallest))
}

/// The user-key range covered by `files`.
fn key_range(files: &[Arc<FileMeta>]) -> Option<(Vec<u8>, Vec<u8>)> {
    let lo = files.iter().map(|f| key::user_key(&f.smallest)).min()?;
    let hi = files.iter().map(|f| key::user_key(&f.largest)).max()?;
    Some((lo.to_vec(), hi.to_vec()))
}

/// Tables of `files` overlapping the user-key range `[lo, hi]`.
fn overlapping(files: &[Arc<FileMeta>], lo: &[u8], hi: &[u8]) -> Vec<Arc<FileMeta>> {
    files
        .iter()
        .filter(|f| key::user_key(&f.smallest) <= hi && key::user_key(&f.largest) >= lo)
        .cloned()
        .collect()
}

/// Builds the compaction of `inputs` (at `level`) with what they overlap below, unless a table
/// involved is already being compacted.
fn with_next(
    levels: &Levels,
    level: usize,
    mut inputs: Vec<Arc<FileMeta>>,
    busy: &HashSet<u64>,
) -> Option<Compaction> {
    let (mut lo, mut hi) = key_range(&inputs)?;
    if level == 0 {
        // L0 tables overlap each other: take every L0 table touching the range, repeatedly.
        loop {
            let grown = overlapping(&levels[0], &lo, &hi);
            if grown.len() == inputs.len() {
                break;
            }
            inputs = grown;
            (lo, hi) = key_range(&inputs)?;
        }
    }
    let next = overlapping(&levels[level + 1], &lo, &hi);
    let all_free = inputs
        .iter()
        .chain(&next)
        .all(|f| !busy.contains(&f.number));
    all_free.then_some(Compaction {
        level,
        inputs,
        next,
        output_level: level + 1,
    })
}

/// Chooses the most urgent compaction, if any is due. `pointers` holds, per level, the largest
/// user key compacted last, so levels are worked through round-robin.
pub fn pick(
    cfg: &Config,
    levels: &Levels,
    busy: &HashSet<u64>,
    pointers: &[Option<Vec<u8>>],
) -> Option<Compaction> {
    if levels[0].len() >= cfg.l0_trigger {
        if let Some(c) = pick_l0(levels, busy) {
            return Some(c);
        }
    }
    let mut best: Option<(f64, usize)> = None;
    for (level, files) in levels.iter().enumerate().take(NUM_LEVELS - 1).skip(1) {
        let score = level_bytes(files) as f64 / level_target(cfg, level) as f64;
        if score > 1.0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, level));
        }
    }
    let (_, level) = best?;
    let files = &levels[level];
    let start = match &pointers[level] {
        Some(p) => files.partition_point(|f| key::user_key(&f.largest) <= &p[..]),
        None => 0,
    };
    (0..files.len())
        .map(|i| &files[(start + i) % files.len()])
        .find_map(|f| with_next(levels, level, vec![Arc::clone(f)], busy))
}

/// The compaction of every L0 table into L1, whatever L0 holds: what `pick` starts at the
/// trigger, and what reads through L0 ask for once they paid for it. `None` when L0 is empty
/// or a table involved is busy.
pub fn pick_l0(levels: &Levels, busy: &HashSet<u64>) -> Option<Compaction> {
    with_next(levels, 0, levels[0].clone(), busy)
}

/// The manual-compaction step for `level` over the user-key range `[lo, hi]`: move what
/// overlaps down one level, or, when nothing lies below it, rewrite it in place so garbage
/// (overwritten values, dead tombstones) is dropped. `None` when nothing in `level` overlaps
/// or a table is busy.
pub fn pick_range(
    levels: &Levels,
    level: usize,
    lo: &[u8],
    hi: &[u8],
    busy: &HashSet<u64>,
) -> Option<Compaction> {
    let inputs = overlapping(&levels[level], lo, hi);
    if inputs.is_empty() {
        return None;
    }
    let bottom = levels[level + 1..]
        .iter()
        .all(|files| overlapping(files, lo, hi).is_empty());
    if bottom && level > 0 {
        let all_free = inputs.iter().all(|f| !busy.contains(&f.number));
        return all_free.then_some(Compaction {
            level,
            inputs,
            next: Vec::new(),
            output_level: level,
        });
    }
    with_next(levels, level, inputs, busy)
}

/// What a merge needs from its surroundings.
pub struct MergeEnv<'a> {
    pub fs: &'a dyn FileSystem,
    pub dir: &'a Path,
    pub tables: &'a Arc<TableCache>,
    /// The database the output tables belong to.
    pub db_id: u64,
    pub table_options: TableOptions,
    pub target_file_size: u64,
    /// Live snapshots, ascending. Each keeps the newest version at or below its sequence
    /// number; current readers keep the newest version of all. Other versions go.
    pub snapshots: &'a [u64],
    /// The live tree, to tell whether a tombstone still shadows something.
    pub levels: &'a Levels,
    /// The tables this merge reads (which the tree still lists while it runs).
    pub inputs: &'a HashSet<u64>,
    /// Range tombstones whose deletions the merge applies: only durable ones (in live tables,
    /// or in the memtable being flushed, whose table will hold them too), so a crash can
    /// never keep a dropped version's deleter from coming back.
    pub range_dels: &'a RangeDelSet,
    /// Allocates a file number for each output table.
    pub next_number: &'a (dyn Fn() -> u64 + Sync),
    /// Set when the database closes: the merge stops and removes what it wrote.
    pub cancel: &'a AtomicBool,
}

/// Which entries a merge may leave out.
#[derive(Debug, Clone, Copy)]
enum Drop {
    /// Versions hidden from every snapshot by a newer version of the same key (a flush: older
    /// tables may still hold the key, so its tombstones stay).
    Shadowed,
    /// Those, and tombstones no level below the output level `.0` can need.
    ShadowedAndDeadTombstones(usize),
}

/// Writes the sorted stream `source` to tables, cutting them near the target size, leaving out
/// what `drop` allows.
fn write_tables(
    env: &MergeEnv<'_>,
    source: &mut MergingIter<'_>,
    drop: Drop,
) -> Result<Vec<FileMeta>> {
    let mut outputs: Vec<FileMeta> = Vec::new();
    let mut builder: Option<(u64, TableBuilder)> = None;
    let mut current_user_key: Vec<u8> = Vec::new();
    let mut has_current = false;
    // The snapshot stripe of the previous (newer) version of the current user key.
    let mut newer_stripe: Option<usize> = None;
    // Versions between two adjacent snapshots are one stripe: only the newest is ever read.
    let stripe = |seq: u64| env.snapshots.partition_point(|&s| s < seq);
    let oldest_snapshot = env.snapshots.first().copied().unwrap_or(u64::MAX);
    let result = (|| -> Result<()> {
        source.seek(None);
        let mut n = 0u64;
        while source.valid() {
            n += 1;
            if n % 1024 == 0 && env.cancel.load(Ordering::Relaxed) {
                return Err(Error::Closed);
            }
            let ikey = source.key();
            let p = key::parse_internal(ikey)
                .ok_or_else(|| Error::Internal("a table holds a malformed internal key".into()))?;
            let new_user_key = !has_current || p.user_key != &current_user_key[..];
            if new_user_key {
                current_user_key.clear();
                current_user_key.extend_from_slice(p.user_key);
                has_current = true;
                newer_stripe = None;
            }
            let leave_out = if p.kind == ValueKind::RangeDelete {
                // No version of its start key: it neither shadows nor is shadowed. A
                // compaction drops it when it deletes nothing, or once every snapshot sees it
                // and nothing it deletes is left (this merge drops what it deletes in its
                // inputs). A flush keeps it, empty or not: the newest sequence number of the
                // memtable must reach the table, where recovery looks for it.
                let tomb = RangeTombstone::of(&p, source.value());
                matches!(drop, Drop::ShadowedAndDeadTombstones(_))
                    && (tomb.is_empty()
                        || (p.seq <= oldest_snapshot && !others_hold_older(env, &tomb)))
            } else {
                // A newer version in the same stripe hides this one from every reader, and
                // so does a range tombstone with no snapshot between it and the version.
                let shadowed = newer_stripe == Some(stripe(p.seq));
                let range_deleted = env
                    .range_dels
                    .deleter_of(p.user_key, p.seq)
                    .is_some_and(|t| stripe(t) == stripe(p.seq));
                let leave = shadowed
                    || range_deleted
                    || match drop {
                        Drop::Shadowed => false,
                        Drop::ShadowedAndDeadTombstones(base) => {
                            p.kind == ValueKind::Delete
                                && p.seq <= oldest_snapshot
                                && !deeper_levels_cover(env.levels, base, p.user_key)
                        }
                    };
                newer_stripe = Some(stripe(p.seq));
                leave
            };
            if !leave_out {
                // Cut only between user keys, so one key's versions stay in one table.
                let full = builder
                    .as_ref()
                    .is_some_and(|(_, b)| b.estimated_size() >= env.target_file_size);
                if full && new_user_key {
                    let (number, b) = builder.take().unwrap();
                    outputs.push(finish(number, b)?);
                }
                if builder.is_none() {
                    let number = (env.next_number)();
                    let path = env.dir.join(table_name(number));
                    let file = env
                        .fs
                        .create(&path)
                        .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
                    builder = Some((
                        number,
                        TableBuilder::new(
                            file,
                            path,
                            TableId {
                                db_id: env.db_id,
                                number,
                            },
                            env.table_options.clone(),
                        ),
                    ));
                }
                builder.as_mut().unwrap().1.add(ikey, source.value())?;
            }
            source.advance();
        }
        source.status()?;
        if let Some((number, b)) = builder.take() {
            outputs.push(finish(number, b)?);
        }
        Ok(())
    })();
    if let Err(e) = result {
        // Remove every table this merge wrote: none of them is live.
        if let Some((number, _)) = builder {
            outputs.push(FileMeta {
                number,
                ..empty_meta()
            });
        }
        for f in &outputs {
            let _ = env.fs.remove(&env.dir.join(table_name(f.number)));
        }
        return Err(e);
    }
    Ok(outputs)
}

fn empty_meta() -> FileMeta {
    FileMeta {
        number: 0,
        size: 0,
        entries: 0,
        smallest_seq: 0,
        largest_seq: 0,
        footer_crc: 0,
        smallest: Box::default(),
        largest: Box::default(),
        range_dels: Vec::new(),
    }
}

fn finish(number: u64, builder: TableBuilder) -> Result<FileMeta> {
    Ok(file_meta(number, builder.finish()?))
}

/// The manifest entry of table `number`, from what the table holds.
pub fn file_meta(number: u64, s: TableSummary) -> FileMeta {
    FileMeta {
        number,
        size: s.size,
        entries: s.entries,
        smallest_seq: s.smallest_seq,
        largest_seq: s.largest_seq,
        footer_crc: s.footer_crc,
        smallest: s.smallest.into(),
        largest: s.largest.into(),
        range_dels: s.range_dels,
    }
}

/// True when a live table this merge does not read may hold a version `tomb` deletes: one
/// over its range with anything older than it. (Memtables never do: everything in them is
/// newer than every table.)
fn others_hold_older(env: &MergeEnv<'_>, tomb: &RangeTombstone) -> bool {
    env.levels.iter().flatten().any(|f| {
        !env.inputs.contains(&f.number)
            && f.smallest_seq < tomb.seq
            && tomb.overlaps(key::user_key(&f.smallest), key::user_key(&f.largest))
    })
}

/// True when one range tombstone of a live table deletes every entry of `f` for every
/// reader: it spans `f`'s keys, is newer than all of them, and no snapshot lies between `f`'s
/// oldest entry and it. A table holding range tombstones itself is never left out (they may
/// delete more than it holds).
fn wholly_deleted(env: &MergeEnv<'_>, f: &FileMeta) -> bool {
    if !f.range_dels.is_empty() {
        return false;
    }
    let (lo, hi) = (key::user_key(&f.smallest), key::user_key(&f.largest));
    let stripe = |seq: u64| env.snapshots.partition_point(|&s| s < seq);
    env.levels
        .iter()
        .flatten()
        .flat_map(|t| &t.range_dels)
        .any(|t| {
            &*t.start <= lo
                && hi < &*t.end
                && f.largest_seq < t.seq
                && stripe(f.smallest_seq) == stripe(t.seq)
        })
}

/// The range tombstones of every table in `levels`.
pub fn level_range_dels(levels: &Levels) -> RangeDelSet {
    RangeDelSet::new(levels.iter().flatten().flat_map(|f| &f.range_dels))
}

/// True if a level below `base` may hold `user_key`.
fn deeper_levels_cover(levels: &Levels, base: usize, user_key: &[u8]) -> bool {
    levels[base + 1..]
        .iter()
        .any(|files| files.iter().any(|f| covers(f, user_key)))
}

/// Runs compaction `c`, returning the new tables for its output level.
/// Inputs a range tombstone deletes whole are left out of the merge unread: the merge would
/// drop every entry of them (see [`wholly_deleted`]), and they go with the other inputs.
pub fn run(env: &MergeEnv<'_>, c: &Compaction) -> Result<Vec<FileMeta>> {
    let read = |files: &[Arc<FileMeta>]| -> Vec<Arc<FileMeta>> {
        files
            .iter()
            .filter(|f| !wholly_deleted(env, f))
            .cloned()
            .collect()
    };
    let (inputs, next) = (read(&c.inputs), read(&c.next));
    let mut children: Vec<Box<dyn InternalIterator + '_>> = Vec::new();
    if c.level == 0 {
        for f in &inputs {
            children.push(Box::new(env.tables.get(f)?.iter()));
        }
    } else if !inputs.is_empty() {
        children.push(Box::new(LevelIter::new(Arc::clone(env.tables), inputs)));
    }
    if !next.is_empty() {
        children.push(Box::new(LevelIter::new(Arc::clone(env.tables), next)));
    }
    let mut merged = MergingIter::new(children, false);
    write_tables(
        env,
        &mut merged,
        Drop::ShadowedAndDeadTombstones(c.output_level()),
    )
}

/// Writes everything `source` yields as tables for the bottom level: only the newest version
/// of each key, and no tombstone (nothing lies below). For repair, which merges every table
/// it found into one sorted run; `env.levels` must be empty.
pub fn merge_into_bottom(
    env: &MergeEnv<'_>,
    source: &mut MergingIter<'_>,
) -> Result<Vec<FileMeta>> {
    write_tables(env, source, Drop::ShadowedAndDeadTombstones(NUM_LEVELS - 1))
}

/// Writes a frozen memtable to L0, leaving out the versions no snapshot can see. Pass a
/// `MergeEnv` with an unbounded `target_file_size`: one memtable makes one table, so L0 holds
/// as few tables as possible.
/// The memtable's range deletes travel as table entries, merged in key order with the rest.
/// Pass them (alone) as `env.range_dels`: they are durable together with what they delete.
pub fn flush(env: &MergeEnv<'_>, mem: &crate::memtable::Memtable) -> Result<Vec<FileMeta>> {
    let mut children: Vec<Box<dyn InternalIterator + '_>> = vec![Box::new(mem.iter())];
    if !mem.range_tombstones().is_empty() {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = mem
            .range_tombstones()
            .iter()
            .map(|t| (t.internal_key(), t.end.to_vec()))
            .collect();
        entries.sort_by(|a, b| key::compare_internal(&a.0, &b.0));
        children.push(Box::new(crate::iterator::VecIter::new(entries)));
    }
    let mut merged = MergingIter::new(children, false);
    write_tables(env, &mut merged, Drop::Shadowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::empty_levels;

    fn meta(number: u64, lo: &str, hi: &str, size: u64) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            size,
            entries: 1,
            smallest_seq: 1,
            largest_seq: 1,
            footer_crc: 0,
            smallest: key::internal_key(lo.as_bytes(), 1, ValueKind::Put).into(),
            largest: key::internal_key(hi.as_bytes(), 1, ValueKind::Put).into(),
            range_dels: Vec::new(),
        })
    }

    fn no_pointers() -> Vec<Option<Vec<u8>>> {
        vec![None; NUM_LEVELS]
    }

    fn cfg() -> Config {
        Config {
            l0_trigger: 4,
            l1_target_bytes: 100,
            ratio: 10,
            target_file_size: 50,
        }
    }

    #[test]
    fn l0_trigger_takes_all_of_l0_and_the_overlapping_l1() {
        let mut levels = empty_levels();
        for (i, (lo, hi)) in [("a", "c"), ("b", "d"), ("m", "n"), ("c", "e")]
            .iter()
            .enumerate()
        {
            levels[0].push(meta(10 + i as u64, lo, hi, 10));
        }
        levels[1] = vec![
            meta(1, "a", "b", 10),
            meta(2, "f", "g", 10),
            meta(3, "m", "z", 10),
            meta(4, "zz", "zzz", 10),
        ];
        let none = HashSet::new();
        let c = pick(&cfg(), &levels, &none, &no_pointers()).unwrap();
        assert_eq!(c.level, 0);
        assert_eq!(c.inputs.len(), 4);
        let next: Vec<u64> = c.next.iter().map(|f| f.number).collect();
        // The L0 range a..n covers every L1 table but none past it.
        assert_eq!(next, vec![1, 2, 3]);
        // Below the trigger nothing is due, but L0 can still be compacted on request (reads
        // through it paid for it): all of it, with what it overlaps.
        levels[0].pop();
        assert!(pick(&cfg(), &levels, &none, &no_pointers()).is_none());
        let c = pick_l0(&levels, &none).unwrap();
        let inputs: Vec<u64> = c.inputs.iter().map(|f| f.number).collect();
        assert_eq!((inputs, c.input_bytes()), (vec![10, 11, 12], 60));
        assert!(pick_l0(&empty_levels(), &none).is_none(), "an empty L0");
        // A busy table blocks the compaction that would need it.
        levels[0].push(meta(20, "a", "z", 10));
        let busy: HashSet<u64> = [3].into();
        assert!(pick(&cfg(), &levels, &busy, &no_pointers()).is_none());
    }

    #[test]
    fn disjoint_l0_tables_move_down_without_a_rewrite() {
        let mut levels = empty_levels();
        for (i, (lo, hi)) in [("e", "f"), ("c", "d"), ("a", "b")].iter().enumerate() {
            levels[0].push(meta(10 + i as u64, lo, hi, 10));
        }
        levels[0].push(meta(20, "g", "h", 10));
        let none = HashSet::new();
        let c = pick(&cfg(), &levels, &none, &no_pointers()).unwrap();
        assert!(c.is_trivial_move());
        // One overlap, in L0 or below, forces a merge.
        levels[0].push(meta(21, "b", "c", 10));
        assert!(!pick(&cfg(), &levels, &none, &no_pointers())
            .unwrap()
            .is_trivial_move());
        levels[0].pop();
        levels[1].push(meta(1, "h", "i", 10));
        assert!(!pick(&cfg(), &levels, &none, &no_pointers())
            .unwrap()
            .is_trivial_move());
    }

    #[test]
    fn the_fullest_level_sends_tables_down_round_robin() {
        let mut levels = empty_levels();
        levels[1] = vec![meta(1, "a", "c", 60), meta(2, "d", "f", 60)]; // 120 > 100
        levels[2] = vec![meta(3, "b", "b", 10), meta(4, "e", "e", 10)];
        let none = HashSet::new();
        let mut pointers: Vec<Option<Vec<u8>>> = vec![None; NUM_LEVELS];
        let c = pick(&cfg(), &levels, &none, &pointers).unwrap();
        assert_eq!((c.level, c.inputs[0].number, c.next[0].number), (1, 1, 3));
        pointers[1] = Some(b"c".to_vec());
        let c = pick(&cfg(), &levels, &none, &pointers).unwrap();
        assert_eq!((c.inputs[0].number, c.next[0].number), (2, 4));
        assert_eq!(debt(&cfg(), &levels), 20);
    }
}
