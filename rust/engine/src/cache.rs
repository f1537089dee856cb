//! Caches that bound what reads keep in memory: [`BlockCache`] holds decoded SSTable data
//! blocks under a byte budget, [`TableCache`] holds a bounded number of open [`Table`]s.
//!
//! Both hand out `Arc`s, so an evicted entry stays usable by whoever still holds it; eviction
//! only drops the cache's reference. Both are shared by the flush, compaction and read threads,
//! and lock internally. A cache must never decide what is correct to read: a miss is always
//! answered by reading the file again.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::fs::FileSystem;
use crate::manifest::{table_name, FileMeta};
use crate::sstable::block::Block;
use crate::sstable::Table;

/// Number of independently locked shards of the block cache, so concurrent readers rarely
/// contend on one mutex.
const SHARDS: usize = 16;
/// Bookkeeping charged per cached block on top of its bytes (slab node, map slot, Arc header).
pub const BLOCK_OVERHEAD: usize = 64;

const NIL: usize = usize::MAX;

/// Hashes the integer keys of the caches (file numbers, block offsets). The keys come from the
/// engine itself, never from users, so a multiply-and-mix hash is safe here, and it costs a
/// fraction of the default DoS-resistant SipHash, which every table probe and block lookup
/// would otherwise pay.
#[derive(Default)]
struct NumberHasher(u64);

impl Hasher for NumberHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        // The table uses both the low bits (bucket) and the top bits (tag): fold them together.
        let h = self.0 ^ (self.0 >> 31);
        h.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (h >> 29)
    }
}

type NumberMap<K> = HashMap<K, usize, BuildHasherDefault<NumberHasher>>;

struct Node<K, V> {
    key: K,
    value: V,
    charge: usize,
    /// Towards the most recently used end.
    prev: usize,
    /// Towards the least recently used end.
    next: usize,
}

/// A least-recently-used map with a charge budget. The recency list is doubly linked through
/// indices into a slab of nodes, so every operation is O(1) without unsafe pointers.
struct Lru<K, V> {
    map: NumberMap<K>,
    slots: Vec<Option<Node<K, V>>>,
    free: Vec<usize>,
    /// Most recently used.
    head: usize,
    /// Least recently used: evicted first.
    tail: usize,
    usage: usize,
    capacity: usize,
}

impl<K: Copy + Eq + Hash, V: Clone> Lru<K, V> {
    fn new(capacity: usize) -> Lru<K, V> {
        Lru {
            map: NumberMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            usage: 0,
            capacity,
        }
    }

    fn node(&self, idx: usize) -> &Node<K, V> {
        self.slots[idx]
            .as_ref()
            .expect("an LRU index in the list or map names an occupied slot")
    }

    fn node_mut(&mut self, idx: usize) -> &mut Node<K, V> {
        self.slots[idx]
            .as_mut()
            .expect("an LRU index in the list or map names an occupied slot")
    }

    fn unlink(&mut self, idx: usize) {
        let (prev, next) = {
            let n = self.node(idx);
            (n.prev, n.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.node_mut(p).next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.node_mut(n).prev = prev,
        }
    }

    fn push_front(&mut self, idx: usize) {
        let old_head = self.head;
        {
            let n = self.node_mut(idx);
            n.prev = NIL;
            n.next = old_head;
        }
        match old_head {
            NIL => self.tail = idx,
            h => self.node_mut(h).prev = idx,
        }
        self.head = idx;
    }

    /// The value for `key`, marking it most recently used.
    fn get(&mut self, key: &K) -> Option<V> {
        let idx = *self.map.get(key)?;
        if idx != self.head {
            self.unlink(idx);
            self.push_front(idx);
        }
        Some(self.node(idx).value.clone())
    }

    /// Inserts (or replaces) `key`, then evicts from the cold end until the budget holds.
    /// An entry larger than the whole budget is not cached; returns whether it was.
    fn insert(&mut self, key: K, value: V, charge: usize) -> bool {
        self.remove(&key);
        if charge > self.capacity {
            return false;
        }
        let node = Node {
            key,
            value,
            charge,
            prev: NIL,
            next: NIL,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(node);
                i
            }
            None => {
                self.slots.push(Some(node));
                self.slots.len() - 1
            }
        };
        self.map.insert(key, idx);
        self.push_front(idx);
        self.usage += charge;
        while self.usage > self.capacity {
            let cold = self.tail;
            let cold_key = self.node(cold).key;
            self.remove(&cold_key);
        }
        true
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        let idx = self.map.remove(key)?;
        self.unlink(idx);
        let node = self.slots[idx].take()?;
        self.free.push(idx);
        self.usage -= node.charge;
        Some(node.value)
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    /// Every value, in no particular order.
    fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten().map(|n| &n.value)
    }

