//! Reading one table: [`Table`] opens a finished file, keeps its index and filter in memory and
//! serves point reads; [`check_file_identity`] checks a table against the manifest from its
//! footer alone.
//!
//! A reader trusts nothing it reads: every length and offset is checked against the file size
//! before anything is allocated, every block is checksummed before it is decoded, and damage is
//! reported as [`Error::Corruption`] naming the file, never as a panic.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::fs::{Mapping, RandomAccessFile};
use crate::iterator::InternalIterator;
use crate::key::{compare_internal, parse_internal, with_seek_key, ValueKind};
use crate::range_del::RangeTombstone;
use crate::sstable::block::{Block, BlockIter};
use crate::sstable::bloom::BloomFilter;

use super::format::{
    decode_header, BlockHandle, Footer, TableId, TableSummary, BLOCK_TRAILER_LEN, FOOTER_LEN,
    HEADER_LEN, TYPE_LZ4, TYPE_NONE,
};
use super::iter::TableIter;

/// LZ4 cannot expand data more than ~255-fold; a larger claimed size is damage, and checking it
/// keeps a corrupted length from causing a huge allocation.
const LZ4_MAX_RATIO: usize = 255;

/// An open table: index and filter in memory, data blocks read on demand.
pub struct Table {
    file: Arc<dyn RandomAccessFile>,
    path: Arc<Path>,
    file_number: u64,
    size: u64,
    cache: Option<Arc<BlockCache>>,
    index: Arc<Block>,
    filter: BloomFilter,
    /// Offset of the first byte after the data blocks.
    data_end: u64,
    footer: Footer,
    footer_crc: u32,
    smallest: Vec<u8>,
    largest: Vec<u8>,
    /// The file mapped into memory, once [`Table::mapped`] mapped it: uncompressed data blocks
    /// are then read in place, without a copy, a system call or the block cache.
    map: Option<Arc<Mapping>>,
    /// One bit per data block (by its position in the index): set once the block's checksum
    /// has been verified in the map, so each block is checked on its first read only.
    verified: Box<[AtomicU64]>,
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("file_number", &self.file_number)
            .field("size", &self.size)
            .field("entries", &self.footer.entries)
            .finish()
    }
}

impl Table {
    /// Opens the table in `file` (named `path` in errors): validates the footer, that the
    /// table says it is number `file_number`, and loads the index and filter. Data blocks go
    /// through `cache`, keyed by `file_number`.
    pub fn open(
        file: Arc<dyn RandomAccessFile>,
        path: PathBuf,
        file_number: u64,
        cache: Option<Arc<BlockCache>>,
    ) -> Result<Table> {
        let path: Arc<Path> = Arc::from(path);
        let size = file
            .size()
            .map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
        let (footer, footer_crc) = read_footer(file.as_ref(), &path, size)?;
        let footer_start = size - FOOTER_LEN;
        check_layout(&footer, &path, footer_start)?;
        if footer.id.number != file_number {
            return Err(Error::corruption(
                path.to_path_buf(),
                footer_start + 64,
                format!(
                    "the file is table {} (of database {:016x}), not table {file_number}",
                    footer.id.number, footer.id.db_id
                ),
            ));
        }
        let index = read_block_contents(file.as_ref(), &path, footer.index, footer_start)?;
        let index = Arc::new(Block::new(index, Arc::clone(&path), footer.index.offset)?);
        let filter = read_block_contents(file.as_ref(), &path, footer.filter, footer.index.offset)?;
        let filter = BloomFilter::decode(filter).map_err(|detail| {
            Error::corruption(path.to_path_buf(), footer.filter.offset, detail)
        })?;
        let mut table = Table {
            file,
            path,
            file_number,
            size,
            cache,
            index,
            filter,
            data_end: footer.filter.offset,
            footer,
            footer_crc,
            smallest: Vec::new(),
            largest: Vec::new(),
            map: None,
            verified: Box::default(),
        };
        table.load_bounds()?;
        Ok(table)
    }

