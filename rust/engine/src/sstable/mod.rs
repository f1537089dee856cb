//! SSTables: immutable, sorted files of internal keys, written once by a flush or compaction
//! and then only read.
//!
//! ```text
//! table        := header data_block* filter_block index_block footer
//! header       := magic:u64le version:u32le db_id:u64le file_number:u64le header_crc:u32le
//!                                                                     (32 bytes, version = 2)
//! stored_block := contents type:u8 crc:u32le        (the 5-byte block trailer)
//! contents     := raw                                when type = 0 (none)
//!               | raw_len:u32le lz4_block(raw)       when type = 1 (lz4)
//! footer       := filter_offset:u64le filter_size:u64le
//!                 index_offset:u64le index_size:u64le
//!                 entries:u64le smallest_seq:u64le largest_seq:u64le
//!                 db_id:u64le file_number:u64le
//!                 version:u32le footer_crc:u32le magic:u64le      (88 bytes, version = 2)
//! ```
//!
//! `crc` is CRC-32 (crc32fast) over the stored `contents` followed by the type byte. A block is
//! stored LZ4-compressed only when that makes it at least 1/8 smaller. Block sizes in handles
//! and in the footer count the stored `contents` only, not the trailer. `footer_crc` covers the
//! 76 footer bytes before it, `header_crc` the 28 header bytes before it, and `magic` is
//! `"STRATSST"` as bytes. The first data block directly follows the header, the filter block
//! the last data block, the index block the filter, the footer the index: every byte of the
//! file lies in exactly one checksummed region.
//!
//! Identity: `db_id` names the database that wrote the table (a random number its manifest
//! records) and `file_number` the number in the table's file name. Both are in the header, so
//! even a table a crash cut short can be recognised as this database's own, and in the footer,
//! whose checksum the manifest records next to the file size: a table swapped with another,
//! truncated, or copied in from another database fails that check when opened and is reported
//! as corruption naming the file, never read. Version 1 tables (no header, a 72-byte footer
//! ending in the same `version footer_crc magic`) are recognised and refused by version.
//!
//! Each raw data and index block is a [`block`]: prefix-compressed entries, restart points and
//! a restart array. Data block entries map internal keys (see [`crate::key`]) to values, in
//! [`compare_internal`](crate::key::compare_internal) order, cut once a block reaches
//! `block_size`. The index block has one entry per data block, with restart interval 1: key =
//! the last internal key of the block, value = `offset:varint size:varint` of its stored
//! contents. The filter block is a [`bloom`] filter over the table's distinct user keys, empty
//! when filters are disabled. Footer `entries` counts all entries, puts and tombstones.
//!
//! This module reads and writes single files. It never decides which tables exist or which
//! version of a key wins across tables: that is the version set's and the merge's job.

pub mod block;
pub mod bloom;
pub mod table;

pub use table::{Compression, Table, TableBuilder, TableIter, TableOptions, TableSummary};
