//! The on-disk format of one table, shared by the builder and the reader: its constants, the
//! options that shape it, and the fixed records (header, footer, block handles) with their
//! encodings. The byte grammar is in [`crate::sstable`]; this module only turns those records
//! into bytes and back, and never touches a file.

use crate::range_del::RangeTombstone;
use crate::sstable::block::{get_varint, put_varint, DEFAULT_RESTART_INTERVAL};
use crate::sstable::bloom::DEFAULT_BITS_PER_KEY;

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

pub(super) const TYPE_NONE: u8 = 0;
pub(super) const TYPE_LZ4: u8 = 1;

/// How blocks are compressed on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Blocks are stored as they are.
    None,
    /// Blocks are LZ4-compressed when that saves at least an eighth of their size.
    #[default]
    Lz4,
}

/// How a [`TableBuilder`](super::TableBuilder) lays out the file.
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
    /// The range tombstones among the entries, in key order.
    pub range_dels: Vec<RangeTombstone>,
}

/// Where a stored block lies: `size` counts the stored (possibly compressed) bytes, not the
/// trailer that follows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BlockHandle {
    pub(super) offset: u64,
    pub(super) size: u64,
}

impl BlockHandle {
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.offset);
        put_varint(out, self.size);
    }

    pub(super) fn decode(data: &[u8]) -> Option<BlockHandle> {
        let mut pos = 0;
        let offset = get_varint(data, &mut pos)?;
        let size = get_varint(data, &mut pos)?;
        (pos == data.len()).then_some(BlockHandle { offset, size })
    }

    /// The offset just past the block's trailer, or `None` on overflow.
    pub(super) fn end(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_LEN)
    }
}

/// The fixed-size record at the end of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Footer {
    pub(super) filter: BlockHandle,
    pub(super) index: BlockHandle,
    pub(super) entries: u64,
    pub(super) smallest_seq: u64,
    pub(super) largest_seq: u64,
    pub(super) id: TableId,
}

/// Offsets inside the footer of the fields every format version keeps at the end.
const FOOTER_VERSION_AT: usize = 72;
const FOOTER_CRC_AT: usize = 76;
const FOOTER_MAGIC_AT: usize = 80;

impl Footer {
    pub(super) fn encode(&self) -> [u8; FOOTER_LEN as usize] {
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
    pub(super) fn crc_of(b: &[u8; FOOTER_LEN as usize]) -> u32 {
        u32::from_le_bytes(
            b[FOOTER_CRC_AT..FOOTER_MAGIC_AT]
                .try_into()
                .unwrap_or_default(),
        )
    }

    /// Decodes a footer, or says which byte (relative to the footer) is wrong and why.
    pub(super) fn decode(
        b: &[u8; FOOTER_LEN as usize],
    ) -> std::result::Result<Footer, (u64, String)> {
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
pub(super) fn encode_header(id: TableId) -> [u8; HEADER_LEN as usize] {
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
