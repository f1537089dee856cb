//! Round trips through builder, reader and iterator, checked against a `BTreeMap` model: point
//! reads at every snapshot, full scans both ways and random seeks, with and without
//! compression, cache and filter. Also the model and the table fixtures the builder's and the
//! reader's own tests share.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::cache::BlockCache;
use crate::error::Result;
use crate::fs::{FileSystem, RealFs};
use crate::iterator::InternalIterator;
use crate::key::{internal_key, parse_internal, ValueKind, MAX_SEQ};
use crate::test_dir::TempDir;

use super::{Compression, Table, TableBuilder, TableId, TableIter, TableOptions, TableSummary};

/// splitmix64: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `(user key, seq, kind)` ordered exactly like
/// [`compare_internal`](crate::key::compare_internal) orders internal keys: user key
/// ascending, then the trailer (seq, then kind) descending.
pub(super) type ModelKey = (Vec<u8>, Reverse<u64>, Reverse<u8>);
pub(super) type Model = BTreeMap<ModelKey, Vec<u8>>;

pub(super) fn model_key(ikey: &[u8]) -> ModelKey {
    let p = parse_internal(ikey).unwrap();
    (p.user_key.to_vec(), Reverse(p.seq), Reverse(p.kind as u8))
}

pub(super) fn ikey(k: &ModelKey) -> Vec<u8> {
    let kind = ValueKind::from_u8(k.2 .0).unwrap();
    internal_key(&k.0, k.1 .0, kind)
}

fn user(i: u64) -> Vec<u8> {
    format!("user/{i:08}").into_bytes()
}

fn user_number(user_key: &[u8]) -> u64 {
    std::str::from_utf8(&user_key[5..])
        .unwrap()
        .parse()
        .unwrap()
}

fn value(rng: &mut Rng, len: usize) -> Vec<u8> {
    if rng.below(2) == 0 {
        // Compressible: a short pattern repeated.
        let pattern: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
        pattern.iter().copied().cycle().take(len).collect()
    } else {
        (0..len).map(|_| rng.next() as u8).collect()
    }
}

fn value_len(rng: &mut Rng) -> usize {
    match rng.below(1000) {
        0 => 100 << 10,
        1..=9 => rng.below(16 << 10) as usize,
        10..=200 => rng.below(2000) as usize,
        _ => rng.below(64) as usize,
    }
}

/// About `n` entries: user keys with gaps (absent keys in between), 1-3 versions each (some
/// of them range tombstones starting at the key, which point reads must step over),
/// a quarter of them tombstones, values from 0 bytes to 100 KiB.
pub(super) fn make_model(n: usize, seed: u64) -> Model {
    let mut rng = Rng(seed);
    let mut model = Model::new();
    let mut i = 0;
    while model.len() < n {
        i += 1 + rng.below(2);
        let versions = (1 + rng.below(3) as usize).min(n - model.len());
        let mut seq = 1 + rng.below(1000);
        for _ in 0..versions {
            let kind = match rng.below(8) {
                0 | 1 => ValueKind::Delete,
                2 => ValueKind::RangeDelete,
                _ => ValueKind::Put,
            };
            let v = match kind {
                ValueKind::Delete => Vec::new(),
                ValueKind::RangeDelete => user(i + rng.below(10)),
                ValueKind::Put => {
                    let len = value_len(&mut rng);
                    value(&mut rng, len)
                }
            };
            model.insert((user(i), Reverse(seq), Reverse(kind as u8)), v);
            seq += 1 + rng.below(5);
        }
    }
    // The extremes must be present whatever the generator drew.
    if let Some((_, v)) = model.iter_mut().next() {
        v.clear();
    }
    if n > 1 {
        if let Some((_, v)) = model.iter_mut().nth(n / 2) {
            *v = vec![7u8; 100 << 10];
        }
    }
    model
}

pub(super) fn opts(compression: Compression) -> TableOptions {
    TableOptions {
        compression,
        ..TableOptions::default()
    }
}

/// The database id every test table carries.
pub(super) const TEST_DB: u64 = 0x5157_4154_4100_0001;

