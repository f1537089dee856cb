//! Writing and reading one SSTable file (the layout is described in [`crate::sstable`]).
//!
//! [`TableBuilder`] streams sorted entries into data blocks and finishes the file with its
//! filter, index and footer. [`Table`] opens a finished file, keeps its index and filter in
//! memory, and serves point reads ([`Table::get`]) and ordered scans ([`TableIter`]); data
//! blocks come through the shared [`BlockCache`] when one is given.
//!
//! A reader trusts nothing it reads: every length and offset is checked against the file size
//! before anything is allocated, every block is checksummed before it is decoded, and damage is
//! reported as [`Error::Corruption`] naming the file, never as a panic.

use std::cmp::Ordering;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::error::{Error, Result};
use crate::fs::{RandomAccessFile, WritableFile};
use crate::iterator::InternalIterator;
use crate::key::{compare_internal, parse_internal, user_key, with_seek_key, ValueKind};
use crate::sstable::block::{
    get_varint, put_varint, Block, BlockBuilder, BlockIter, DEFAULT_RESTART_INTERVAL,
};
use crate::sstable::bloom::{BloomBuilder, BloomFilter, DEFAULT_BITS_PER_KEY};

/// "STRATSST" read as a little-endian u64: the last eight bytes of every table.
pub const MAGIC: u64 = u64::from_le_bytes(*b"STRATSST");
/// The table format this code writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Length of the fixed header at the start of the file.
pub const HEADER_LEN: u64 = 32;
/// Length of the fixed footer at the end of the file.
pub const FOOTER_LEN: u64 = 88;
/// Length of the trailer after every stored block: compression type and checksum.
pub const BLOCK_TRAILER_LEN: u64 = 5;

const TYPE_NONE: u8 = 0;
const TYPE_LZ4: u8 = 1;
/// LZ4 cannot expand data more than ~255-fold; a larger claimed size is damage, and checking it
/// keeps a corrupted length from causing a huge allocation.
const LZ4_MAX_RATIO: usize = 255;
/// Entries beyond this size would overflow the u32 offsets inside a block.
const MAX_ENTRY_LEN: usize = (u32::MAX / 4) as usize;

/// How blocks are compressed on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Blocks are stored as they are.
    None,
    /// Blocks are LZ4-compressed when that saves at least an eighth of their size.
    #[default]
    Lz4,
}

/// How a [`TableBuilder`] lays out the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// Target size of an uncompressed data block; a block is cut once it reaches this size.
    pub block_size: usize,
    /// Entries between full keys inside a data block.
    pub restart_interval: usize,
    /// Bloom filter bits per distinct user key; 0 writes no filter.
    pub bloom_bits_per_key: usize,
    /// Block compression.
    pub compression: Compression,
}

impl Default for TableOptions {
    fn default() -> TableOptions {
        TableOptions {
            block_size: 4096,
            restart_interval: DEFAULT_RESTART_INTERVAL,
            bloom_bits_per_key: DEFAULT_BITS_PER_KEY,
            compression: Compression::Lz4,
        }
    }
}

/// Whose a table is: the database that wrote it (the random id its manifest records) and the
/// number in its file name. Written into the table's header and footer (see
/// [`crate::sstable`]) and checked whenever the table is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableId {
    pub db_id: u64,
    pub number: u64,
}

/// What a finished table holds, for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// File size in bytes.
    pub size: u64,
    /// Number of entries (puts and tombstones).
    pub entries: u64,
    /// The smallest internal key.
    pub smallest: Vec<u8>,
    /// The largest internal key.
    pub largest: Vec<u8>,
    pub smallest_seq: u64,
    pub largest_seq: u64,
    /// The footer's checksum: recorded in the manifest, it pins this exact file (its identity,
    /// layout and counts) to the name it is listed under.
    pub footer_crc: u32,
}

/// Where a stored block lies: `size` counts the stored (possibly compressed) bytes, not the
/// trailer that follows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockHandle {
    offset: u64,
    size: u64,
}

