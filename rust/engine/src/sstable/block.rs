//! Sorted blocks of internal-key entries: the unit an SSTable reads, checksums and caches.
//!
//! ```text
//! block   := entry* restart:u32le* restart_count:u32le
//! entry   := shared:varint unshared:varint value_len:varint key_delta[unshared] value[value_len]
//! ```
//!
//! Each key is stored as the length of the prefix it shares with the previous key plus the
//! bytes that differ. Every `restart_interval`-th entry is a restart point: it stores its full
//! key (`shared = 0`) and its offset is listed in the restart array, so a seek binary-searches
//! the restart points and then scans at most one interval. Keys are internal keys, ordered by
//! [`compare_internal`]; they are never compared bytewise.
//!
//! This module sees one block's bytes only: it knows nothing of files, checksums or compression
//! (the table layer handles those before a block gets here). A reader must never panic or read
//! out of bounds on damaged bytes; it reports [`Error::Corruption`] instead.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::Mapping;
use crate::iterator::InternalIterator;
use crate::key::{compare_internal, KeyBuf};

/// Restart interval used when the caller asks for none. 8 rather than LevelDB's 16: a point
/// read decodes and compares half as many entries after its binary search, for about 1% more
/// table bytes (natively, 1M keys: readrandom 16 threads 266k -> 318k ops/s, 115.6 -> 116.7 MB).
pub const DEFAULT_RESTART_INTERVAL: usize = 8;

/// Appends `v` as an LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes an LEB128 varint at `*pos` and advances `*pos`, or `None` when the bytes end early or
/// encode more than 64 bits.
pub fn get_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*pos)?;
        *pos += 1;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        v |= bits << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Decodes a varint that must fit a `usize` length.
fn get_len(data: &[u8], pos: &mut usize) -> Option<usize> {
    // Entry lengths are almost always below 128: one byte, no loop.
    let first = *data.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(usize::from(first));
    }
    usize::try_from(get_varint(data, pos)?).ok()
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Builds one block from entries added in increasing key order. The caller (the table builder)
/// checks the order; this type only encodes.
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    /// Entries since the last restart point.
    counter: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// A builder that stores a full key every `restart_interval` entries (at least 1).
    pub fn new(restart_interval: usize) -> BlockBuilder {
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            restart_interval: restart_interval.max(1),
            counter: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    /// Appends an entry. `key` must sort after every key added since the last reset.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.counter < self.restart_interval {
            common_prefix(&self.last_key, key)
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
            0
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(&key[shared..]);
        self.counter += 1;
        self.entries += 1;
    }

    /// The size the finished block will have.
    pub fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// True when no entry was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Entries added since the last reset.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The last key added.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Appends the restart array and returns the finished block. Call [`reset`](Self::reset)
    /// before adding the next block's entries.
    pub fn finish(&mut self) -> &[u8] {
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        self.buf
            .extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        &self.buf
    }

    /// Empties the builder for the next block, keeping its allocations.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.last_key.clear();
        self.entries = 0;
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A decoded, validated block. The restart array is checked once here so iterators can index
/// it freely; entries are checked as they are decoded.
#[derive(Debug)]
pub struct Block {
    data: Bytes,
    /// Where the restart array begins: entries live in `data[..restarts_offset]`.
    restarts_offset: usize,
    num_restarts: usize,
    /// The file and block offset, named in corruption errors.
    file: Arc<Path>,
    offset: u64,
}

/// Where a block's bytes live: a buffer of its own (read from the file, or decompressed), or
/// a range of a table's memory map.
enum Bytes {
    Owned(Vec<u8>),
    Mapped { map: Arc<Mapping>, start: usize, len: usize },
}

impl Bytes {
    fn get(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped { map, start, len } => &map.bytes()[*start..*start + *len],
        }
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bytes::Owned(v) => write!(f, "{} owned bytes", v.len()),
            Bytes::Mapped { start, len, .. } => write!(f, "{len} mapped bytes at {start}"),
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.get()
    }
}

impl Block {
    /// Validates the restart array of `data`, the block stored at `offset` in `file`.
    pub fn new(data: Vec<u8>, file: Arc<Path>, offset: u64) -> Result<Block> {
        Block::validate(Bytes::Owned(data), file, offset)
    }