    /// Lowers the budget to `capacity` and evicts from the cold end until it holds.
    fn shrink_to(&mut self, capacity: usize) {
        self.capacity = self.capacity.min(capacity);
        while self.usage > self.capacity {
            let cold = self.tail;
            let cold_key = self.node(cold).key;
            self.remove(&cold_key);
        }
    }

    /// Keys from most to least recently used.
    #[cfg(test)]
    fn keys_by_recency(&self) -> Vec<K> {
        let mut out = Vec::new();
        let mut idx = self.head;
        while idx != NIL {
            out.push(self.node(idx).key);
            idx = self.node(idx).next;
        }
        out
    }
}

/// True for the errors of a process (EMFILE) or system (ENFILE) out of file descriptors.
pub fn is_descriptor_shortage(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Locks `m`, ignoring poisoning: every LRU operation leaves the structure consistent before
/// anything that could panic, so a panic elsewhere under the lock does not corrupt it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

type BlockKey = (u64, u64);

/// Decoded data blocks keyed by `(file number, block offset)`, under a byte budget shared by
/// 16 independently locked LRU shards.
pub struct BlockCache {
    shards: Vec<Mutex<Lru<BlockKey, Arc<Block>>>>,
    capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity", &self.capacity)
            .field("usage", &self.usage())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` (0 caches nothing). The budget is split evenly
    /// across shards, so a block larger than a shard's share is never cached.
    pub fn new(capacity_bytes: usize) -> Arc<BlockCache> {
        let shards = (0..SHARDS)
            .map(|i| {
                let extra = usize::from(i < capacity_bytes % SHARDS);
                Mutex::new(Lru::new(capacity_bytes / SHARDS + extra))
            })
            .collect();
        Arc::new(BlockCache {
            shards,
            capacity: capacity_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn shard(&self, key: BlockKey) -> &Mutex<Lru<BlockKey, Arc<Block>>> {
        // Offsets of one file share low bits (block sizes are similar), so mix before picking.
        let mut h = key.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ key.1;
        h ^= h >> 31;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 29;
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// The cached block at `offset` of table `file_number`, counting a hit or a miss.
    pub fn get(&self, file_number: u64, offset: u64) -> Option<Arc<Block>> {
        let key = (file_number, offset);
        let found = lock(self.shard(key)).get(&key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches `block` as the block at `offset` of table `file_number`.
    pub fn insert(&self, file_number: u64, offset: u64, block: Arc<Block>) {
        let key = (file_number, offset);
        let charge = block.size() + BLOCK_OVERHEAD;
        lock(self.shard(key)).insert(key, block, charge);
    }

    /// Bytes currently charged.
    pub fn usage(&self) -> usize {
        self.shards.iter().map(|s| lock(s).usage).sum()
    }

    /// The byte budget.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of blocks cached.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups that found their block.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// Open table readers, at most `max_open_files` of them (least recently used closed first).
///
/// Every table is checked against its manifest entry when opened (see
/// [`Table::check_identity`]). When the process runs out of file descriptors, the cache closes
/// half of its tables, keeps the smaller bound from then on, and tries once more: a descriptor
/// shortage shrinks the cache instead of failing reads.
pub struct TableCache {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    /// The database whose tables these are.
    db_id: u64,
    block_cache: Arc<BlockCache>,
    tables: Mutex<Lru<u64, Arc<Table>>>,
    /// Whether tables are mapped into memory when opened (see [`Table::mapped`]).
    map_tables: bool,
}

impl fmt::Debug for TableCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableCache")
            .field("dir", &self.dir)
            .field("open", &self.open_tables())
            .finish()
    }
}

impl TableCache {
    /// A cache of the tables of database `db_id` in `dir`, reading data blocks through
    /// `block_cache`.
    pub fn new(
        fs: Arc<dyn FileSystem>,
        dir: PathBuf,
        db_id: u64,
        block_cache: Arc<BlockCache>,
        max_open_files: usize,
    ) -> TableCache {
        TableCache {
            fs,
            dir,
            db_id,
            block_cache,
            tables: Mutex::new(Lru::new(max_open_files)),
            map_tables: false,
        }
    }

    /// Whether tables are mapped into memory when opened (see [`Table::mapped`]); off unless
    /// asked for.
    pub fn map_tables(mut self, on: bool) -> TableCache {
        self.map_tables = on;
        self
    }

    /// Bytes of the open tables mapped into memory, and of those resident now.
    pub fn mapped(&self) -> (u64, u64) {
        let open: Vec<Arc<Table>> = lock(&self.tables).values().cloned().collect();
        open.iter()
            .filter(|t| t.is_mapped())
            .fold((0, 0), |(bytes, resident), t| {
                (bytes + t.size(), resident + t.mapped_resident_bytes() as u64)
            })
    }

    /// The open table `meta` lists, opening `dir/{number:06}.sst` on a miss and checking it is
    /// the table `meta` describes.
    pub fn get(&self, meta: &FileMeta) -> Result<Arc<Table>> {
        if let Some(table) = lock(&self.tables).get(&meta.number) {
            return Ok(table);
        }
        // Open without the lock: opening reads the file, and other tables stay available.
        let table = Arc::new(self.open(meta)?);
        let mut tables = lock(&self.tables);
        if let Some(raced) = tables.get(&meta.number) {
            return Ok(raced);
        }
        tables.insert(meta.number, Arc::clone(&table), 1);
        Ok(table)
    }

    fn open(&self, meta: &FileMeta) -> Result<Table> {
        let path = self.dir.join(table_name(meta.number));
        let file = match self.fs.open_read(&path) {
            Err(e) if is_descriptor_shortage(&e) => {
                self.shed(&e);
                self.fs.open_read(&path)
            }
            other => other,
        }
        .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        let table = Table::open(file, path, meta.number, Some(Arc::clone(&self.block_cache)))?;
        table.check_identity(self.db_id, meta.size, meta.footer_crc)?;
        Ok(if self.map_tables { table.mapped() } else { table })
    }

    /// Closes the colder half of the open tables and keeps the cache that small from now on.
    fn shed(&self, cause: &std::io::Error) {
        let mut tables = lock(&self.tables);
        let keep = tables.len() / 2;
        tables.shrink_to(keep.max(1));
        tracing::warn!(
            dir = %self.dir.display(),
            error = %cause,
            max_open_tables = tables.capacity,
            "out of file descriptors: the table cache keeps fewer tables open"
        );
    }

    /// The most tables the cache keeps open now.
    pub fn capacity(&self) -> usize {
        lock(&self.tables).capacity
    }

    /// Forgets table `file_number` (its file is being deleted). Holders of its `Arc` keep a
    /// working reader until they drop it.
    pub fn evict(&self, file_number: u64) {
        lock(&self.tables).remove(&file_number);
    }

    /// Number of tables held open.
    pub fn open_tables(&self) -> usize {
        lock(&self.tables).len()
    }

    /// The block cache the tables read through.
    pub fn block_cache(&self) -> &Arc<BlockCache> {
        &self.block_cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RealFs;
    use crate::key::{internal_key, ValueKind};
    use crate::sstable::block::BlockBuilder;
    use crate::sstable::{TableBuilder, TableOptions};
    use std::path::Path;

    use crate::test_dir::TempDir;

    /// A block whose encoded size is about `size` bytes.
    fn block_of(size: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(16);
        b.add(
            &internal_key(b"k", 1, ValueKind::Put),
            &vec![0u8; size.saturating_sub(32)],
        );
        let data = b.finish().to_vec();
        Arc::new(Block::new(data, Arc::from(Path::new("x.sst")), 0).unwrap())
    }

    #[test]
    fn lru_evicts_least_recently_used_first() {
        let mut lru: Lru<u64, u64> = Lru::new(3);
        for k in 1..=3 {
            assert!(lru.insert(k, k * 10, 1));
        }
        assert_eq!(lru.keys_by_recency(), vec![3, 2, 1]);
        assert_eq!(lru.get(&1), Some(10));
        assert_eq!(lru.keys_by_recency(), vec![1, 3, 2]);
        lru.insert(4, 40, 1);
        assert_eq!(lru.keys_by_recency(), vec![4, 1, 3]);
        assert_eq!(lru.get(&2), None);
        // Replacing a key refreshes it and re-charges it.
        lru.insert(3, 31, 2);
        assert_eq!(lru.keys_by_recency(), vec![3, 4]);
        assert_eq!(lru.usage, 3);
        assert_eq!(lru.get(&3), Some(31));
        assert_eq!(lru.remove(&4), Some(40));
        assert_eq!(lru.keys_by_recency(), vec![3]);
        // Too big for the whole budget: not cached, and the stale entry is gone too.
        assert!(!lru.insert(3, 0, 4));
        assert_eq!(lru.len(), 0);
        assert_eq!(lru.usage, 0);
    }

    #[test]
    fn lru_usage_never_exceeds_capacity() {
        let mut lru: Lru<u64, u64> = Lru::new(1000);
        let mut x = 12345u64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = (x >> 33) % 200;
            match (x >> 20) % 4 {
                0 => {
                    lru.remove(&key);
                }
                1 => {
                    lru.get(&key);
                }
                _ => {
                    lru.insert(key, key, ((x >> 40) % 300) as usize);
                }
            }
            assert!(lru.usage <= 1000);
            let charged: usize = lru.slots.iter().flatten().map(|n| n.charge).sum();
            assert_eq!(charged, lru.usage);
            assert_eq!(lru.keys_by_recency().len(), lru.len());
        }
        // Freed slots are reused: the slab stays bounded by the number of distinct keys.
        assert!(lru.slots.len() <= 200);
    }

    #[test]
    fn block_cache_counts_and_bounds() {
        let cache = BlockCache::new(64 << 10);
        assert!(cache.get(1, 0).is_none());
        let block = block_of(1000);
        cache.insert(1, 0, Arc::clone(&block));
        let got = cache.get(1, 0).unwrap();
        assert!(Arc::ptr_eq(&got, &block));
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
        assert_eq!(cache.usage(), block.size() + BLOCK_OVERHEAD);
        for offset in 0..1000 {
            cache.insert(2, offset * 4096, block_of(1000));
            assert!(cache.usage() <= cache.capacity());
        }
        assert!(cache.len() > 16);
        // A block larger than a shard's share (4 KiB) is not cached.
        cache.insert(3, 0, block_of(5000));
        assert!(cache.get(3, 0).is_none());
        assert!(cache.usage() <= cache.capacity());
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = BlockCache::new(0);
        cache.insert(1, 0, block_of(10));
        assert!(cache.get(1, 0).is_none());
        assert!(cache.is_empty());
        assert_eq!(cache.usage(), 0);
        assert_eq!(cache.misses(), 1);
    }

    #[test]
    fn block_cache_is_shared_across_threads() {
        let cache = BlockCache::new(256 << 10);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let cache = &cache;
                s.spawn(move || {
                    for i in 0..2000u64 {
                        let offset = (i * 7 + t) % 300;
                        if cache.get(t % 2, offset).is_none() {
                            cache.insert(t % 2, offset, block_of(500));
                        }
                    }
                });
            }
        });
        assert!(cache.usage() <= cache.capacity());
        assert_eq!(cache.hits() + cache.misses(), 8000);
        assert!(cache.hits() > 0);
    }

    const TEST_DB: u64 = 77;

    /// The manifest entry of table `number` as `write_table` wrote it.
    fn meta(dir: &Path, number: u64) -> FileMeta {
        let path = dir.join(table_name(number));
        let table = Table::open(RealFs.open_read(&path).unwrap(), path, number, None).unwrap();
        crate::compaction::file_meta(number, table.summary())
    }

    fn write_table(dir: &Path, number: u64) -> FileMeta {
        let path = dir.join(table_name(number));
        let file = RealFs.create(&path).unwrap();
        let id = crate::sstable::table::TableId {
            db_id: TEST_DB,
            number,
        };
        let mut b = TableBuilder::new(file, path, id, TableOptions::default());
        for i in 0..100u64 {
            let key = internal_key(format!("k{i:04}").as_bytes(), number, ValueKind::Put);
            b.add(&key, format!("table {number}").as_bytes()).unwrap();
        }
        b.finish().unwrap();
        meta(dir, number)
    }

    #[test]
    fn table_cache_bounds_open_tables() {
        let dir = TempDir::new("cache-tables");
        let metas: Vec<FileMeta> = (0..=3).map(|n| write_table(&dir.0, n)).collect();
        let blocks = BlockCache::new(1 << 20);
        let cache = TableCache::new(
            Arc::new(RealFs),
            dir.0.clone(),
            TEST_DB,
            Arc::clone(&blocks),
            2,
        );
        let t1 = cache.get(&metas[1]).unwrap();
        assert!(Arc::ptr_eq(&t1, &cache.get(&metas[1]).unwrap()));
        cache.get(&metas[2]).unwrap();
        cache.get(&metas[3]).unwrap();
        assert_eq!(cache.open_tables(), 2);
        // Table 1 was evicted from the cache, but its holder can still read it.
        assert_eq!(
            t1.get(b"k0042", 10).unwrap(),
            Some((ValueKind::Put, b"table 1".to_vec()))
        );
        let reopened = cache.get(&metas[1]).unwrap();
        assert!(!Arc::ptr_eq(&t1, &reopened));
        assert_eq!(reopened.file_number(), 1);
        cache.evict(1);
        assert_eq!(cache.open_tables(), 1);
        let missing = FileMeta {
            number: 9,
            ..metas[1].clone()
        };
        assert!(matches!(cache.get(&missing), Err(Error::Io { .. })));
        assert!(blocks.hits() + blocks.misses() > 0);
    }

    #[test]
    fn table_cache_refuses_a_table_that_is_not_the_listed_one() {
        let dir = TempDir::new("cache-identity");
        let metas: Vec<FileMeta> = (0..=2).map(|n| write_table(&dir.0, n)).collect();
        let cache = |db_id| {
            TableCache::new(
                Arc::new(RealFs),
                dir.0.clone(),
                db_id,
                BlockCache::new(1 << 20),
                8,
            )
        };
        assert!(matches!(
            cache(TEST_DB + 1).get(&metas[1]),
            Err(Error::Corruption { .. })
        ));
        // Table 2's bytes under table 1's name (a swap on disk).
        std::fs::copy(dir.0.join(table_name(2)), dir.0.join(table_name(1))).unwrap();
        match cache(TEST_DB).get(&metas[1]) {
            Err(Error::Corruption { file, .. }) => assert_eq!(file, dir.0.join(table_name(1))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn table_cache_is_shared_across_threads() {
        let dir = TempDir::new("cache-tables-mt");
        let metas: Vec<FileMeta> = (0..=4).map(|n| write_table(&dir.0, n)).collect();
        let cache = TableCache::new(
            Arc::new(RealFs),
            dir.0.clone(),
            TEST_DB,
            BlockCache::new(1 << 20),
            2,
        );
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (cache, metas) = (&cache, &metas);
                s.spawn(move || {
                    for i in 0..200u64 {
                        let n = 1 + (i + t) % 4;
                        let table = cache.get(&metas[n as usize]).unwrap();
                        let want = format!("table {n}").into_bytes();
                        let got = table.get(b"k0007", 100).unwrap();
                        assert_eq!(got, Some((ValueKind::Put, want)));
                    }
                });
            }
        });
        assert!(cache.open_tables() <= 2);
    }
}