impl BlockHandle {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.offset);
        put_varint(out, self.size);
    }

    fn decode(data: &[u8]) -> Option<BlockHandle> {
        let mut pos = 0;
        let offset = get_varint(data, &mut pos)?;
        let size = get_varint(data, &mut pos)?;
        (pos == data.len()).then_some(BlockHandle { offset, size })
    }

    /// The offset just past the block's trailer, or `None` on overflow.
    fn end(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_LEN)
    }
}

/// The fixed-size record at the end of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Footer {
    filter: BlockHandle,
    index: BlockHandle,
    entries: u64,
    smallest_seq: u64,
    largest_seq: u64,
    id: TableId,
}

/// Offsets inside the footer of the fields every format version keeps at the end.
const FOOTER_VERSION_AT: usize = 72;
const FOOTER_CRC_AT: usize = 76;
const FOOTER_MAGIC_AT: usize = 80;

impl Footer {
    fn encode(&self) -> [u8; FOOTER_LEN as usize] {
        let mut b = [0u8; FOOTER_LEN as usize];
        let fields = [
            self.filter.offset,
            self.filter.size,
            self.index.offset,
            self.index.size,
            self.entries,
            self.smallest_seq,
            self.largest_seq,
            self.id.db_id,
            self.id.number,
        ];
        for (i, v) in fields.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b[FOOTER_VERSION_AT..FOOTER_CRC_AT].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&b[..FOOTER_CRC_AT]);
        b[FOOTER_CRC_AT..FOOTER_MAGIC_AT].copy_from_slice(&crc.to_le_bytes());
        b[FOOTER_MAGIC_AT..].copy_from_slice(&MAGIC.to_le_bytes());
        b
    }

    /// The checksum stored in an encoded footer.
    fn crc_of(b: &[u8; FOOTER_LEN as usize]) -> u32 {
        u32::from_le_bytes(
            b[FOOTER_CRC_AT..FOOTER_MAGIC_AT]
                .try_into()
                .unwrap_or_default(),
        )
    }

    /// Decodes a footer, or says which byte (relative to the footer) is wrong and why.
    fn decode(b: &[u8; FOOTER_LEN as usize]) -> std::result::Result<Footer, (u64, String)> {
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
        let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default());
        if u64_at(FOOTER_MAGIC_AT) != MAGIC {
            return Err((
                FOOTER_MAGIC_AT as u64,
                "not a strata table (bad magic)".into(),
            ));
        }
        // Every version ends in `version footer_crc magic`, so the version is read first: an
        // old table is named as one rather than as a checksum failure.
        let version = u32_at(FOOTER_VERSION_AT);
        if version != FORMAT_VERSION {
            return Err((
                FOOTER_VERSION_AT as u64,
                format!("unsupported table format version {version} (this strata reads {FORMAT_VERSION})"),
            ));
        }
        if u32_at(FOOTER_CRC_AT) != crc32fast::hash(&b[..FOOTER_CRC_AT]) {
            return Err((FOOTER_CRC_AT as u64, "footer checksum mismatch".into()));
        }
        Ok(Footer {
            filter: BlockHandle {
                offset: u64_at(0),
                size: u64_at(8),
            },
            index: BlockHandle {
                offset: u64_at(16),
                size: u64_at(24),
            },
            entries: u64_at(32),
            smallest_seq: u64_at(40),
            largest_seq: u64_at(48),
            id: TableId {
                db_id: u64_at(56),
                number: u64_at(64),
            },
        })
    }
}