    /// [`Block::new`] over `len` bytes of `map` from `start`, copying nothing. The caller has
    /// checked the range lies inside the map.
    pub fn mapped(
        map: Arc<Mapping>,
        start: usize,
        len: usize,
        file: Arc<Path>,
        offset: u64,
    ) -> Result<Block> {
        Block::validate(Bytes::Mapped { map, start, len }, file, offset)
    }

    fn validate(data: Bytes, file: Arc<Path>, offset: u64) -> Result<Block> {
        let bad = |detail: String| Error::corruption(file.to_path_buf(), offset, detail);
        let len = data.len();
        if len < 4 {
            return Err(bad(format!("block of {len} bytes has no restart count")));
        }
        let num_restarts = le_u32(&data[len - 4..]) as usize;
        if num_restarts == 0 || num_restarts > (len - 4) / 4 {
            return Err(bad(format!(
                "restart count {num_restarts} does not fit a block of {len} bytes"
            )));
        }
        let restarts_offset = len - 4 - 4 * num_restarts;
        let block = Block {
            data,
            restarts_offset,
            num_restarts,
            file,
            offset,
        };
        block.check_restarts()?;
        Ok(block)
    }

    /// Restart offsets must start at 0, increase, and point inside the entry area (an empty
    /// block has the single restart 0).
    fn check_restarts(&self) -> Result<()> {
        if self.restart_point(0) != 0 {
            return Err(self.corruption("first restart point is not 0".into()));
        }
        if self.restarts_offset == 0 {
            if self.num_restarts != 1 {
                return Err(self.corruption("empty block with several restart points".into()));
            }
            return Ok(());
        }
        for i in 1..self.num_restarts {
            let (prev, cur) = (self.restart_point(i - 1), self.restart_point(i));
            if cur <= prev || cur >= self.restarts_offset {
                return Err(self.corruption(format!("restart point {i} at {cur} is out of order")));
            }
        }
        Ok(())
    }

    /// The block's size in bytes (what a cache charges for it).
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// Number of restart points (for an index block, whose every entry is one: its entries).
    pub fn restarts(&self) -> usize {
        self.num_restarts
    }

    /// The block's offset in its file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// An unpositioned iterator over the block's entries.
    pub fn iter(self: &Arc<Self>) -> BlockIter {
        BlockIter {
            block: Arc::clone(self),
            current: self.restarts_offset,
            next_offset: self.restarts_offset,
            restart_index: self.num_restarts,
            next_restart: self.restarts_offset,
            key: KeyBuf::new(),
            value: (0, 0),
            corrupt: None,
            behind: Vec::new(),
            behind_keys: Vec::new(),
        }
    }

    fn restart_point(&self, i: usize) -> usize {
        let at = self.restarts_offset + 4 * i;
        let bytes: [u8; 4] = self.data[at..at + 4]
            .try_into()
            .expect("a four-byte slice converts to [u8; 4]");
        u32::from_le_bytes(bytes) as usize
    }

    /// Offset where restart interval `i` ends: the next restart point, or the end of the
    /// entry area after the last one.
    fn restart_end(&self, i: usize) -> usize {
        if i + 1 < self.num_restarts {
            self.restart_point(i + 1)
        } else {
            self.restarts_offset
        }
    }

    fn corruption(&self, detail: String) -> Error {
        Error::corruption(self.file.to_path_buf(), self.offset, detail)
    }

    /// Decodes the entry header at `off`: `(shared, unshared, value_len, key_delta_start)`,
    /// checking that the key delta and value lie inside the entry area.
    fn entry_header(&self, off: usize) -> Option<(usize, usize, usize, usize)> {
        let entries = &self.data[..self.restarts_offset];
        let mut pos = off;
        let shared = get_len(entries, &mut pos)?;
        let unshared = get_len(entries, &mut pos)?;
        let value_len = get_len(entries, &mut pos)?;
        let end = pos.checked_add(unshared)?.checked_add(value_len)?;
        (end <= self.restarts_offset).then_some((shared, unshared, value_len, pos))
    }

    /// The full key stored at restart point `i`.
    fn restart_key(&self, i: usize) -> Option<&[u8]> {
        let (shared, unshared, _, start) = self.entry_header(self.restart_point(i))?;
        (shared == 0).then(|| &self.data[start..start + unshared])
    }
}

