//! Types and constants shared with C and Go. Their layout is the ABI: add fields only at the
//! end of a struct, never reorder or renumber. Values are literals so the header generator can
//! read them; a test checks they match the engine's.

/// Success.
pub const STRATA_OK: i32 = 0;
/// The key does not exist (a completion of `strata_db_get`).
pub const STRATA_ERR_NOT_FOUND: i32 = 1;
/// The database or iterator handle is closed or was never valid.
pub const STRATA_ERR_CLOSED: i32 = 2;
/// Stored data failed a checksum or structural check.
pub const STRATA_ERR_CORRUPTION: i32 = 3;
/// An argument breaks a documented rule (NULL pointer with a length, oversized key, ...).
pub const STRATA_ERR_INVALID_ARGUMENT: i32 = 4;
/// An operating-system I/O call failed.
pub const STRATA_ERR_IO: i32 = 5;
/// The directory is already open, in this process or another.
pub const STRATA_ERR_LOCKED: i32 = 6;
/// The database refuses writes after an earlier failure; reopen it.
pub const STRATA_ERR_POISONED: i32 = 7;
/// A bug in strata (a caught panic); the message says where.
pub const STRATA_ERR_INTERNAL: i32 = 8;
/// The database was opened read-only (`STRATA_OPEN_READ_ONLY`) and this would change it.
pub const STRATA_ERR_READ_ONLY: i32 = 9;
/// A transaction's commit (`strata_db_commit`) found a key it read changed since its snapshot;
/// nothing was written.
pub const STRATA_ERR_CONFLICT: i32 = 10;

/// Not an error: `strata_wait` (or `strata_db_get_wait` with a token) returned because its
/// limit passed or `strata_interrupt` woke it before the result came (the token stays
/// announced), or `strata_abandon` found no result yet (the token is forgotten and its result
/// will arrive through the completion queue, or for a read, be dropped).
pub const STRATA_INTERRUPTED: i32 = -1;

/// `strata_iter_open` flag: iterate in descending key order.
pub const STRATA_ITER_REVERSE: u32 = 1;
/// `strata_iter_open` flag: the open's completion also carries the first chunk of entries, as
/// `strata_iter_next` would (with `STRATA_ITER_DONE` when nothing follows), saving a round trip
/// for short scans.
pub const STRATA_ITER_FIRST_CHUNK: u32 = 2;
/// `strata_completion.flags` bit: the iterator is exhausted; no further chunk follows.
pub const STRATA_ITER_DONE: u32 = 1;
/// `strata_completion.flags` bit of a seek made with `STRATA_SEEK_BEHIND`: no entry within
/// the bounds lies beyond the last of the entries behind the position. (The flags' bits share
/// one space: 2 is `STRATA_COMPLETION_LOG`.)
pub const STRATA_ITER_BEHIND_DONE: u32 = 4;

/// `strata_db_get` and `strata_db_get_wait` snapshot: open a new snapshot of the latest state
/// and read at it, in the same request. The result's `handle` is the new snapshot (close it
/// with `strata_snapshot_close`), with the value or with `STRATA_ERR_NOT_FOUND`; a read that
/// fails otherwise opens none (`handle` 0).
pub const STRATA_SNAPSHOT_NEW: u64 = u64::MAX;

/// `strata_iter_seek` mode: the smallest key in bounds, reading up (`key` must be empty).
pub const STRATA_SEEK_FIRST: u32 = 1;
/// `strata_iter_seek` mode: the largest key in bounds, reading down (`key` must be empty).
pub const STRATA_SEEK_LAST: u32 = 2;
/// `strata_iter_seek` mode: the smallest key `>=` `key`, reading up.
pub const STRATA_SEEK_GE: u32 = 3;
/// `strata_iter_seek` mode: the smallest key `>` `key`, reading up.
pub const STRATA_SEEK_GT: u32 = 4;
/// `strata_iter_seek` mode: the largest key `<=` `key`, reading down.
pub const STRATA_SEEK_LE: u32 = 5;
/// `strata_iter_seek` mode: the largest key `<` `key`, reading down.
pub const STRATA_SEEK_LT: u32 = 6;
/// `strata_iter_seek` mode flag, OR'ed into a mode: the chunk also brings up to
/// `chunk_entries` entries behind the position, the nearest first (for `STRATA_SEEK_GE` the
/// largest keys `<` `key`, for `_LT` the smallest `>=` `key`, and so on; none for `_FIRST` and
/// `_LAST`), so a caller that turns around right after the seek needs no second round trip.
/// The chunk's data then starts with `behind_len:u32le` and that many bytes of those entries,
/// encoded as in a chunk, followed by the chunk as usual; `STRATA_ITER_BEHIND_DONE` says when
/// nothing lies beyond them. The iterator stays where its chunk ends: going on past the entries
/// behind is a new seek.
pub const STRATA_SEEK_BEHIND: u32 = 0x100;
/// `strata_completion.flags` bit: not the result of a request but an engine log record
/// (token 0), asked for with `strata_log_level`. `data` holds the record, all integers
/// little-endian: level u8 (`STRATA_LOG_*`); target, then message, each as a u32 length and
/// UTF-8 bytes; a u32 field count; per field a name (u32 length, bytes), a kind u8 (`STRATA_LOG_FIELD_*`: 0 string,
/// 1 i64, 2 u64, 3 f64, 4 bool) and the value (string: u32 length, bytes; i64, u64, f64: 8
/// bytes; bool: 1 byte). A field `strata_dropped_records` (u64) counts records dropped before
/// this one because the host fell more than 4096 records behind.
pub const STRATA_COMPLETION_LOG: u32 = 2;