/// The table header: the identity, readable even in a table a crash cut short.
fn encode_header(id: TableId) -> [u8; HEADER_LEN as usize] {
    let mut b = [0u8; HEADER_LEN as usize];
    b[..8].copy_from_slice(&MAGIC.to_le_bytes());
    b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    b[12..20].copy_from_slice(&id.db_id.to_le_bytes());
    b[20..28].copy_from_slice(&id.number.to_le_bytes());
    let crc = crc32fast::hash(&b[..28]);
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The identity in a table header, or `None` when `b` is not an intact header of this format.
pub fn decode_header(b: &[u8]) -> Option<TableId> {
    let b = b.get(..HEADER_LEN as usize)?;
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
    let intact = u64_at(0) == MAGIC
        && b[8..12] == FORMAT_VERSION.to_le_bytes()
        && b[28..32] == crc32fast::hash(&b[..28]).to_le_bytes();
    intact.then(|| TableId {
        db_id: u64_at(12),
        number: u64_at(20),
    })
}

/// Appends stored blocks to the file, tracking the offset. Each block and its trailer go out
/// in one `append`, so a block is never split across writes.
struct BlockWriter {
    file: Arc<dyn WritableFile>,
    path: PathBuf,
    offset: u64,
    /// Scratch holding the stored block and trailer being written.
    out: Vec<u8>,
}

impl BlockWriter {
    fn write_block(&mut self, raw: &[u8], compression: Compression) -> Result<BlockHandle> {
        self.out.clear();
        let kind = compress_into(raw, compression, &mut self.out);
        let size = self.out.len() as u64;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.out);
        crc.update(&[kind]);
        let crc = crc.finalize();
        self.out.push(kind);
        self.out.extend_from_slice(&crc.to_le_bytes());
        let handle = BlockHandle {
            offset: self.offset,
            size,
        };
        self.append_out()?;
        Ok(handle)
    }

    fn append_out(&mut self) -> Result<()> {
        self.file
            .append(&self.out)
            .map_err(|e| Error::io(format!("write {}", self.path.display()), e))?;
        self.offset += self.out.len() as u64;
        Ok(())
    }
}

/// Appends `raw` to `out`, LZ4-compressed if allowed and worth it, and returns the type byte.
fn compress_into(raw: &[u8], compression: Compression, out: &mut Vec<u8>) -> u8 {
    if compression == Compression::Lz4 {
        let compressed = lz4_flex::block::compress_prepend_size(raw);
        // Decompressing costs CPU on every read; only pay it for a real saving.
        if compressed.len() <= raw.len() - raw.len() / 8 {
            out.extend_from_slice(&compressed);
            return TYPE_LZ4;
        }
    }
    out.extend_from_slice(raw);
    TYPE_NONE
}

/// Writes one table from entries added in increasing internal-key order.
///
/// After any error the builder is unusable: drop it and remove the file.
pub struct TableBuilder {
    writer: BlockWriter,
    opts: TableOptions,
    data_block: BlockBuilder,
    /// One entry per data block, with restart interval 1 so a seek is a pure binary search.
    index_block: BlockBuilder,
    bloom: BloomBuilder,
    handle_buf: Vec<u8>,
    smallest: Vec<u8>,
    last_key: Vec<u8>,
    entries: u64,
    smallest_seq: u64,
    largest_seq: u64,
    id: TableId,
    failed: bool,
}

impl fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableBuilder")
            .field("path", &self.writer.path)
            .field("offset", &self.writer.offset)
            .field("entries", &self.entries)
            .finish()
    }
}

impl TableBuilder {
    /// A builder writing table `id` to `file`, which must be empty; `path` names it in errors.
    pub fn new(
        file: Arc<dyn WritableFile>,
        path: PathBuf,
        id: TableId,
        opts: TableOptions,
    ) -> TableBuilder {
        TableBuilder {
            writer: BlockWriter {
                file,
                path,
                offset: 0,
                out: Vec::new(),
            },
            data_block: BlockBuilder::new(opts.restart_interval),
            index_block: BlockBuilder::new(1),
            bloom: BloomBuilder::new(opts.bloom_bits_per_key),
            opts,
            handle_buf: Vec::new(),
            smallest: Vec::new(),
            last_key: Vec::new(),
            entries: 0,
            smallest_seq: u64::MAX,
            largest_seq: 0,
            id,
            failed: false,
        }
    }