/// Table number `n` of the test database.
pub(super) fn test_id(number: u64) -> TableId {
    TableId {
        db_id: TEST_DB,
        number,
    }
}

/// Builds the table at `path`: numbered by its name when that is `NNNNNN.sst`, else 1.
pub(super) fn build(path: &Path, model: &Model, opts: TableOptions) -> TableSummary {
    let number = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(crate::manifest::parse_table_name)
        .unwrap_or(1);
    let file = RealFs.create(path).unwrap();
    let mut b = TableBuilder::new(file, path.to_path_buf(), test_id(number), opts);
    for (k, v) in model {
        b.add(&ikey(k), v).unwrap();
    }
    b.finish().unwrap()
}

pub(super) fn open(path: &Path, number: u64, cache: Option<Arc<BlockCache>>) -> Result<Arc<Table>> {
    let file = RealFs.open_read(path).unwrap();
    Table::open(file, path.to_path_buf(), number, cache).map(Arc::new)
}

/// [`open`], mapping the file into memory.
pub(super) fn open_mapped(
    path: &Path,
    number: u64,
    cache: Option<Arc<BlockCache>>,
) -> Result<Arc<Table>> {
    let file = RealFs.open_read(path).unwrap();
    let table = Arc::new(Table::open(file, path.to_path_buf(), number, cache)?.mapped());
    assert!(table.is_mapped(), "{} is not mapped", path.display());
    Ok(table)
}

pub(super) fn model_get(model: &Model, user_key: &[u8], seq: u64) -> Option<(ValueKind, Vec<u8>)> {
    let from = (user_key.to_vec(), Reverse(seq), Reverse(u8::MAX));
    let (k, v) = model
        .range(from..)
        .find(|(k, _)| k.0 != user_key || k.2 .0 != ValueKind::RangeDelete as u8)?;
    (k.0 == user_key).then(|| (ValueKind::from_u8(k.2 .0).unwrap(), v.clone()))
}

fn current(it: &TableIter) -> Option<(ModelKey, Vec<u8>)> {
    it.valid()
        .then(|| (model_key(it.key()), it.value().to_vec()))
}

/// Reads every entry at its own seq, and (for every `stride`-th entry) just below and
/// above it and at the extremes, against the model.
fn check_gets(table: &Table, model: &Model, stride: usize) {
    let mut last_user: Option<&[u8]> = None;
    for (i, (k, _)) in model.iter().enumerate() {
        let uk = &k.0[..];
        let seq = k.1 .0;
        assert_eq!(table.get(uk, seq).unwrap(), model_get(model, uk, seq));
        if i % stride != 0 {
            continue;
        }
        for snap in [seq - 1, seq + 1] {
            assert_eq!(table.get(uk, snap).unwrap(), model_get(model, uk, snap));
        }
        if last_user != Some(uk) {
            for snap in [0, MAX_SEQ, u64::MAX] {
                assert_eq!(table.get(uk, snap).unwrap(), model_get(model, uk, snap));
            }
            last_user = Some(uk);
        }
    }
    // Keys in the gaps and beyond both ends are absent.
    let beyond = model
        .keys()
        .next_back()
        .map_or(1, |k| user_number(&k.0) + 1);
    for absent in [
        b"user/".to_vec(),
        b"zzz".to_vec(),
        b"".to_vec(),
        user(0),
        user(beyond),
    ] {
        assert_eq!(
            table.get(&absent, MAX_SEQ).unwrap(),
            model_get(model, &absent, MAX_SEQ)
        );
    }
}

fn check_scans(table: &Arc<Table>, model: &Model) {
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut it = table.iter();
    assert!(!it.valid());
    it.seek_to_first();
    let mut forward = Vec::new();
    while let Some(e) = current(&it) {
        forward.push(e);
        it.next();
    }
    it.status().unwrap();
    assert!(forward == want, "forward scan differs from the model");
    it.seek_to_last();
    let mut backward = Vec::new();
    while let Some(e) = current(&it) {
        backward.push(e);
        it.prev();
    }
    it.status().unwrap();
    backward.reverse();
    assert!(backward == want, "reverse scan differs from the model");
}