/// A cursor over one block. Holds the block alive through an `Arc`, so a cached block stays
/// readable while it is iterated even if the cache evicts it.
#[derive(Debug)]
pub struct BlockIter {
    block: Arc<Block>,
    /// Offset of the current entry; `restarts_offset` when not positioned.
    current: usize,
    /// Offset of the entry after the current one.
    next_offset: usize,
    /// The restart interval that contains `current`.
    restart_index: usize,
    /// Where the interval `restart_index` ends (cached: every decoded entry checks it).
    next_restart: usize,
    /// The current key, inline for keys up to `KEY_INLINE` bytes: a cursor allocates nothing.
    key: KeyBuf,
    /// Byte range of the current value.
    value: (usize, usize),
    /// Set on the first damaged entry; the iterator stays invalid from then on.
    corrupt: Option<String>,
    /// The entries of a restart interval that a step back decoded on its way to the entry
    /// before the current one, in block order, for the next steps back to take without
    /// decoding the interval again (entries only link forward: without them, walking a block
    /// backwards decoded each interval once per entry in it). Their keys are in
    /// `behind_keys`.
    behind: Vec<Decoded>,
    behind_keys: Vec<u8>,
}

/// An entry [`BlockIter::prev`] decoded: where it is, and where its key lies in `behind_keys`.
#[derive(Debug, Clone, Copy)]
struct Decoded {
    at: usize,
    next_offset: usize,
    restart_index: usize,
    key_start: usize,
    value: (usize, usize),
}

impl BlockIter {
    /// Moves this cursor to `block`, unpositioned, keeping its key buffer (a table iterator
    /// walks many blocks with one cursor).
    pub fn reset(&mut self, block: Arc<Block>) {
        self.block = block;
        self.corrupt = None;
        self.key.clear();
        self.value = (0, 0);
        self.behind.clear();
        self.behind_keys.clear();
        self.mark_end();
    }

    /// The restart interval holding the current entry: in a block whose every entry is a
    /// restart point (an index block), the entry's position.
    pub fn restart_index(&self) -> usize {
        self.restart_index
    }

    fn mark_end(&mut self) {
        self.current = self.block.restarts_offset;
        self.next_offset = self.block.restarts_offset;
        self.restart_index = self.block.num_restarts;
        self.next_restart = self.block.restarts_offset;
    }

    fn fail(&mut self, detail: String) {
        self.corrupt.get_or_insert(detail);
        self.mark_end();
    }

    /// Positions before the first entry of restart interval `i`.
    fn seek_to_restart(&mut self, i: usize) {
        self.key.clear();
        self.restart_index = i;
        self.next_offset = self.block.restart_point(i);
        self.next_restart = self.block.restart_end(i);
    }

    /// Decodes the entry at `next_offset`. Returns false at the end of the block or on damage.
    fn parse_next(&mut self) -> bool {
        self.current = self.next_offset;
        if self.current >= self.block.restarts_offset {
            self.mark_end();
            return false;
        }
        match self.decode_current() {
            Ok(()) => true,
            Err(detail) => {
                self.fail(detail);
                false
            }
        }
    }

    /// Decodes the entry at `current` into `key` and `value`, or says what is wrong with it.
    fn decode_current(&mut self) -> std::result::Result<(), String> {
        // Borrow the block through its field (not a method), so `key` stays mutable alongside.
        let block = &*self.block;
        let at = self.current;
        let (shared, unshared, value_len, start) = block
            .entry_header(at)
            .ok_or_else(|| format!("entry at block offset {at} is malformed"))?;
        if shared > self.key.len() {
            return Err(format!(
                "entry at block offset {at} shares {shared} bytes of a {}-byte key",
                self.key.len()
            ));
        }
        while self.next_restart <= at {
            self.restart_index += 1;
            self.next_restart = block.restart_end(self.restart_index);
        }
        if shared != 0 && block.restart_point(self.restart_index) == at {
            return Err(format!(
                "restart entry at block offset {at} has a shared prefix"
            ));
        }
        self.key.truncate(shared);
        self.key
            .extend_from_slice(&block.data[start..start + unshared]);
        let value_start = start + unshared;
        self.value = (value_start, value_start + value_len);
        self.next_offset = value_start + value_len;
        Ok(())
    }