    /// The table with its file mapped into memory where the file system can (a real file):
    /// uncompressed data blocks are then read in place and each block's checksum is verified
    /// the first time it is read; compressed blocks are read from the map and go through the
    /// block cache. A table whose index does not name one block per restart point (never
    /// written by strata) stays unmapped, as does one the system refuses to map.
    pub fn mapped(mut self) -> Table {
        let blocks = self.index.restarts();
        let mut index = self.index.iter();
        index.seek_to_first();
        // Blocks are known by their index entry's restart point, which must be theirs alone.
        let mut entries = 0;
        while index.valid() {
            if index.restart_index() != entries {
                return self;
            }
            entries += 1;
            index.next();
        }
        if entries != blocks {
            return self;
        }
        match self.file.map(self.size) {
            Ok(Some(map)) => {
                self.map = Some(map);
                self.verified = (0..blocks.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(
                table = %self.path.display(),
                error = %e,
                "could not map the table: its blocks are read with pread"
            ),
        }
        self
    }

    /// True when the table is mapped into memory.
    pub fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    /// Bytes of the mapped file resident in memory now (0 when not mapped): file-backed
    /// memory the page cache can reclaim, which the block cache's budget does not count.
    pub fn mapped_resident_bytes(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.resident_bytes())
    }

    /// Finds the smallest and largest keys: the first key of the first block and the index key
    /// of the last block (which is that block's last key).
    fn load_bounds(&mut self) -> Result<()> {
        let mut index = self.index.iter();
        index.seek_to_last();
        if !index.valid() {
            index.status()?;
            return Err(self.corruption(self.footer.index.offset, "index block is empty"));
        }
        self.largest = index.key().to_vec();
        index.seek_to_first();
        // Read past the cache: a table opened to be mapped must not leave its first block
        // there, where its reads never look.
        let handle = self.block_handle(&index)?;
        let contents = read_block_contents(self.file.as_ref(), &self.path, handle, self.data_end)?;
        let mut first = Arc::new(Block::new(contents, Arc::clone(&self.path), handle.offset)?).iter();
        first.seek_to_first();
        if !first.valid() {
            first.status()?;
            return Err(self.corruption(handle.offset, "first data block is empty"));
        }
        self.smallest = first.key().to_vec();
        Ok(())
    }

    /// The newest entry for `user_key` with sequence number `<= seq`, or `None` when this table
    /// has no visible version of it.
    pub fn get(&self, user_key: &[u8], seq: u64) -> Result<Option<(ValueKind, Vec<u8>)>> {
        self.get_with(user_key, seq, |kind, _, value| (kind, value.to_vec()))
    }

    /// [`Table::get`] that hands the entry's kind, sequence number and value (borrowed from
    /// the block) to `f` instead of copying the value, and returns what `f` returns.
    pub fn get_with<R>(
        &self,
        user_key: &[u8],
        seq: u64,
        f: impl FnOnce(ValueKind, u64, &[u8]) -> R,
    ) -> Result<Option<R>> {
        if !self.filter.may_contain(user_key) {
            return Ok(None);
        }
        with_seek_key(user_key, seq, |target| self.get_at(user_key, target, f))
    }

    /// [`Table::get_with`] past the filter, with `target` the seek key.
    fn get_at<R>(
        &self,
        user_key: &[u8],
        target: &[u8],
        f: impl FnOnce(ValueKind, u64, &[u8]) -> R,
    ) -> Result<Option<R>> {
        let mut index = self.index.iter();
        index.seek(target);
        // The first block whose last key is >= target holds the answer if any block does,
        // unless range tombstones starting at `user_key` come first: they are no version of
        // it and are stepped over, into the next block if need be.
        loop {
            if !index.valid() {
                index.status()?;
                return Ok(None);
            }
            let handle = self.block_handle(&index)?;
            let mut it = self.data_block(handle, index.restart_index())?.iter();
            it.seek(target);
            while it.valid() {
                let parsed = parse_internal(it.key()).ok_or_else(|| {
                    self.corruption(handle.offset, "malformed internal key in block")
                })?;
                if parsed.user_key != user_key {
                    return Ok(None);
                }
                if parsed.kind != ValueKind::RangeDelete {
                    return Ok(Some(f(parsed.kind, parsed.seq, it.value())));
                }
                it.next();
            }
            it.status()?;
            index.next();
        }
    }

    /// About where in the file the entries of keys at or after `user_key` begin: the offset
    /// of the first data block whose last key is at or after it, or the end of the data when
    /// no block is. Reads only the in-memory index; for size estimates.
    pub fn approximate_offset(&self, user_key: &[u8]) -> Result<u64> {
        with_seek_key(user_key, crate::key::MAX_SEQ, |target| {
            let mut index = self.index.iter();
            index.seek(target);
            if !index.valid() {
                index.status()?;
                return Ok(self.data_end);
            }
            Ok(self.block_handle(&index)?.offset)
        })
    }

    /// An unpositioned iterator over every entry.
    pub fn iter(self: &Arc<Self>) -> TableIter {
        TableIter::new(Arc::clone(self), self.index.iter())
    }

    /// Reads every data block from disk (bypassing the cache), checking checksums, key order,
    /// the index and the footer's counts. Returns the number of entries.
    pub fn verify(&self) -> Result<u64> {
        self.verify_with_tombstones().map(|(entries, _)| entries)
    }

    /// [`Table::verify`], also returning the range tombstones the table holds (what its
    /// manifest entry lists: for a repair, which has no manifest to read them from).
    pub fn verify_with_tombstones(&self) -> Result<(u64, Vec<RangeTombstone>)> {
        let mut index = self.index.iter();
        index.seek_to_first();
        let mut header = [0u8; HEADER_LEN as usize];
        self.file
            .read_at(0, &mut header)
            .map_err(|e| Error::io(format!("read {}", self.path.display()), e))?;
        match decode_header(&header) {
            Some(id) if id == self.footer.id => {}
            Some(id) => {
                return Err(self.corruption(
                    0,
                    format!("header names table {id:?}, footer {:?}", self.footer.id),
                ))
            }
            None => return Err(self.corruption(0, "table header is damaged")),
        }
        let mut check = VerifyState {
            entries: 0,
            next_offset: HEADER_LEN,
            prev_key: Vec::new(),
            range_dels: Vec::new(),
        };
        while index.valid() {
            let handle = self.block_handle(&index)?;
            if handle.offset != check.next_offset {
                return Err(self.corruption(handle.offset, "data blocks are not contiguous"));
            }
            let contents =
                read_block_contents(self.file.as_ref(), &self.path, handle, self.data_end)?;
            let block = Arc::new(Block::new(contents, Arc::clone(&self.path), handle.offset)?);
            self.verify_block(&block, index.key(), &mut check)?;
            check.next_offset = handle.end().unwrap_or(u64::MAX);
            index.next();
        }
        index.status()?;
        if check.next_offset != self.data_end {
            return Err(self.corruption(check.next_offset, "index does not cover every data block"));
        }
        if check.entries != self.footer.entries {
            return Err(self.corruption(
                self.size - FOOTER_LEN,
                format!(
                    "footer counts {} entries, blocks hold {}",
                    self.footer.entries, check.entries
                ),
            ));
        }
        Ok((check.entries, check.range_dels))
    }

    fn verify_block(
        &self,
        block: &Arc<Block>,
        index_key: &[u8],
        check: &mut VerifyState,
    ) -> Result<()> {
        let at = block.offset();
        let mut it = block.iter();
        it.seek_to_first();
        if !it.valid() {
            it.status()?;
            return Err(self.corruption(at, "empty data block"));
        }
        while it.valid() {
            let parsed = parse_internal(it.key())
                .ok_or_else(|| self.corruption(at, "malformed internal key in block"))?;
            if parsed.seq < self.footer.smallest_seq || parsed.seq > self.footer.largest_seq {
                return Err(
                    self.corruption(at, format!("seq {} outside the footer's range", parsed.seq))
                );
            }
            if check.entries > 0 && compare_internal(&check.prev_key, it.key()) != Ordering::Less {
                return Err(self.corruption(at, "keys out of order"));
            }
            if parsed.kind == ValueKind::RangeDelete {
                if it.value() < parsed.user_key {
                    return Err(self.corruption(at, "range tombstone ends before it starts"));
                }
                check.range_dels.push(RangeTombstone::of(&parsed, it.value()));
            }
            check.prev_key.clear();
            check.prev_key.extend_from_slice(it.key());
            check.entries += 1;
            it.next();
        }
        it.status()?;
        if compare_internal(index_key, &check.prev_key) != Ordering::Equal {
            return Err(self.corruption(at, "index key differs from the block's last key"));
        }
        Ok(())
    }

    /// What the table holds, as [`TableBuilder::finish`](super::TableBuilder::finish) reported it.
    pub fn summary(&self) -> TableSummary {
        TableSummary {
            size: self.size,
            entries: self.footer.entries,
            smallest: self.smallest.clone(),
            largest: self.largest.clone(),
            smallest_seq: self.footer.smallest_seq,
            largest_seq: self.footer.largest_seq,
            footer_crc: self.footer_crc,
            // Only a full read finds them: see [`Table::verify_with_tombstones`].
            range_dels: Vec::new(),
        }
    }

    /// The database and number the table says it belongs to.
    pub fn id(&self) -> TableId {
        self.footer.id
    }

    /// Fails with [`Error::Corruption`] naming the file unless the table is the one the
    /// manifest lists as `number` of database `db_id`, of `size` bytes with footer checksum
    /// `footer_crc`: a table swapped, truncated, restored from elsewhere or copied in from
    /// another database is never read as this one.
    pub fn check_identity(&self, db_id: u64, size: u64, footer_crc: u32) -> Result<()> {
        check_identity(
            &self.path,
            self.footer.id,
            self.size,
            self.footer_crc,
            db_id,
            size,
            footer_crc,
        )
    }

    /// True unless the filter rules `user_key` out.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.filter.may_contain(user_key)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file number the table was opened as.
    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    /// File size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of entries, from the footer.
    pub fn entries(&self) -> u64 {
        self.footer.entries
    }

    /// The smallest internal key.
    pub fn smallest(&self) -> &[u8] {
        &self.smallest
    }

    /// The largest internal key.
    pub fn largest(&self) -> &[u8] {
        &self.largest
    }

    /// The smallest sequence number of any entry.
    pub fn smallest_seq(&self) -> u64 {
        self.footer.smallest_seq
    }

    /// The largest sequence number of any entry.
    pub fn largest_seq(&self) -> u64 {
        self.footer.largest_seq
    }

    /// Bytes the open table holds in memory (index and filter).
    pub fn memory_usage(&self) -> usize {
        self.index.size() + self.filter.size()
    }

    fn corruption(&self, offset: u64, detail: impl Into<String>) -> Error {
        Error::corruption(self.path.to_path_buf(), offset, detail)
    }

    /// Decodes the block handle the index iterator is positioned at.
    pub(super) fn block_handle(&self, index: &BlockIter) -> Result<BlockHandle> {
        BlockHandle::decode(index.value()).ok_or_else(|| {
            self.corruption(self.footer.index.offset, "malformed block handle in index")
        })
    }

    /// The decoded data block at `handle`, the `ordinal`-th of the table: in place in the
    /// map when mapped and uncompressed, else from the cache when possible.
    pub(super) fn data_block(&self, handle: BlockHandle, ordinal: usize) -> Result<Arc<Block>> {
        // From a map: the block's contents and trailer, and where they start.
        let stored = match &self.map {
            Some(map) => Some((map, self.mapped_stored(map, handle)?)),
            None => None,
        };
        let len = handle.size as usize;
        if let Some((map, (start, bytes))) = stored {
            if bytes[len] == TYPE_NONE {
                if !self.is_verified(ordinal) {
                    check_stored(bytes, &self.path, handle)?;
                    self.set_verified(ordinal);
                }
                let block = Block::mapped(
                    Arc::clone(map),
                    start,
                    len,
                    Arc::clone(&self.path),
                    handle.offset,
                )?;
                return Ok(Arc::new(block));
            }
        }
        if let Some(block) = self
            .cache
            .as_ref()
            .and_then(|c| c.get(self.file_number, handle.offset))
        {
            return Ok(block);
        }
        let contents = match stored {
            Some((_, (_, bytes))) => {
                check_stored(bytes, &self.path, handle)?;
                decode_stored(&bytes[..len], bytes[len], &self.path, handle)?
            }
            None => read_block_contents(self.file.as_ref(), &self.path, handle, self.data_end)?,
        };
        let block = Arc::new(Block::new(contents, Arc::clone(&self.path), handle.offset)?);
        if let Some(cache) = &self.cache {
            cache.insert(self.file_number, handle.offset, Arc::clone(&block));
        }
        Ok(block)
    }
}

impl Table {
    /// The stored block at `handle` in `map` (contents, then trailer) and its offset, checked
    /// against the data region as [`read_block_contents`] checks it.
    fn mapped_stored<'m>(&self, map: &'m Mapping, handle: BlockHandle) -> Result<(usize, &'m [u8])> {
        check_in_region(&self.path, handle, self.data_end)?;
        let range = usize::try_from(handle.offset).ok().and_then(|start| {
            let end = usize::try_from(handle.size).ok()? + start + BLOCK_TRAILER_LEN as usize;
            Some((start, map.bytes().get(start..end)?))
        });
        range.ok_or_else(|| self.corruption(handle.offset, "block lies outside the mapped file"))
    }