fn random_target(rng: &mut Rng, model: &Model) -> ModelKey {
    let max_user = model
        .keys()
        .next_back()
        .map_or(1, |k| user_number(&k.0) + 2);
    let kind = rng.below(2) as u8;
    (
        user(rng.below(max_user)),
        Reverse(rng.below(1200)),
        Reverse(kind),
    )
}

fn check_seeks(table: &Arc<Table>, model: &Model, seed: u64, count: usize) {
    let mut rng = Rng(seed);
    let mut it = table.iter();
    for _ in 0..count {
        let t = random_target(&mut rng, model);
        let target = ikey(&t);
        it.seek(&target);
        let mut want = model.range(t.clone()..);
        assert_eq!(
            current(&it),
            want.next().map(|(k, v)| (k.clone(), v.clone()))
        );
        // A few steps forward cross block boundaries now and then.
        for _ in 0..3 {
            it.next();
            assert_eq!(
                current(&it),
                want.next().map(|(k, v)| (k.clone(), v.clone()))
            );
        }
        it.seek_for_prev(&target);
        let mut want = model.range(..=t.clone()).rev();
        assert_eq!(
            current(&it),
            want.next().map(|(k, v)| (k.clone(), v.clone()))
        );
        for _ in 0..3 {
            it.prev();
            assert_eq!(
                current(&it),
                want.next().map(|(k, v)| (k.clone(), v.clone()))
            );
        }
        it.status().unwrap();
    }
}

fn check_table(table: &Arc<Table>, model: &Model, seed: u64, seeks: usize) {
    let stride = if model.len() > 10_000 { 8 } else { 1 };
    check_gets(table, model, stride);
    check_scans(table, model);
    check_seeks(table, model, seed, seeks);
    assert_eq!(table.verify().unwrap(), model.len() as u64);
    assert_eq!(table.entries(), model.len() as u64);
    let (first, last) = (
        model.keys().next().unwrap(),
        model.keys().next_back().unwrap(),
    );
    assert_eq!(table.smallest(), &ikey(first)[..]);
    assert_eq!(table.largest(), &ikey(last)[..]);
    let seqs = model.keys().map(|k| k.1 .0);
    assert_eq!(table.smallest_seq(), seqs.clone().min().unwrap());
    assert_eq!(table.largest_seq(), seqs.max().unwrap());
}

/// How a round trip opens its table: block compression, whether through a block cache, and
/// whether mapped into memory.
type Config = (Compression, bool, bool);

fn round_trip(n: usize, configs: &[Config], seeks: usize) {
    let dir = TempDir::new(&format!("roundtrip-{n}"));
    let model = make_model(n, n as u64);
    for (i, &(compression, cached, mapped)) in configs.iter().enumerate() {
        let path = dir.0.join(crate::manifest::table_name(i as u64 + 1));
        let started = Instant::now();
        let summary = build(&path, &model, opts(compression));
        let built = started.elapsed();
        assert_eq!(summary.entries, model.len() as u64);
        assert_eq!(summary.size, std::fs::metadata(&path).unwrap().len());
        assert_eq!(summary.smallest, ikey(model.keys().next().unwrap()));
        assert_eq!(summary.largest, ikey(model.keys().next_back().unwrap()));
        let cache = cached.then(|| BlockCache::new(64 << 20));
        let table = match mapped {
            true => open_mapped(&path, i as u64 + 1, cache.clone()).unwrap(),
            false => open(&path, i as u64 + 1, cache.clone()).unwrap(),
        };
        // The builder lists the range tombstones; a full read finds the same ones.
        let tombstones: Vec<_> = model
            .iter()
            .filter(|(k, _)| k.2 .0 == ValueKind::RangeDelete as u8)
            .map(|(k, v)| crate::range_del::RangeTombstone::from_entry(&ikey(k), v).unwrap())
            .collect();
        assert_eq!(summary.range_dels, tombstones);
        let (entries, found) = table.verify_with_tombstones().unwrap();
        assert_eq!((entries, &found), (model.len() as u64, &tombstones));
        assert_eq!(
            table.summary(),
            TableSummary {
                range_dels: Vec::new(),
                ..summary.clone()
            }
        );
        let started = Instant::now();
        check_table(&table, &model, i as u64, seeks);
        let checked = started.elapsed();
        if let Some(cache) = cache {
            let hits = cache.hits();
            check_gets(&table, &model, 64);
            // A map serves uncompressed blocks (all blocks, where none compressed well)
            // without the cache.
            if !mapped {
                assert!(cache.hits() > hits, "second pass hit the cache");
            }
            assert!(cache.usage() <= cache.capacity());
        }
        println!(
            "{n} entries, {compression:?}, cache {cached}, mapped {mapped}: {} bytes, built in \
             {built:?}, checked in {checked:?}",
            summary.size
        );
    }
}