/// `strata_log_level`: no log records.
pub const STRATA_LOG_OFF: u32 = 0;
/// `strata_log_level` and log records: errors.
pub const STRATA_LOG_ERROR: u32 = 1;
/// `strata_log_level` and log records: warnings.
pub const STRATA_LOG_WARN: u32 = 2;
/// `strata_log_level` and log records: information (opens, flushes, compactions, stalls).
pub const STRATA_LOG_INFO: u32 = 3;
/// `strata_log_level` and log records: debugging detail.
pub const STRATA_LOG_DEBUG: u32 = 4;
/// `strata_log_level` and log records: the most detail.
pub const STRATA_LOG_TRACE: u32 = 5;

/// `strata_options.compression`: the default (LZ4).
pub const STRATA_COMPRESSION_DEFAULT: u32 = 0;
/// `strata_options.compression`: store blocks uncompressed.
pub const STRATA_COMPRESSION_NONE: u32 = 1;
/// `strata_options.compression`: LZ4.
pub const STRATA_COMPRESSION_LZ4: u32 = 2;
/// Levels in the tree (length of the per-level arrays in `strata_stats`).
pub const STRATA_NUM_LEVELS: usize = 7;

/// Largest key in bytes.
pub const STRATA_MAX_KEY_LEN: usize = 65536;
/// Largest value in bytes.
pub const STRATA_MAX_VALUE_LEN: usize = 67108864;
/// Largest encoded batch in bytes.
pub const STRATA_MAX_BATCH_LEN: usize = 268435456;

/// `strata_options.flags`: open an existing database to read only. Nothing in its directory is
/// created, changed or removed; writes, flushes, compactions and checkpoints fail with
/// `STRATA_ERR_READ_ONLY`; the lock is shared, so read-only opens (in any processes) coexist
/// while no writer holds the database.
pub const STRATA_OPEN_READ_ONLY: u32 = 1;
/// `strata_options.flags`: read every table block with `pread` through the block cache instead
/// of mapping table files into memory (the default, which reads uncompressed blocks in place).
pub const STRATA_OPEN_NO_MMAP: u32 = 2;

/// `strata_db_write` flag: complete only once the write is durable, also with `no_sync`.
pub const STRATA_WRITE_SYNC: u32 = 1;

/// The size of the first `strata_options`: the least `opts_size` `strata_db_open` accepts.
pub const STRATA_OPTIONS_SIZE_V1: usize = 32;

/// `strata_db_write` batch encoding: an operation that sets a key.
pub const STRATA_BATCH_PUT: u8 = 1;
/// `strata_db_write` batch encoding: an operation that deletes a key.
pub const STRATA_BATCH_DELETE: u8 = 2;
/// `strata_db_write` batch encoding: an operation that deletes every key in `[key, end)`.
pub const STRATA_BATCH_DELETE_RANGE: u8 = 3;

/// Log record field kind (`STRATA_COMPLETION_LOG`): a string (u32 length, UTF-8 bytes).
pub const STRATA_LOG_FIELD_STRING: u8 = 0;
/// Log record field kind: a signed 64-bit integer (8 bytes).
pub const STRATA_LOG_FIELD_I64: u8 = 1;
/// Log record field kind: an unsigned 64-bit integer (8 bytes).
pub const STRATA_LOG_FIELD_U64: u8 = 2;
/// Log record field kind: a 64-bit IEEE float (8 bytes).
pub const STRATA_LOG_FIELD_F64: u8 = 3;
/// Log record field kind: a boolean (1 byte, 0 or 1).
pub const STRATA_LOG_FIELD_BOOL: u8 = 4;