    fn is_verified(&self, ordinal: usize) -> bool {
        self.verified
            .get(ordinal / 64)
            .is_some_and(|w| w.load(AtomicOrdering::Relaxed) & (1 << (ordinal % 64)) != 0)
    }

    fn set_verified(&self, ordinal: usize) {
        if let Some(w) = self.verified.get(ordinal / 64) {
            w.fetch_or(1 << (ordinal % 64), AtomicOrdering::Relaxed);
        }
    }
}

struct VerifyState {
    entries: u64,
    next_offset: u64,
    prev_key: Vec<u8>,
    range_dels: Vec<RangeTombstone>,
}

fn read_footer(file: &dyn RandomAccessFile, path: &Path, size: u64) -> Result<(Footer, u32)> {
    if size < FOOTER_LEN {
        return Err(Error::corruption(
            path,
            0,
            format!("file of {size} bytes is shorter than a table footer"),
        ));
    }
    let start = size - FOOTER_LEN;
    let mut buf = [0u8; FOOTER_LEN as usize];
    file.read_at(start, &mut buf)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let footer =
        Footer::decode(&buf).map_err(|(at, detail)| Error::corruption(path, start + at, detail))?;
    Ok((footer, Footer::crc_of(&buf)))
}

/// Reads only the footer of the table in `file` and checks it as [`Table::check_identity`]
/// does: the cheap check of every live table when a database opens.
pub fn check_file_identity(
    file: &dyn RandomAccessFile,
    path: &Path,
    db_id: u64,
    number: u64,
    size: u64,
    footer_crc: u32,
) -> Result<()> {
    let actual = file
        .size()
        .map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
    if actual != size {
        return Err(size_mismatch(path, actual, size));
    }
    let (footer, crc) = read_footer(file, path, actual)?;
    if footer.id.number != number {
        return Err(Error::corruption(
            path,
            actual - FOOTER_LEN + 64,
            format!(
                "the file is table {} (of database {:016x}), not table {number}",
                footer.id.number, footer.id.db_id
            ),
        ));
    }
    check_identity(path, footer.id, actual, crc, db_id, size, footer_crc)
}