    /// Adds an entry. Keys must strictly increase by [`compare_internal`]; a key out of order
    /// or malformed is an engine bug and returns [`Error::Internal`].
    pub fn add(&mut self, internal_key: &[u8], value: &[u8]) -> Result<()> {
        self.check_usable()?;
        let parsed = parse_internal(internal_key).ok_or_else(|| {
            Error::Internal(format!(
                "malformed internal key {} added to a table",
                show_key(internal_key)
            ))
        })?;
        if internal_key.len() + value.len() > MAX_ENTRY_LEN {
            return Err(Error::InvalidArgument(format!(
                "table entry of {} bytes is too large",
                internal_key.len() + value.len()
            )));
        }
        if self.entries > 0 {
            if compare_internal(internal_key, &self.last_key) != Ordering::Greater {
                return Err(Error::Internal(format!(
                    "table keys out of order: {} after {}",
                    show_key(internal_key),
                    show_key(&self.last_key)
                )));
            }
            if user_key(&self.last_key) != parsed.user_key {
                self.bloom.add_key(parsed.user_key);
            }
        } else {
            // The header goes out before the first block, so even a table a crash cuts short
            // says whose it is.
            let header = encode_header(self.id);
            self.guard(|b| {
                b.writer.out.clear();
                b.writer.out.extend_from_slice(&header);
                b.writer.append_out()
            })?;
            self.bloom.add_key(parsed.user_key);
            self.smallest = internal_key.to_vec();
        }
        self.smallest_seq = self.smallest_seq.min(parsed.seq);
        self.largest_seq = self.largest_seq.max(parsed.seq);
        self.data_block.add(internal_key, value);
        self.last_key.clear();
        self.last_key.extend_from_slice(internal_key);
        self.entries += 1;
        if self.data_block.size_estimate() >= self.opts.block_size {
            self.guard(Self::flush_data_block)?;
        }
        Ok(())
    }

    /// Bytes written so far plus the pending data block: what the file would take if finished
    /// now, less filter, index and footer. Compaction cuts output files by it.
    pub fn estimated_size(&self) -> u64 {
        self.writer.offset + self.data_block.size_estimate() as u64
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes the pending data block, the filter, the index and the footer, then syncs the
    /// file. The caller makes the directory entry durable (and records the table) afterwards.
    pub fn finish(mut self) -> Result<TableSummary> {
        self.check_usable()?;
        if self.entries == 0 {
            return Err(Error::InvalidArgument(format!(
                "cannot finish the empty table {}",
                self.writer.path.display()
            )));
        }
        self.flush_data_block()?;
        let filter = self.bloom.finish();
        let filter = self.writer.write_block(&filter, self.opts.compression)?;
        let index = self
            .writer
            .write_block(self.index_block.finish(), self.opts.compression)?;
        let footer = Footer {
            filter,
            index,
            entries: self.entries,
            smallest_seq: self.smallest_seq,
            largest_seq: self.largest_seq,
            id: self.id,
        };
        let encoded = footer.encode();
        self.writer.out.clear();
        self.writer.out.extend_from_slice(&encoded);
        self.writer.append_out()?;
        self.writer
            .file
            .sync_data()
            .map_err(|e| Error::io(format!("fsync {}", self.writer.path.display()), e))?;
        Ok(TableSummary {
            size: self.writer.offset,
            entries: self.entries,
            smallest: self.smallest,
            largest: self.last_key,
            smallest_seq: self.smallest_seq,
            largest_seq: self.largest_seq,
            footer_crc: Footer::crc_of(&encoded),
        })
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::Internal(format!(
                "table builder for {} used after a failed write",
                self.writer.path.display()
            )));
        }
        Ok(())
    }

    /// Runs a write step, marking the builder failed if it errs (the file is then inconsistent).
    fn guard(&mut self, step: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let result = step(self);
        self.failed |= result.is_err();
        result
    }

    /// Writes the pending data block and indexes it under its last key.
    fn flush_data_block(&mut self) -> Result<()> {
        if self.data_block.is_empty() {
            return Ok(());
        }
        let handle = self
            .writer
            .write_block(self.data_block.finish(), self.opts.compression)?;
        self.handle_buf.clear();
        handle.encode(&mut self.handle_buf);
        self.index_block
            .add(self.data_block.last_key(), &self.handle_buf);
        self.data_block.reset();
        Ok(())
    }
}

