//! Writing one table: [`TableBuilder`] streams entries, added in increasing internal-key order,
//! into data blocks and finishes the file with its filter, index and footer. It writes only
//! forward, in whole blocks, and never reads back what it wrote.

use std::cmp::Ordering;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::WritableFile;
use crate::key::{compare_internal, parse_internal, user_key, ValueKind};
use crate::range_del::RangeTombstone;
use crate::sstable::block::BlockBuilder;
use crate::sstable::bloom::BloomBuilder;

use super::format::{
    encode_header, BlockHandle, Compression, Footer, TableId, TableOptions, TableSummary,
    TYPE_LZ4, TYPE_NONE,
};

/// Entries beyond this size would overflow the u32 offsets inside a block.
const MAX_ENTRY_LEN: usize = (u32::MAX / 4) as usize;

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
    range_dels: Vec<RangeTombstone>,
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
            range_dels: Vec::new(),
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
        if parsed.kind == ValueKind::RangeDelete {
            self.range_dels.push(RangeTombstone::of(&parsed, value));
        }
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
            range_dels: self.range_dels,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FileSystem, RealFs};
    use crate::key::{internal_key, ValueKind};
    use crate::sstable::table::tests::{opts, test_id};
    use crate::test_dir::TempDir;

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
}