fn size_mismatch(path: &Path, actual: u64, expected: u64) -> Error {
    Error::corruption(
        path,
        actual.min(expected),
        format!("the table has {actual} bytes, the manifest records {expected}"),
    )
}

fn check_identity(
    path: &Path,
    id: TableId,
    actual_size: u64,
    actual_crc: u32,
    db_id: u64,
    size: u64,
    footer_crc: u32,
) -> Result<()> {
    let footer_at = actual_size.saturating_sub(FOOTER_LEN);
    if id.db_id != db_id {
        return Err(Error::corruption(
            path,
            footer_at + 56,
            format!(
                "the table belongs to database {:016x}, this is database {db_id:016x}",
                id.db_id
            ),
        ));
    }
    if actual_size != size {
        return Err(size_mismatch(path, actual_size, size));
    }
    if actual_crc != footer_crc {
        return Err(Error::corruption(
            path,
            footer_at,
            format!(
                "the table's footer checksum is {actual_crc:08x}, the manifest records \
                 {footer_crc:08x}: not the table the manifest lists under this name"
            ),
        ));
    }
    Ok(())
}

/// The filter must directly follow the data blocks, the index the filter, and the footer the
/// index, so every byte of the file belongs to exactly one checksummed region.
fn check_layout(footer: &Footer, path: &Path, footer_start: u64) -> Result<()> {
    let bad = |detail: &str| Error::corruption(path, footer_start, detail.to_string());
    if footer.filter.end() != Some(footer.index.offset) {
        return Err(bad(
            "footer's filter handle does not end where the index begins",
        ));
    }
    if footer.index.end() != Some(footer_start) {
        return Err(bad(
            "footer's index handle does not end where the footer begins",
        ));
    }
    if footer.filter.offset <= HEADER_LEN {
        return Err(bad("footer's filter handle leaves no room for data blocks"));
    }
    if footer.entries == 0 || footer.smallest_seq > footer.largest_seq {
        return Err(bad("footer's entry count or seq range is invalid"));
    }
    Ok(())
}