// The batch kinds are the engine's own encoding, copied by no one.
const _: () = assert!(STRATA_BATCH_PUT == strata_engine::batch::KIND_PUT);
const _: () = assert!(STRATA_BATCH_DELETE == strata_engine::batch::KIND_DELETE);
const _: () = assert!(STRATA_BATCH_DELETE_RANGE == strata_engine::batch::KIND_DELETE_RANGE);

/// Options for `strata_db_open`. Zero-initialized means defaults. The struct only grows, at its
/// end, with fields whose zero means the default: a caller passes the size it was compiled
/// with (`sizeof(strata_options)`), so an older caller's smaller struct reads as defaults for
/// the newer fields, and a newer caller's larger one is accepted when the fields this library
/// does not know are zero.
/// Thread-safety: plain data, read during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct strata_options {
    /// Nonzero: acknowledge writes once handed to the OS, without fsync.
    pub no_sync: u32,
    /// Block compression: `STRATA_COMPRESSION_DEFAULT` (LZ4), `_NONE` or `_LZ4`.
    pub compression: u32,
    /// Bytes for memtables (0: 64 MiB).
    pub memtable_budget: u64,
    /// Bytes for the block cache (0: 64 MiB).
    pub block_cache_bytes: u64,
    /// Table files kept open at once (0: derived from RLIMIT_NOFILE, 16 to 512).
    pub max_open_files: u32,
    /// `STRATA_OPEN_*` bits (0: read-write); a bit this library does not know fails the open
    /// with `STRATA_ERR_INVALID_ARGUMENT`.
    pub flags: u32,
}

// A field added to `strata_options` goes at its end; the first version's size stays accepted.
const _: () = assert!(std::mem::size_of::<strata_options>() >= STRATA_OPTIONS_SIZE_V1);

/// One finished operation, filled in by `strata_completions_drain`.
/// Thread-safety: plain data; `data` is owned by strata and stays valid until the next call to
/// `strata_completions_drain`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct strata_completion {
    /// The token the caller passed when it submitted the operation.
    pub token: u64,
    /// `strata_db_open`: the new database handle. `strata_iter_open`: the new iterator handle.
    pub handle: u64,
    /// On success: the result bytes (a value, an iterator chunk, a `strata_stats`).
    /// On failure: a UTF-8 message, not NUL-terminated. NULL whenever `len` is 0.
    pub data: *const u8,
    /// Length of `data` in bytes.
    pub len: usize,
    /// `STRATA_OK` or a `STRATA_ERR_*` code.
    pub code: i32,
    /// `STRATA_ITER_DONE` on the last chunk of an iterator.
    pub flags: u32,
}

/// The result of a request a caller waited for in its own call (`strata_db_get_wait`,
/// `strata_wait`, `strata_abandon`): a `strata_completion` whose bytes were copied into the
/// caller's buffer when they fit.
/// Thread-safety: plain data; a non-NULL `data` belongs to the caller once the call returned,
/// to be released with `strata_value_free(data, len)`, exactly once.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct strata_waited {
    /// As in `strata_completion`.
    pub handle: u64,
    /// NULL when the bytes were copied into the caller's buffer (or there are none); else a
    /// buffer of `len` bytes strata allocated for them.
    pub data: *mut u8,
    /// Length of the result bytes (a value, a chunk, a message).
    pub len: usize,
    /// As in `strata_completion`.
    pub flags: u32,
}