    /// The last restart interval whose first key is `< target` (0 if none is), by binary search.
    fn restart_before(&mut self, target: &[u8]) -> Option<usize> {
        let (mut left, mut right) = (0, self.block.num_restarts - 1);
        while left < right {
            let mid = (left + right).div_ceil(2);
            let Some(key) = self.block.restart_key(mid) else {
                let at = self.block.restart_point(mid);
                self.fail(format!("restart entry at block offset {at} is malformed"));
                return None;
            };
            if compare_internal(key, target) == Ordering::Less {
                left = mid;
            } else {
                right = mid - 1;
            }
        }
        Some(left)
    }
}

impl InternalIterator for BlockIter {
    fn valid(&self) -> bool {
        self.corrupt.is_none() && self.current < self.block.restarts_offset
    }

    fn seek_to_first(&mut self) {
        if self.corrupt.is_none() {
            self.seek_to_restart(0);
            self.parse_next();
        }
    }

    fn seek_to_last(&mut self) {
        if self.corrupt.is_none() {
            self.seek_to_restart(self.block.num_restarts - 1);
            while self.parse_next() && self.next_offset < self.block.restarts_offset {}
        }
    }

    fn seek(&mut self, target: &[u8]) {
        if self.corrupt.is_some() {
            return;
        }
        let Some(restart) = self.restart_before(target) else {
            return;
        };
        self.seek_to_restart(restart);
        // The search only moves past restart 0 to a restart key below `target`: no need to
        // compare that first entry again.
        let mut known_below = restart > 0;
        while self.parse_next() {
            if known_below {
                known_below = false;
            } else if compare_internal(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.seek(target);
        if self.corrupt.is_some() {
            return;
        }
        if !self.valid() {
            self.seek_to_last();
        } else if compare_internal(&self.key, target) == Ordering::Greater {
            self.prev();
        }
    }

    fn next(&mut self) {
        if self.valid() {
            self.parse_next();
        }
    }

    /// Entries only link forward, so step back to the restart point before the current entry
    /// and scan up to it.
    /// The entries decoded on the way are kept, so the steps back after it through the same
    /// interval decode nothing.
    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        let original = self.current;
        // The entry before this one, if the last step back decoded it. Offsets name entries
        // of this block alone (`reset` forgets the decoded ones), and a block never changes.
        if let Some(d) = self
            .behind
            .last()
            .copied()
            .filter(|d| d.next_offset == original)
        {
            self.behind.pop();
            self.current = d.at;
            self.next_offset = d.next_offset;
            self.restart_index = d.restart_index;
            self.next_restart = self.block.restart_end(d.restart_index);
            self.key.clear();
            self.key.extend_from_slice(&self.behind_keys[d.key_start..]);
            self.behind_keys.truncate(d.key_start);
            self.value = d.value;
            return;
        }
        while self.block.restart_point(self.restart_index) >= original {
            if self.restart_index == 0 {
                self.mark_end();
                return;
            }
            self.restart_index -= 1;
        }
        self.seek_to_restart(self.restart_index);
        self.behind.clear();
        self.behind_keys.clear();
        while self.parse_next() && self.next_offset < original {
            self.behind.push(Decoded {
                at: self.current,
                next_offset: self.next_offset,
                restart_index: self.restart_index,
                key_start: self.behind_keys.len(),
                value: self.value,
            });
            self.behind_keys.extend_from_slice(&self.key);
        }
    }

    fn key(&self) -> &[u8] {
        &self.key
    }

    fn value(&self) -> &[u8] {
        &self.block.data[self.value.0..self.value.1]
    }

    fn status(&self) -> Result<()> {
        match &self.corrupt {
            Some(detail) => Err(self.block.corruption(detail.clone())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{internal_key, ValueKind};

    fn build(entries: &[(Vec<u8>, Vec<u8>)], interval: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(interval);
        for (k, v) in entries {
            b.add(k, v);
        }
        let estimate = b.size_estimate();
        let data = b.finish().to_vec();
        assert_eq!(data.len(), estimate);
        Arc::new(Block::new(data, Arc::from(Path::new("test.sst")), 0).unwrap())
    }

    /// Keys with long shared prefixes, several versions each, in internal-key order.
    fn model(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for i in 0..n {
            let user = format!("user/{:04}/suffix", i * 2);
            for seq in [30u64, 20, 10].iter().take(1 + i % 3) {
                let kind = if seq % 20 == 0 {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                let value = vec![b'v'; (i * 7) % 50];
                out.push((internal_key(user.as_bytes(), *seq, kind), value));
            }
        }
        out.sort_by(|a, b| compare_internal(&a.0, &b.0));
        out
    }

    fn current(it: &BlockIter) -> Option<(Vec<u8>, Vec<u8>)> {
        it.valid().then(|| (it.key().to_vec(), it.value().to_vec()))
    }

    /// Every entry from the first, stepping forward.
    fn all_forward(it: &mut BlockIter) -> Vec<(Vec<u8>, Vec<u8>)> {
        it.seek_to_first();
        let mut seen = Vec::new();
        while let Some(e) = current(it) {
            seen.push(e);
            it.next();
        }
        seen
    }

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut pos = 0;
            assert_eq!(get_varint(&buf, &mut pos), Some(v));
            assert_eq!(pos, buf.len());
            let mut pos = 0;
            assert_eq!(get_varint(&buf[..buf.len() - 1], &mut pos), None);
        }
        let mut pos = 0;
        assert_eq!(get_varint(&[0xff; 11], &mut pos), None);
    }

    #[test]
    fn lengths_decode_like_varints() {
        for v in [0u64, 1, 127, 128, 300, 1 << 20] {
            let mut buf = vec![0x55];
            put_varint(&mut buf, v);
            buf.push(0x55);
            let mut pos = 1;
            assert_eq!(get_len(&buf, &mut pos), Some(v as usize));
            assert_eq!(pos, buf.len() - 1);
        }
        let mut pos = 1;
        assert_eq!(get_len(&[0x01], &mut pos), None);
        assert_eq!(get_len(&[0x80], &mut 0), None);
    }

    /// Steps back reuse what the last one decoded: a random walk of steps both ways and
    /// seeks, compared with the entries' positions at every move, in blocks of every interval.
    #[test]
    fn random_walks_match_the_model_with_steps_back_remembered() {
        let entries = model(120);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for interval in [1, 2, 8, 16] {
            let block = build(&entries, interval);
            let mut it = block.iter();
            // Where the model is: Some(index), or None off either end.
            let mut at: Option<usize> = None;
            for step in 0..4000 {
                match random() % 8 {
                    0 => {
                        let i = (random() % entries.len() as u64) as usize;
                        it.seek(&entries[i].0);
                        at = Some(i);
                    }
                    1 => {
                        it.seek_to_last();
                        at = Some(entries.len() - 1);
                    }
                    2 | 3 => {
                        if at.is_some() {
                            it.next();
                            at = at.map(|i| i + 1).filter(|&i| i < entries.len());
                        }
                    }
                    _ => {
                        if at.is_some() {
                            it.prev();
                            at = at.and_then(|i| i.checked_sub(1));
                        }
                    }
                }
                assert_eq!(
                    current(&it),
                    at.map(|i| entries[i].clone()),
                    "interval {interval}, step {step}"
                );
            }
            it.status().unwrap();
        }
    }

    #[test]
    fn reset_moves_a_cursor_to_another_block() {
        let (a_entries, b_entries) = (model(40), model(7));
        let (a, b) = (build(&a_entries, 16), build(&b_entries, 2));
        let mut it = a.iter();
        it.seek(&a_entries[20].0);
        assert_eq!(current(&it), Some(a_entries[20].clone()));
        it.reset(Arc::clone(&b));
        assert!(!it.valid());
        assert_eq!(all_forward(&mut it), b_entries);
        // Back to the first block from an exhausted cursor: seeks and steps backwards work.
        it.reset(a);
        it.seek(&a_entries[33].0);
        it.prev();
        assert_eq!(current(&it), Some(a_entries[32].clone()));
        it.status().unwrap();
    }

    #[test]
    fn forward_and_backward_round_trip() {
        for interval in [1, 2, 16] {
            let entries = model(100);
            let block = build(&entries, interval);
            let mut it = block.iter();
            assert!(!it.valid());
            assert_eq!(all_forward(&mut it), entries);
            it.seek_to_last();
            let mut back = Vec::new();
            while let Some(e) = current(&it) {
                back.push(e);
                it.prev();
            }
            back.reverse();
            assert_eq!(back, entries);
            it.status().unwrap();
        }
    }

    #[test]
    fn seeks_match_the_model() {
        let entries = model(60);
        for interval in [1, 3, 16] {
            let block = build(&entries, interval);
            let mut it = block.iter();
            // Targets at every key, and between and around keys (other seqs, absent users).
            let mut targets: Vec<Vec<u8>> = entries.iter().map(|e| e.0.clone()).collect();
            for i in 0..125 {
                let user = format!("user/{:04}/suffix", i);
                for seq in [0, 15, 25, 40] {
                    targets.push(internal_key(user.as_bytes(), seq, ValueKind::Put));
                }
            }
            targets.push(b"".to_vec());
            targets.push(b"zzzzzzzzzzzz".to_vec());
            for t in &targets {
                let at = entries.partition_point(|e| compare_internal(&e.0, t) == Ordering::Less);
                it.seek(t);
                assert_eq!(current(&it), entries.get(at).cloned());
                let at_or_before =
                    entries.partition_point(|e| compare_internal(&e.0, t) != Ordering::Greater);
                it.seek_for_prev(t);
                let want = at_or_before.checked_sub(1).map(|i| entries[i].clone());
                assert_eq!(current(&it), want);
                // Step both ways from the seek position.
                if at_or_before >= 2 {
                    it.prev();
                    assert_eq!(current(&it), Some(entries[at_or_before - 2].clone()));
                    it.next();
                    it.next();
                    assert_eq!(current(&it), entries.get(at_or_before).cloned());
                }
            }
        }
    }

    #[test]
    fn single_entry_block() {
        let key = internal_key(b"only", 5, ValueKind::Put);
        let block = build(&[(key.clone(), b"v".to_vec())], 16);
        let mut it = block.iter();
        it.seek_to_last();
        assert_eq!(it.key(), &key[..]);
        it.prev();
        assert!(!it.valid());
        it.seek(&internal_key(b"only", 9, ValueKind::Put));
        assert_eq!(it.value(), b"v");
        it.next();
        assert!(!it.valid());
        it.seek(&internal_key(b"only", 4, ValueKind::Put));
        assert!(!it.valid());
        it.seek_for_prev(&internal_key(b"a", 4, ValueKind::Put));
        assert!(!it.valid());
        it.status().unwrap();
    }

    #[test]
    fn empty_block() {
        let block = build(&[], 16);
        let mut it = block.iter();
        it.seek_to_first();
        assert!(!it.valid());
        it.seek_to_last();
        assert!(!it.valid());
        it.seek(b"anything");
        assert!(!it.valid());
        it.status().unwrap();
    }

    #[test]
    fn bad_restart_counts_are_errors() {
        let block = build(&model(10), 4);
        let file: Arc<Path> = Arc::from(Path::new("bad.sst"));
        let mut data = block.data.to_vec();
        let len = data.len();
        for count in [0u32, 1000, u32::MAX] {
            data[len - 4..].copy_from_slice(&count.to_le_bytes());
            match Block::new(data.clone(), Arc::clone(&file), 7) {
                Err(Error::Corruption { file, offset, .. }) => {
                    assert_eq!(file, Path::new("bad.sst"));
                    assert_eq!(offset, 7);
                }
                other => panic!("expected corruption, got {other:?}"),
            }
        }
        assert!(Block::new(vec![1, 0], Arc::clone(&file), 0).is_err());
    }

    /// Damaged bytes anywhere make reads fail or return garbage, never panic.
    #[test]
    fn damaged_blocks_never_panic() {
        let block = build(&model(20), 4);
        let file: Arc<Path> = Arc::from(Path::new("bad.sst"));
        let probe = internal_key(b"user/0010/suffix", 25, ValueKind::Put);
        for i in 0..block.data.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut data = block.data.to_vec();
                data[i] ^= flip;
                let Ok(b) = Block::new(data, Arc::clone(&file), 0) else {
                    continue;
                };
                let b = Arc::new(b);
                let mut it = b.iter();
                it.seek_to_first();
                let mut steps = 0;
                while it.valid() && steps < 1000 {
                    it.next();
                    steps += 1;
                }
                it = b.iter();
                it.seek_to_last();
                while it.valid() && steps < 2000 {
                    it.prev();
                    steps += 1;
                }
                it = b.iter();
                it.seek(&probe);
                it.seek_for_prev(&probe);
                if it.status().is_err() {
                    assert!(!it.valid());
                }
            }
        }
    }
}