const ALL_CONFIGS: [Config; 6] = [
    (Compression::None, false, false),
    (Compression::None, true, false),
    (Compression::Lz4, false, false),
    (Compression::Lz4, true, false),
    (Compression::None, true, true),
    (Compression::Lz4, true, true),
];

#[test]
fn one_entry_table() {
    round_trip(1, &ALL_CONFIGS, 50);
}

#[test]
fn hundred_entry_table() {
    round_trip(100, &ALL_CONFIGS, 500);
}

#[test]
fn hundred_thousand_entry_table() {
    round_trip(
        100_000,
        &[
            (Compression::Lz4, true, false),
            (Compression::None, false, false),
            (Compression::None, false, true),
        ],
        2000,
    );
}

#[test]
fn tiny_blocks_cross_boundaries_everywhere() {
    let dir = TempDir::new("sst-tiny");
    let model = make_model(300, 9);
    for (i, block_size) in [1, 64, 300].into_iter().enumerate() {
        let path = dir.0.join(format!("tiny{i}.sst"));
        let o = TableOptions {
            block_size,
            restart_interval: 1 + i * 3,
            ..TableOptions::default()
        };
        build(&path, &model, o);
        check_table(&open(&path, 1, None).unwrap(), &model, 77, 1000);
        check_table(&open_mapped(&path, 1, None).unwrap(), &model, 78, 1000);
    }
}

#[test]
fn lz4_shrinks_compressible_blocks() {
    let dir = TempDir::new("sst-lz4");
    let mut model = Model::new();
    for i in 0..2000 {
        let v = format!("value {i} ").repeat(10).into_bytes();
        model.insert((user(i), Reverse(5), Reverse(1)), v);
    }
    let raw = build(&dir.0.join("raw.sst"), &model, opts(Compression::None));
    let lz4 = build(&dir.0.join("lz4.sst"), &model, opts(Compression::Lz4));
    assert!(
        lz4.size * 2 < raw.size,
        "lz4 {} vs raw {}",
        lz4.size,
        raw.size
    );
    let table = open(&dir.0.join("lz4.sst"), 1, None).unwrap();
    check_table(&table, &model, 3, 200);
}

#[test]
fn bloom_filter_skips_absent_keys() {
    let dir = TempDir::new("sst-bloom");
    let model = make_model(5000, 5);
    let path = dir.0.join("t.sst");
    build(&path, &model, TableOptions::default());
    let table = open(&path, 1, None).unwrap();
    assert!(model.keys().all(|k| table.may_contain(&k.0)));
    let fp = (0..5000)
        .filter(|i| table.may_contain(format!("absent/{i}").as_bytes()))
        .count();
    assert!(fp < 100, "{fp} false positives");
    // Without a filter every key may be present, and reads are still right.
    let path = dir.0.join(crate::manifest::table_name(2));
    let o = TableOptions {
        bloom_bits_per_key: 0,
        ..TableOptions::default()
    };
    build(&path, &model, o);
    let table = open(&path, 2, None).unwrap();
    assert!(table.may_contain(b"absent"));
    check_gets(&table, &model, 1);
}