/// Counters for one database and for the process, delivered as the `data` of a
/// `strata_db_stats` completion.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct strata_stats {
    /// Times engine thread-local state was initialized in this process. Equals
    /// `strata_threads` unless a non-strata thread entered the engine.
    pub tls_inits: u64,
    /// Threads strata spawned in this process.
    pub strata_threads: u64,
    /// Bytes Rust code in strata holds allocated right now, in this process.
    pub rust_live_bytes: u64,
    /// Blocks Rust code in strata holds allocated right now, in this process.
    pub rust_live_allocations: u64,
    /// Blocks Rust code in strata allocated since the process started.
    pub rust_allocations: u64,
    /// Last sequence number visible to reads.
    pub visible_seq: u64,
    /// Non-empty batches acknowledged since open (each put and delete is a batch of one).
    pub batches_written: u64,
    /// Bytes appended to the WAL since open.
    pub wal_bytes_written: u64,
    /// Write calls that handed WAL groups to the OS.
    pub wal_writes: u64,
    /// Completed WAL fsyncs; fewer than `batches_written` when writers shared them.
    pub wal_syncs: u64,
    /// Current WAL size in bytes.
    pub wal_size: u64,
    /// Approximate bytes of the active and frozen memtables.
    pub memtable_bytes: u64,
    /// Versions (values and tombstones) held by the active memtable (frozen ones excluded).
    pub memtable_versions: u64,
    /// Batches replayed from the WAL at open.
    pub recovered_batches: u64,
    /// Bytes of torn WAL tail discarded at open.
    pub recovered_torn_bytes: u64,
    /// Live snapshots, including the one each open iterator holds.
    pub snapshots: u64,
    /// Open iterators on this database.
    pub open_iterators: u64,
    /// Frozen memtables waiting to be flushed.
    pub frozen_memtables: u64,
    /// Memtable flushes since open.
    pub flushes: u64,
    /// Compactions since open.
    pub compactions: u64,
    /// Bytes written to tables by flushes since open.
    pub flush_bytes: u64,
    /// Bytes read by compactions since open.
    pub compaction_bytes_read: u64,
    /// Bytes written by compactions since open.
    pub compaction_bytes_written: u64,
    /// Bytes over target summed over levels: compaction still owed.
    pub compaction_debt: u64,
    /// Block cache hits since open.
    pub cache_hits: u64,
    /// Block cache misses since open.
    pub cache_misses: u64,
    /// Bytes held by the block cache.
    pub cache_bytes: u64,
    /// Writes currently held back by write stalls.
    pub stalled_writes: u64,
    /// Tables per level.
    pub level_files: [u64; STRATA_NUM_LEVELS],
    /// Table bytes per level.
    pub level_bytes: [u64; STRATA_NUM_LEVELS],
    /// Bytes of table files mapped into memory (0 with `STRATA_OPEN_NO_MMAP`).
    pub mapped_bytes: u64,
    /// Bytes of the mapped table files resident in memory now: the kernel's page cache, which
    /// it may reclaim, outside the block cache's budget.
    pub mapped_resident_bytes: u64,
}

/// Rust heap use of the whole process, filled in by `strata_memory`.
/// Thread-safety: plain data.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct strata_memory {
    /// Bytes Rust code in strata holds allocated right now.
    pub live_bytes: u64,
    /// Blocks Rust code in strata holds allocated right now.
    pub live_allocations: u64,
    /// Blocks Rust code in strata allocated since the process started.
    pub allocations: u64,
}

/// `strata_failpoint_arm`: panic at the point.
pub const STRATA_FAILPOINT_PANIC: u32 = 1;
/// `strata_failpoint_arm`: fault (SIGSEGV) at the point.
pub const STRATA_FAILPOINT_SEGFAULT: u32 = 2;
/// `strata_failpoint_arm`: write to a pipe with no reader (raises SIGPIPE) at the point.
pub const STRATA_FAILPOINT_BROKEN_PIPE: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use strata_engine::ErrorCode;

    #[test]
    fn constants_match_the_engine() {
        let pairs = [
            (STRATA_OK, ErrorCode::Ok),
            (STRATA_ERR_NOT_FOUND, ErrorCode::NotFound),
            (STRATA_ERR_CLOSED, ErrorCode::Closed),
            (STRATA_ERR_CORRUPTION, ErrorCode::Corruption),
            (STRATA_ERR_INVALID_ARGUMENT, ErrorCode::InvalidArgument),
            (STRATA_ERR_IO, ErrorCode::Io),
            (STRATA_ERR_LOCKED, ErrorCode::Locked),
            (STRATA_ERR_POISONED, ErrorCode::Poisoned),
            (STRATA_ERR_INTERNAL, ErrorCode::Internal),
            (STRATA_ERR_READ_ONLY, ErrorCode::ReadOnly),
            (STRATA_ERR_CONFLICT, ErrorCode::Conflict),
        ];
        for (c, code) in pairs {
            assert_eq!(c, code as i32, "{code:?}");
        }
        assert_eq!(STRATA_MAX_KEY_LEN, strata_engine::MAX_KEY_LEN);
        assert_eq!(STRATA_MAX_VALUE_LEN, strata_engine::MAX_VALUE_LEN);
        assert_eq!(STRATA_MAX_BATCH_LEN, strata_engine::MAX_BATCH_LEN);
        assert_eq!(STRATA_NUM_LEVELS, strata_engine::NUM_LEVELS);
    }
}