/// Reads the stored block at `handle`, which must end at or before `limit`; checks the trailer
/// checksum and returns the decompressed contents.
fn read_block_contents(
    file: &dyn RandomAccessFile,
    path: &Path,
    handle: BlockHandle,
    limit: u64,
) -> Result<Vec<u8>> {
    check_in_region(path, handle, limit)?;
    // In bounds of the file, so the allocation is bounded by the file size.
    let len = usize::try_from(handle.size + BLOCK_TRAILER_LEN).map_err(|_| {
        Error::corruption(path, handle.offset, "block does not fit in memory")
    })?;
    let mut buf = file
        .read_vec_at(handle.offset, len)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    check_stored(&buf, path, handle)?;
    let body_len = handle.size as usize;
    let kind = buf[body_len];
    match kind {
        // Drop the trailer in place rather than splitting it off into a second allocation.
        TYPE_NONE => {
            buf.truncate(body_len);
            Ok(buf)
        }
        _ => decode_stored(&buf[..body_len], kind, path, handle),
    }
}

/// Fails unless the block at `handle` ends at or before `limit` (the end of its region).
fn check_in_region(path: &Path, handle: BlockHandle, limit: u64) -> Result<()> {
    if handle.end().is_some_and(|end| end <= limit) {
        return Ok(());
    }
    Err(Error::corruption(
        path,
        handle.offset,
        format!(
            "block of {} bytes at {} runs past its region (ends at {limit})",
            handle.size, handle.offset
        ),
    ))
}

