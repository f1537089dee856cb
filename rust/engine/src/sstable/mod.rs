//! SSTables: immutable, sorted files of internal keys, written once by a flush or compaction
//! and then only read.
//!
//! ```text
//! table        := data_block* filter_block index_block footer
//! stored_block := contents type:u8 crc:u32le        (the 5-byte block trailer)
//! contents     := raw                                when type = 0 (none)
//!               | raw_len:u32le lz4_block(raw)       when type = 1 (lz4)
//! footer       := filter_offset:u64le filter_size:u64le
//!                 index_offset:u64le index_size:u64le
//!                 entries:u64le smallest_seq:u64le largest_seq:u64le
//!                 version:u32le footer_crc:u32le magic:u64le      (72 bytes, version = 1)
//! ```
//!
//! `crc` is CRC-32 (crc32fast) over the stored `contents` followed by the type byte. A block is
//! stored LZ4-compressed only when that makes it at least 1/8 smaller. Block sizes in handles
//! and in the footer count the stored `contents` only, not the trailer. `footer_crc` covers the
//! 60 footer bytes before it, and `magic` is `"STRATSST"` as bytes. The filter block directly
//! follows the last data block, the index block the filter, the footer the index: every byte
//! of the file lies in exactly one checksummed region.
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