/// A key for an error message: escaped, and cut short (keys may be 64 KiB).
fn show_key(key: &[u8]) -> String {
    let shown = key.len().min(64);
    let more = if key.len() > shown { "..." } else { "" };
    format!(
        "\"{}\"{more} ({} bytes)",
        key[..shown].escape_ascii(),
        key.len()
    )
}

/// Reads the stored block at `handle`, which must end at or before `limit`; checks the trailer
/// checksum and returns the decompressed contents.
fn read_block_contents(
    file: &dyn RandomAccessFile,
    path: &Path,
    handle: BlockHandle,
    limit: u64,
) -> Result<Vec<u8>> {
    let bad = |detail: String| Error::corruption(path, handle.offset, detail);
    let in_bounds = handle.end().is_some_and(|end| end <= limit);
    if !in_bounds {
        return Err(bad(format!(
            "block of {} bytes at {} runs past its region (ends at {limit})",
            handle.size, handle.offset
        )));
    }
    // In bounds of the file, so the allocation is bounded by the file size.
    let len = usize::try_from(handle.size + BLOCK_TRAILER_LEN)
        .map_err(|_| bad("block does not fit in memory".into()))?;
    let mut buf = file
        .read_vec_at(handle.offset, len)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let body_len = handle.size as usize;
    let trailer = &buf[body_len..];
    let kind = trailer[0];
    let stored_crc = u32::from_le_bytes([trailer[1], trailer[2], trailer[3], trailer[4]]);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&buf[..body_len + 1]);
    if crc.finalize() != stored_crc {
        return Err(bad("block checksum mismatch".into()));
    }
    // Drop the trailer in place rather than splitting it off into a second allocation.
    buf.truncate(body_len);
    match kind {
        TYPE_NONE => Ok(buf),
        TYPE_LZ4 => decompress(&buf).map_err(bad),
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
        };
        table.load_bounds()?;
        Ok(table)
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
        let handle = self.block_handle(&index)?;
        let mut first = self.data_block(handle)?.iter();
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
        self.get_with(user_key, seq, |kind, value| (kind, value.to_vec()))
    }

    /// [`Table::get`] that hands the entry's kind and value (borrowed from the block) to `f`
    /// instead of copying the value, and returns what `f` returns.
    pub fn get_with<R>(
        &self,
        user_key: &[u8],
        seq: u64,
        f: impl FnOnce(ValueKind, &[u8]) -> R,
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
        f: impl FnOnce(ValueKind, &[u8]) -> R,
    ) -> Result<Option<R>> {
        let mut index = self.index.iter();
        index.seek(target);
        if !index.valid() {
            index.status()?;
            return Ok(None);
        }
        // The first block whose last key is >= target holds the answer if any block does.
        let handle = self.block_handle(&index)?;
        let mut it = self.data_block(handle)?.iter();
        it.seek(target);
        if !it.valid() {
            it.status()?;
            return Ok(None);
        }
        let parsed = parse_internal(it.key())
            .ok_or_else(|| self.corruption(handle.offset, "malformed internal key in block"))?;
        if parsed.user_key != user_key {
            return Ok(None);
        }
        Ok(Some(f(parsed.kind, it.value())))
    }

    /// An unpositioned iterator over every entry.
    pub fn iter(self: &Arc<Self>) -> TableIter {
        TableIter {
            table: Arc::clone(self),
            index: self.index.iter(),
            data: None,
            data_offset: 0,
            err: None,
        }
    }

    /// Reads every data block from disk (bypassing the cache), checking checksums, key order,
    /// the index and the footer's counts. Returns the number of entries.
    pub fn verify(&self) -> Result<u64> {
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
        Ok(check.entries)
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

    /// What the table holds, as [`TableBuilder::finish`] reported it.
    pub fn summary(&self) -> TableSummary {
        TableSummary {
            size: self.size,
            entries: self.footer.entries,
            smallest: self.smallest.clone(),
            largest: self.largest.clone(),
            smallest_seq: self.footer.smallest_seq,
            largest_seq: self.footer.largest_seq,
            footer_crc: self.footer_crc,
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
    fn block_handle(&self, index: &BlockIter) -> Result<BlockHandle> {
        BlockHandle::decode(index.value()).ok_or_else(|| {
            self.corruption(self.footer.index.offset, "malformed block handle in index")
        })
    }

    /// The decoded data block at `handle`, from the cache when possible.
    fn data_block(&self, handle: BlockHandle) -> Result<Arc<Block>> {
        if let Some(block) = self
            .cache
            .as_ref()
            .and_then(|c| c.get(self.file_number, handle.offset))
        {
            return Ok(block);
        }
        let contents = read_block_contents(self.file.as_ref(), &self.path, handle, self.data_end)?;
        let block = Arc::new(Block::new(contents, Arc::clone(&self.path), handle.offset)?);
        if let Some(cache) = &self.cache {
            cache.insert(self.file_number, handle.offset, Arc::clone(&block));
        }
        Ok(block)
    }
}

struct VerifyState {
    entries: u64,
    next_offset: u64,
    prev_key: Vec<u8>,
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

/// A two-level cursor over a table: the index iterator picks the data block, a block iterator
/// walks it. Holds the table (and through it the file) alive.
pub struct TableIter {
    table: Arc<Table>,
    index: BlockIter,
    data: Option<BlockIter>,
    /// Offset of the block `data` walks, so a seek within the same block reuses it.
    data_offset: u64,
    /// The first error met; the iterator stays invalid from then on.
    err: Option<Error>,
}

impl fmt::Debug for TableIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableIter")
            .field("table", &self.table.path)
            .field("valid", &self.valid())
            .finish()
    }
}

impl TableIter {
    fn set_err(&mut self, e: Error) {
        self.err.get_or_insert(e);
        self.data = None;
    }

    /// Points `data` at the block the index iterator is on. False when there is none (the
    /// index is exhausted, or an error was recorded).
    fn load_block(&mut self) -> bool {
        if !self.index.valid() {
            if let Err(e) = self.index.status() {
                self.set_err(e);
            }
            self.data = None;
            return false;
        }
        let handle = match self.table.block_handle(&self.index) {
            Ok(h) => h,
            Err(e) => {
                self.set_err(e);
                return false;
            }
        };
        if self.data.is_some() && self.data_offset == handle.offset {
            return true;
        }
        match self.table.data_block(handle) {
            Ok(block) => {
                // Reuse the cursor (and its key buffer) from the previous block.
                match &mut self.data {
                    Some(data) => data.reset(block),
                    None => self.data = Some(block.iter()),
                }
                self.data_offset = handle.offset;
                true
            }
            Err(e) => {
                self.set_err(e);
                false
            }
        }
    }

    /// True when the data iterator ran off its block without an error, so the next (or
    /// previous) block must be loaded. Records a block error instead.
    fn data_exhausted(&mut self) -> bool {
        let Some(data) = &self.data else {
            return false;
        };
        if data.valid() {
            return false;
        }
        match data.status() {
            Ok(()) => self.err.is_none(),
            Err(e) => {
                self.set_err(e);
                false
            }
        }
    }

    fn skip_empty_forward(&mut self) {
        while self.data_exhausted() {
            self.index.next();
            if !self.load_block() {
                return;
            }
            if let Some(data) = &mut self.data {
                data.seek_to_first();
            }
        }
    }

    fn skip_empty_backward(&mut self) {
        while self.data_exhausted() {
            self.index.prev();
            if !self.load_block() {
                return;
            }
            if let Some(data) = &mut self.data {
                data.seek_to_last();
            }
        }
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.err.is_none() && self.data.as_ref().is_some_and(|d| d.valid())
    }

    fn seek_to_first(&mut self) {
        if self.err.is_some() {
            return;
        }
        self.index.seek_to_first();
        if self.load_block() {
            if let Some(data) = &mut self.data {
                data.seek_to_first();
            }
        }
        self.skip_empty_forward();
    }

    fn seek_to_last(&mut self) {
        if self.err.is_some() {
            return;
        }
        self.index.seek_to_last();
        if self.load_block() {
            if let Some(data) = &mut self.data {
                data.seek_to_last();
            }
        }
        self.skip_empty_backward();
    }

    fn seek(&mut self, target: &[u8]) {
        if self.err.is_some() {
            return;
        }
        self.index.seek(target);
        if self.load_block() {
            if let Some(data) = &mut self.data {
                data.seek(target);
            }
        }
        self.skip_empty_forward();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.seek(target);
        if self.err.is_some() {
            return;
        }
        if !self.valid() {
            self.seek_to_last();
        } else if compare_internal(self.key(), target) == Ordering::Greater {
            self.prev();
        }
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(data) = &mut self.data {
            data.next();
        }
        self.skip_empty_forward();
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if let Some(data) = &mut self.data {
            data.prev();
        }
        self.skip_empty_backward();
    }

    fn key(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.key())
    }

    fn value(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.value())
    }

    fn status(&self) -> Result<()> {
        if let Some(e) = &self.err {
            return Err(e.clone_for_report());
        }
        self.index.status()?;
        self.data.as_ref().map_or(Ok(()), |d| d.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FileSystem, RealFs};
    use crate::key::{internal_key, MAX_SEQ};
    use std::cmp::Reverse;
    use std::collections::BTreeMap;
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
    use std::time::Instant;

    use crate::test_dir::TempDir;

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

    /// `(user key, seq, kind)` ordered exactly like [`compare_internal`] orders internal keys:
    /// user key ascending, then the trailer (seq, then kind) descending.
    type ModelKey = (Vec<u8>, Reverse<u64>, Reverse<u8>);
    type Model = BTreeMap<ModelKey, Vec<u8>>;

    fn model_key(ikey: &[u8]) -> ModelKey {
        let p = parse_internal(ikey).unwrap();
        (p.user_key.to_vec(), Reverse(p.seq), Reverse(p.kind as u8))
    }

    fn ikey(k: &ModelKey) -> Vec<u8> {
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

    /// About `n` entries: user keys with gaps (absent keys in between), 1-3 versions each,
    /// a quarter of them tombstones, values from 0 bytes to 100 KiB.
    fn make_model(n: usize, seed: u64) -> Model {
        let mut rng = Rng(seed);
        let mut model = Model::new();
        let mut i = 0;
        while model.len() < n {
            i += 1 + rng.below(2);
            let versions = (1 + rng.below(3) as usize).min(n - model.len());
            let mut seq = 1 + rng.below(1000);
            for _ in 0..versions {
                let kind = if rng.below(4) == 0 {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                let v = match kind {
                    ValueKind::Delete => Vec::new(),
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

    fn opts(compression: Compression) -> TableOptions {
        TableOptions {
            compression,
            ..TableOptions::default()
        }
    }

    /// The database id every test table carries.
    const TEST_DB: u64 = 0x5157_4154_4100_0001;

    /// Table number `n` of the test database.
    fn test_id(number: u64) -> TableId {
        TableId {
            db_id: TEST_DB,
            number,
        }
    }

    /// Builds the table at `path`: numbered by its name when that is `NNNNNN.sst`, else 1.
    fn build(path: &Path, model: &Model, opts: TableOptions) -> TableSummary {
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

    fn open(path: &Path, number: u64, cache: Option<Arc<BlockCache>>) -> Result<Arc<Table>> {
        let file = RealFs.open_read(path).unwrap();
        Table::open(file, path.to_path_buf(), number, cache).map(Arc::new)
    }

    fn model_get(model: &Model, user_key: &[u8], seq: u64) -> Option<(ValueKind, Vec<u8>)> {
        let from = (user_key.to_vec(), Reverse(seq), Reverse(u8::MAX));
        let (k, v) = model.range(from..).next()?;
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

    fn round_trip(n: usize, configs: &[(Compression, bool)], seeks: usize) {
        let dir = TempDir::new(&format!("roundtrip-{n}"));
        let model = make_model(n, n as u64);
        for (i, &(compression, cached)) in configs.iter().enumerate() {
            let path = dir.0.join(crate::manifest::table_name(i as u64 + 1));
            let started = Instant::now();
            let summary = build(&path, &model, opts(compression));
            let built = started.elapsed();
            assert_eq!(summary.entries, model.len() as u64);
            assert_eq!(summary.size, std::fs::metadata(&path).unwrap().len());
            assert_eq!(summary.smallest, ikey(model.keys().next().unwrap()));
            assert_eq!(summary.largest, ikey(model.keys().next_back().unwrap()));
            let cache = cached.then(|| BlockCache::new(64 << 20));
            let table = open(&path, i as u64 + 1, cache.clone()).unwrap();
            assert_eq!(table.summary(), summary);
            let started = Instant::now();
            check_table(&table, &model, i as u64, seeks);
            let checked = started.elapsed();
            if let Some(cache) = cache {
                let hits = cache.hits();
                check_gets(&table, &model, 64);
                assert!(cache.hits() > hits, "second pass hit the cache");
                assert!(cache.usage() <= cache.capacity());
            }
            println!(
                "{n} entries, {compression:?}, cache {cached}: {} bytes, built in {built:?}, \
                 checked in {checked:?}",
                summary.size
            );
        }
    }

    const ALL_CONFIGS: [(Compression, bool); 4] = [
        (Compression::None, false),
        (Compression::None, true),
        (Compression::Lz4, false),
        (Compression::Lz4, true),
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
            &[(Compression::Lz4, true), (Compression::None, false)],
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
            let table = open(&path, 1, None).unwrap();
            check_table(&table, &model, 77, 1000);
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

    #[test]
    fn builder_rejects_misuse() {
        let dir = TempDir::new("sst-misuse");
        let path = dir.0.join("t.sst");
        let new = || {
            TableBuilder::new(
                RealFs.create(&path).unwrap(),
                path.clone(),
                test_id(1),
                opts(Compression::Lz4),
            )
        };
        let mut b = new();
        b.add(&internal_key(b"b", 5, ValueKind::Put), b"v").unwrap();
        for bad in [
            internal_key(b"b", 5, ValueKind::Put),
            internal_key(b"b", 6, ValueKind::Put),
            internal_key(b"a", 1, ValueKind::Put),
        ] {
            assert!(matches!(b.add(&bad, b""), Err(Error::Internal(_))));
        }
        assert!(matches!(b.add(b"short", b""), Err(Error::Internal(_))));
        b.add(&internal_key(b"b", 4, ValueKind::Delete), b"")
            .unwrap();
        assert_eq!(b.entries(), 2);
        assert!(b.estimated_size() > 0);
        b.finish().unwrap();
        assert!(matches!(new().finish(), Err(Error::InvalidArgument(_))));
    }

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
        let dir = TempDir::new("sst-flip-data");
        let (model, data) = small_table(&dir, Compression::None);
        let path = dir.0.join("small.sst");
        let table = open(&path, 1, None).unwrap();
        // Damage the middle of the second data block.
        let mut index = table.index.iter();
        index.seek_to_first();
        index.next();
        let handle = table.block_handle(&index).unwrap();
        let mut damaged = data.clone();
        damaged[(handle.offset + handle.size / 2) as usize] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        let table = open(&path, 1, None).unwrap();
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
        let in_block = model_key(index.key());
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