/// Checks the trailer checksum of `stored`: the block's contents, then its 5-byte trailer.
fn check_stored(stored: &[u8], path: &Path, handle: BlockHandle) -> Result<()> {
    let body_len = stored.len() - BLOCK_TRAILER_LEN as usize;
    let trailer = &stored[body_len..];
    let stored_crc = u32::from_le_bytes([trailer[1], trailer[2], trailer[3], trailer[4]]);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&stored[..body_len + 1]);
    if crc.finalize() != stored_crc {
        return Err(Error::corruption(path, handle.offset, "block checksum mismatch"));
    }
    Ok(())
}

/// The raw contents of a checksummed block stored as `body` with compression `kind`.
fn decode_stored(body: &[u8], kind: u8, path: &Path, handle: BlockHandle) -> Result<Vec<u8>> {
    let bad = |detail: String| Error::corruption(path, handle.offset, detail);
    match kind {
        TYPE_NONE => Ok(body.to_vec()),
        TYPE_LZ4 => decompress(body).map_err(bad),
        other => Err(bad(format!("unknown block compression type {other}"))),
    }
}

/// Decodes an LZ4 block stored with its uncompressed length prepended (u32le).
fn decompress(stored: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let (len, body) = lz4_flex::block::uncompressed_size(stored)
        .map_err(|_| "compressed block is shorter than its length prefix".to_string())?;
    if len > body.len().saturating_mul(LZ4_MAX_RATIO).saturating_add(64) {
        return Err(format!(
            "compressed block of {} bytes claims {len} uncompressed bytes",
            body.len()
        ));
    }
    let mut out = vec![0u8; len];
    match lz4_flex::block::decompress_into(body, &mut out) {
        Ok(n) if n == len => Ok(out),
        Ok(n) => Err(format!("block decompressed to {n} bytes, expected {len}")),
        Err(e) => Err(format!("block does not decompress: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FileSystem, RealFs};
    use crate::key::MAX_SEQ;
    use crate::sstable::table::tests::{
        build, ikey, make_model, model_get, model_key, open, open_mapped, test_id, Model,
        TEST_DB,
    };
    use crate::sstable::table::{Compression, TableOptions};
    use crate::test_dir::TempDir;
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

    /// A whole table held in memory, so mutated copies open without touching the disk.
    struct MemFile {
        data: Vec<u8>,
        fail_reads: AtomicBool,
    }

    impl MemFile {
        fn new(data: Vec<u8>) -> Arc<MemFile> {
            Arc::new(MemFile {
                data,
                fail_reads: AtomicBool::new(false),
            })
        }
    }

    impl RandomAccessFile for MemFile {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            if self.fail_reads.load(AtomicOrdering::Relaxed) {
                return Err(io::Error::other("injected read failure"));
            }
            let start = usize::try_from(offset).map_err(io::Error::other)?;
            let src = start
                .checked_add(buf.len())
                .and_then(|end| self.data.get(start..end))
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf.copy_from_slice(src);
            Ok(())
        }

        fn size(&self) -> io::Result<u64> {
            Ok(self.data.len() as u64)
        }
    }

    fn open_mem(data: Vec<u8>) -> Result<Arc<Table>> {
        Table::open(MemFile::new(data), PathBuf::from("mem.sst"), 1, None).map(Arc::new)
    }

    fn assert_corruption<T: fmt::Debug>(r: Result<T>, file: &Path) {
        match r {
            Err(Error::Corruption { file: f, .. }) => assert_eq!(f, file),
            other => panic!("expected corruption in {}, got {other:?}", file.display()),
        }
    }

    /// Builds a table of several small blocks and returns its bytes.
    fn small_table(dir: &TempDir, compression: Compression) -> (Model, Vec<u8>) {
        let model = make_model(60, 11);
        let model: Model = model
            .into_iter()
            .map(|(k, mut v)| {
                v.truncate(40);
                (k, v)
            })
            .collect();
        let path = dir.0.join("small.sst");
        let o = TableOptions {
            block_size: 512,
            compression,
            ..TableOptions::default()
        };
        build(&path, &model, o);
        (model, std::fs::read(&path).unwrap())
    }

    /// Scans everything and returns the error the scan ended with, if any.
    fn scan_status(table: &Arc<Table>) -> Result<()> {
        let mut it = table.iter();
        it.seek_to_first();
        while it.valid() {
            it.next();
        }
        it.status()?;
        it.seek_to_last();
        while it.valid() {
            it.prev();
        }
        it.status()
    }

    #[test]
    fn flipped_data_byte_is_reported_by_reads() {
        flipped_data_byte_is_reported(Compression::None, false);
    }

    /// A mapped table checks a block's checksum on its first read from the map, and keeps
    /// refusing a damaged block on every later read; compressed blocks are checked as they
    /// are copied out of the map.
    #[test]
    fn flipped_data_byte_is_reported_by_mapped_reads() {
        flipped_data_byte_is_reported(Compression::None, true);
        flipped_data_byte_is_reported(Compression::Lz4, true);
    }

    fn flipped_data_byte_is_reported(compression: Compression, mapped: bool) {
        let dir = TempDir::new("sst-flip-data");
        let (model, data) = small_table(&dir, compression);
        let path = dir.0.join("small.sst");
        let open = |path: &Path| match mapped {
            true => open_mapped(path, 1, Some(BlockCache::new(1 << 20))),
            false => open(path, 1, None),
        };
        let table = open(&path).unwrap();
        // Damage the middle of the second data block.
        let mut index = table.index.iter();
        index.seek_to_first();
        index.next();
        let handle = table.block_handle(&index).unwrap();
        let mut damaged = data.clone();
        damaged[(handle.offset + handle.size / 2) as usize] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        let table = open(&path).unwrap();
        // Read the damaged block (and fail) before anything else reads it.
        let in_block = model_key(index.key());
        for _ in 0..2 {
            assert_corruption(table.get(&in_block.0, in_block.1 .0), &path);
        }
        assert_corruption(table.verify(), &path);
        assert_corruption(scan_status(&table), &path);
        // Point reads into the damaged block fail; others still work.
        let mut it = table.iter();
        it.seek_to_first();
        let first_key = model_key(it.key());
        assert_eq!(
            table.get(&first_key.0, MAX_SEQ).unwrap(),
            model_get(&model, &first_key.0, MAX_SEQ)
        );
        assert_corruption(table.get(&in_block.0, in_block.1 .0), &path);
        it.seek(&ikey(&in_block));
        assert!(!it.valid());
        assert_corruption(it.status(), &path);
    }

    #[test]
    fn flipped_index_or_footer_byte_fails_open() {
        let dir = TempDir::new("sst-flip-meta");
        let (_, data) = small_table(&dir, Compression::Lz4);
        let path = dir.0.join("small.sst");
        let footer_start = data.len() - FOOTER_LEN as usize;
        let table = open(&path, 1, None).unwrap();
        let index_start = table.footer.index.offset as usize;
        drop(table);
        for at in [index_start, index_start + 3, footer_start - 1]
            .into_iter()
            .chain(footer_start..data.len())
        {
            let mut damaged = data.clone();
            damaged[at] ^= 0x04;
            std::fs::write(&path, &damaged).unwrap();
            assert_corruption(open(&path, 1, None), &path);
        }
    }

    #[test]
    fn truncated_file_fails_open() {
        let dir = TempDir::new("sst-truncate");
        let (_, data) = small_table(&dir, Compression::Lz4);
        let path = dir.0.join("small.sst");
        for len in [
            0,
            1,
            HEADER_LEN as usize,
            87,
            88,
            89,
            data.len() / 2,
            data.len() - 88,
            data.len() - 1,
        ] {
            std::fs::write(&path, &data[..len]).unwrap();
            assert_corruption(open(&path, 1, None), &path);
        }
    }

    /// Every byte of a table lies in a checksummed region: flipping any one of them is caught
    /// by open or by verify, and nothing panics on the way.
    #[test]
    fn every_flipped_byte_is_detected() {
        let dir = TempDir::new("sst-every-byte");
        for compression in [Compression::None, Compression::Lz4] {
            let (_, data) = small_table(&dir, compression);
            for at in 0..data.len() {
                let mut damaged = data.clone();
                damaged[at] ^= 0x01 << (at % 8);
                let mem = Path::new("mem.sst");
                match open_mem(damaged) {
                    Err(e) => assert_corruption(Err::<(), _>(e), mem),
                    Ok(table) => {
                        assert_corruption(table.verify(), mem);
                        let _ = scan_status(&table);
                        let _ = table.get(b"user/00000010", MAX_SEQ);
                    }
                }
            }
        }
    }

    #[test]
    fn identity_is_checked_against_name_and_manifest() {
        let dir = TempDir::new("sst-identity");
        let (_, data) = small_table(&dir, Compression::Lz4);
        let path = dir.0.join("small.sst");
        let table = open(&path, 1, None).unwrap();
        assert_eq!(table.id(), test_id(1));
        assert_eq!(decode_header(&data), Some(test_id(1)));
        let (size, crc) = (table.size(), table.summary().footer_crc);
        table.check_identity(TEST_DB, size, crc).unwrap();
        // Opened under another number (a table renamed or swapped on disk).
        assert_corruption(open(&path, 2, None), &path);
        // Listed with another database's id, another size or another footer checksum.
        assert_corruption(table.check_identity(TEST_DB + 1, size, crc), &path);
        assert_corruption(table.check_identity(TEST_DB, size + 1, crc), &path);
        assert_corruption(table.check_identity(TEST_DB, size, crc ^ 1), &path);
        let file = RealFs.open_read(&path).unwrap();
        check_file_identity(file.as_ref(), &path, TEST_DB, 1, size, crc).unwrap();
        assert_corruption(
            check_file_identity(file.as_ref(), &path, TEST_DB, 3, size, crc),
            &path,
        );
        assert_corruption(
            check_file_identity(file.as_ref(), &path, TEST_DB, 1, size - 1, crc),
            &path,
        );
        // A table of format version 1 (a 72-byte footer ending in version, crc, magic) is
        // named by its version.
        let mut old = data.clone();
        let at = old.len() - 16;
        old[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
        match open_mem(old) {
            Err(Error::Corruption { detail, .. }) => {
                assert!(detail.contains("version 1"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lying_lengths_do_not_allocate() {
        let dir = TempDir::new("sst-lying");
        let (_, data) = small_table(&dir, Compression::None);
        let footer_start = data.len() - FOOTER_LEN as usize;
        let mut raw = [0u8; FOOTER_LEN as usize];
        raw.copy_from_slice(&data[footer_start..]);
        let footer = Footer::decode(&raw).unwrap();
        // A well-formed footer (valid checksum) whose handles point past the file.
        for lie in [
            Footer {
                index: BlockHandle {
                    offset: footer.index.offset,
                    size: u64::MAX - 2,
                },
                ..footer
            },
            Footer {
                filter: BlockHandle {
                    offset: 0,
                    size: u64::MAX,
                },
                ..footer
            },
            Footer {
                entries: 0,
                ..footer
            },
        ] {
            let mut damaged = data.clone();
            damaged[footer_start..].copy_from_slice(&lie.encode());
            assert_corruption(open_mem(damaged), Path::new("mem.sst"));
        }
        // An LZ4 block claiming an absurd uncompressed size is refused before allocating.
        let mut stored = (u32::MAX).to_le_bytes().to_vec();
        stored.extend_from_slice(&[0x10, b'a']);
        assert!(decompress(&stored).is_err());
        assert!(decompress(&[1, 2]).is_err());
    }

    #[test]
    fn read_errors_surface_through_status() {
        let dir = TempDir::new("sst-read-errors");
        let (_, data) = small_table(&dir, Compression::Lz4);
        let file = MemFile::new(data);
        let table = Arc::new(Table::open(file.clone(), PathBuf::from("mem.sst"), 1, None).unwrap());
        let mut it = table.iter();
        it.seek_to_first();
        assert!(it.valid());
        file.fail_reads.store(true, AtomicOrdering::Relaxed);
        while it.valid() {
            it.next();
        }
        assert!(matches!(it.status(), Err(Error::Io { .. })));
        // The error is sticky: seeking again does not hide it.
        it.seek_to_first();
        assert!(!it.valid());
        assert!(matches!(it.status(), Err(Error::Io { .. })));
        assert!(matches!(table.verify(), Err(Error::Io { .. })));
    }
}
