/*
 * strata.h: the C ABI of strata, an embedded ordered key-value store.
 * Generated from rust/ffi/src by cbindgen; do not edit by hand.
 *
 * Model. Each open database has a strata thread that owns it. Each function below validates its arguments,
 * copies what it needs, queues a request and returns at once. Submission functions return
 * STRATA_OK when the request was accepted; its result arrives later as a strata_completion
 * carrying the caller's token. Wait for completions by polling the descriptor from
 * strata_runtime_start, then call strata_completions_drain until it returns 0.
 *
 * Every function states, in one sentence each, who owns what ("Ownership:") and which threads
 * may call it ("Threads:"). Handles are 64-bit numbers, never pointers: a closed or unknown
 * handle is detected and fails with STRATA_ERR_CLOSED instead of touching freed memory.
 *
 * Pointer arguments: a non-NULL pointer must be readable (or, for outputs, writable) for its
 * length during the call; NULL is accepted only with length 0. strata never keeps a pointer
 * after a call returns.
 */

#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

// Success.
#define STRATA_OK 0

// The key does not exist (a completion of `strata_db_get`).
#define STRATA_ERR_NOT_FOUND 1

// The database or iterator handle is closed or was never valid.
#define STRATA_ERR_CLOSED 2

// Stored data failed a checksum or structural check.
#define STRATA_ERR_CORRUPTION 3

// An argument breaks a documented rule (NULL pointer with a length, oversized key, ...).
#define STRATA_ERR_INVALID_ARGUMENT 4

// An operating-system I/O call failed.
#define STRATA_ERR_IO 5

// The directory is already open, in this process or another.
#define STRATA_ERR_LOCKED 6

// The database refuses writes after an earlier failure; reopen it.
#define STRATA_ERR_POISONED 7

// A bug in strata (a caught panic); the message says where.
#define STRATA_ERR_INTERNAL 8

// The database was opened read-only (`STRATA_OPEN_READ_ONLY`) and this would change it.
#define STRATA_ERR_READ_ONLY 9

// A transaction's commit (`strata_db_commit`) found a key it read changed since its snapshot;
// nothing was written.
#define STRATA_ERR_CONFLICT 10

// Not an error: `strata_wait` (or `strata_db_get_wait` with a token) returned because its
// limit passed or `strata_interrupt` woke it before the result came (the token stays
// announced), or `strata_abandon` found no result yet (the token is forgotten and its result
// will arrive through the completion queue, or for a read, be dropped).
#define STRATA_INTERRUPTED -1

// `strata_iter_open` flag: iterate in descending key order.
#define STRATA_ITER_REVERSE 1

// `strata_iter_open` flag: the open's completion also carries the first chunk of entries, as
// `strata_iter_next` would (with `STRATA_ITER_DONE` when nothing follows), saving a round trip
// for short scans.
#define STRATA_ITER_FIRST_CHUNK 2

// `strata_completion.flags` bit: the iterator is exhausted; no further chunk follows.
#define STRATA_ITER_DONE 1

// `strata_completion.flags` bit of a seek made with `STRATA_SEEK_BEHIND`: no entry within
// the bounds lies beyond the last of the entries behind the position. (The flags' bits share
// one space: 2 is `STRATA_COMPLETION_LOG`.)
#define STRATA_ITER_BEHIND_DONE 4

// `strata_db_get` and `strata_db_get_wait` snapshot: open a new snapshot of the latest state
// and read at it, in the same request. The result's `handle` is the new snapshot (close it
// with `strata_snapshot_close`), with the value or with `STRATA_ERR_NOT_FOUND`; a read that
// fails otherwise opens none (`handle` 0).
#define STRATA_SNAPSHOT_NEW UINT64_MAX

// `strata_iter_seek` mode: the smallest key in bounds, reading up (`key` must be empty).
#define STRATA_SEEK_FIRST 1

// `strata_iter_seek` mode: the largest key in bounds, reading down (`key` must be empty).
#define STRATA_SEEK_LAST 2

// `strata_iter_seek` mode: the smallest key `>=` `key`, reading up.
#define STRATA_SEEK_GE 3

// `strata_iter_seek` mode: the smallest key `>` `key`, reading up.
#define STRATA_SEEK_GT 4

// `strata_iter_seek` mode: the largest key `<=` `key`, reading down.
#define STRATA_SEEK_LE 5

// `strata_iter_seek` mode: the largest key `<` `key`, reading down.
#define STRATA_SEEK_LT 6

// `strata_iter_seek` mode flag, OR'ed into a mode: the chunk also brings up to
// `chunk_entries` entries behind the position, the nearest first (for `STRATA_SEEK_GE` the
// largest keys `<` `key`, for `_LT` the smallest `>=` `key`, and so on; none for `_FIRST` and
// `_LAST`), so a caller that turns around right after the seek needs no second round trip.
// The chunk's data then starts with `behind_len:u32le` and that many bytes of those entries,
// encoded as in a chunk, followed by the chunk as usual; `STRATA_ITER_BEHIND_DONE` says when
// nothing lies beyond them. The iterator stays where its chunk ends: going on past the entries
// behind is a new seek.
#define STRATA_SEEK_BEHIND 256

// `strata_completion.flags` bit: not the result of a request but an engine log record
// (token 0), asked for with `strata_log_level`. `data` holds the record, all integers
// little-endian: level u8 (`STRATA_LOG_*`); target, then message, each as a u32 length and
// UTF-8 bytes; a u32 field count; per field a name (u32 length, bytes), a kind u8 (`STRATA_LOG_FIELD_*`: 0 string,
// 1 i64, 2 u64, 3 f64, 4 bool) and the value (string: u32 length, bytes; i64, u64, f64: 8
// bytes; bool: 1 byte). A field `strata_dropped_records` (u64) counts records dropped before
// this one because the host fell more than 4096 records behind.
#define STRATA_COMPLETION_LOG 2

// `strata_log_level`: no log records.
#define STRATA_LOG_OFF 0

// `strata_log_level` and log records: errors.
#define STRATA_LOG_ERROR 1

// `strata_log_level` and log records: warnings.
#define STRATA_LOG_WARN 2

// `strata_log_level` and log records: information (opens, flushes, compactions, stalls).
#define STRATA_LOG_INFO 3

// `strata_log_level` and log records: debugging detail.
#define STRATA_LOG_DEBUG 4

// `strata_log_level` and log records: the most detail.
#define STRATA_LOG_TRACE 5

// `strata_options.compression`: the default (LZ4).
#define STRATA_COMPRESSION_DEFAULT 0

// `strata_options.compression`: store blocks uncompressed.
#define STRATA_COMPRESSION_NONE 1

// `strata_options.compression`: LZ4.
#define STRATA_COMPRESSION_LZ4 2

// Levels in the tree (length of the per-level arrays in `strata_stats`).
#define STRATA_NUM_LEVELS 7

// Largest key in bytes.
#define STRATA_MAX_KEY_LEN 65536

// Largest value in bytes.
#define STRATA_MAX_VALUE_LEN 67108864

// Largest encoded batch in bytes.
#define STRATA_MAX_BATCH_LEN 268435456

// `strata_options.flags`: open an existing database to read only. Nothing in its directory is
// created, changed or removed; writes, flushes, compactions and checkpoints fail with
// `STRATA_ERR_READ_ONLY`; the lock is shared, so read-only opens (in any processes) coexist
// while no writer holds the database.
#define STRATA_OPEN_READ_ONLY 1

// `strata_options.flags`: read every table block with `pread` through the block cache instead
// of mapping table files into memory (the default, which reads uncompressed blocks in place).
#define STRATA_OPEN_NO_MMAP 2

// `strata_db_write` flag: complete only once the write is durable, also with `no_sync`.
#define STRATA_WRITE_SYNC 1

// The size of the first `strata_options`: the least `opts_size` `strata_db_open` accepts.
#define STRATA_OPTIONS_SIZE_V1 32

// `strata_db_write` batch encoding: an operation that sets a key.
#define STRATA_BATCH_PUT 1

// `strata_db_write` batch encoding: an operation that deletes a key.
#define STRATA_BATCH_DELETE 2

// `strata_db_write` batch encoding: an operation that deletes every key in `[key, end)`.
#define STRATA_BATCH_DELETE_RANGE 3

// Log record field kind (`STRATA_COMPLETION_LOG`): a string (u32 length, UTF-8 bytes).
#define STRATA_LOG_FIELD_STRING 0

// Log record field kind: a signed 64-bit integer (8 bytes).
#define STRATA_LOG_FIELD_I64 1

// Log record field kind: an unsigned 64-bit integer (8 bytes).
#define STRATA_LOG_FIELD_U64 2

// Log record field kind: a 64-bit IEEE float (8 bytes).
#define STRATA_LOG_FIELD_F64 3

// Log record field kind: a boolean (1 byte, 0 or 1).
#define STRATA_LOG_FIELD_BOOL 4

// `strata_failpoint_arm`: panic at the point.
#define STRATA_FAILPOINT_PANIC 1

// `strata_failpoint_arm`: fault (SIGSEGV) at the point.
#define STRATA_FAILPOINT_SEGFAULT 2

// `strata_failpoint_arm`: write to a pipe with no reader (raises SIGPIPE) at the point.
#define STRATA_FAILPOINT_BROKEN_PIPE 3

// The byte freed memory is filled with under the `poison` feature.
#define POISON 219

// One finished operation, filled in by `strata_completions_drain`.
// Thread-safety: plain data; `data` is owned by strata and stays valid until the next call to
// `strata_completions_drain`.
typedef struct strata_completion {
  // The token the caller passed when it submitted the operation.
  uint64_t token;
  // `strata_db_open`: the new database handle. `strata_iter_open`: the new iterator handle.
  uint64_t handle;
  // On success: the result bytes (a value, an iterator chunk, a `strata_stats`).
  // On failure: a UTF-8 message, not NUL-terminated. NULL whenever `len` is 0.
  const uint8_t *data;
  // Length of `data` in bytes.
  size_t len;
  // `STRATA_OK` or a `STRATA_ERR_*` code.
  int32_t code;
  // `STRATA_ITER_DONE` on the last chunk of an iterator.
  uint32_t flags;
} strata_completion;

// Options for `strata_db_open`. Zero-initialized means defaults. The struct only grows, at its
// end, with fields whose zero means the default: a caller passes the size it was compiled
// with (`sizeof(strata_options)`), so an older caller's smaller struct reads as defaults for
// the newer fields, and a newer caller's larger one is accepted when the fields this library
// does not know are zero.
// Thread-safety: plain data, read during the call only.
typedef struct strata_options {
  // Nonzero: acknowledge writes once handed to the OS, without fsync.
  uint32_t no_sync;
  // Block compression: `STRATA_COMPRESSION_DEFAULT` (LZ4), `_NONE` or `_LZ4`.
  uint32_t compression;
  // Bytes for memtables (0: 64 MiB).
  uint64_t memtable_budget;
  // Bytes for the block cache (0: 64 MiB).
  uint64_t block_cache_bytes;
  // Table files kept open at once (0: derived from RLIMIT_NOFILE, 16 to 512).
  uint32_t max_open_files;
  // `STRATA_OPEN_*` bits (0: read-write); a bit this library does not know fails the open
  // with `STRATA_ERR_INVALID_ARGUMENT`.
  uint32_t flags;
} strata_options;

// The result of a request a caller waited for in its own call (`strata_db_get_wait`,
// `strata_wait`, `strata_abandon`): a `strata_completion` whose bytes were copied into the
// caller's buffer when they fit.
// Thread-safety: plain data; a non-NULL `data` belongs to the caller once the call returned,
// to be released with `strata_value_free(data, len)`, exactly once.
typedef struct strata_waited {
  // As in `strata_completion`.
  uint64_t handle;
  // NULL when the bytes were copied into the caller's buffer (or there are none); else a
  // buffer of `len` bytes strata allocated for them.
  uint8_t *data;
  // Length of the result bytes (a value, a chunk, a message).
  size_t len;
  // As in `strata_completion`.
  uint32_t flags;
} strata_waited;

// Rust heap use of the whole process, filled in by `strata_memory`.
// Thread-safety: plain data.
typedef struct strata_memory {
  // Bytes Rust code in strata holds allocated right now.
  uint64_t live_bytes;
  // Blocks Rust code in strata holds allocated right now.
  uint64_t live_allocations;
  // Blocks Rust code in strata allocated since the process started.
  uint64_t allocations;
} strata_memory;

// Counters for one database and for the process, delivered as the `data` of a
// `strata_db_stats` completion.
typedef struct strata_stats {
  // Times engine thread-local state was initialized in this process. Equals
  // `strata_threads` unless a non-strata thread entered the engine.
  uint64_t tls_inits;
  // Threads strata spawned in this process.
  uint64_t strata_threads;
  // Bytes Rust code in strata holds allocated right now, in this process.
  uint64_t rust_live_bytes;
  // Blocks Rust code in strata holds allocated right now, in this process.
  uint64_t rust_live_allocations;
  // Blocks Rust code in strata allocated since the process started.
  uint64_t rust_allocations;
  // Last sequence number visible to reads.
  uint64_t visible_seq;
  // Non-empty batches acknowledged since open (each put and delete is a batch of one).
  uint64_t batches_written;
  // Bytes appended to the WAL since open.
  uint64_t wal_bytes_written;
  // Write calls that handed WAL groups to the OS.
  uint64_t wal_writes;
  // Completed WAL fsyncs; fewer than `batches_written` when writers shared them.
  uint64_t wal_syncs;
  // Current WAL size in bytes.
  uint64_t wal_size;
  // Approximate bytes of the active and frozen memtables.
  uint64_t memtable_bytes;
  // Versions (values and tombstones) held by the active memtable (frozen ones excluded).
  uint64_t memtable_versions;
  // Batches replayed from the WAL at open.
  uint64_t recovered_batches;
  // Bytes of torn WAL tail discarded at open.
  uint64_t recovered_torn_bytes;
  // Live snapshots, including the one each open iterator holds.
  uint64_t snapshots;
  // Open iterators on this database.
  uint64_t open_iterators;
  // Frozen memtables waiting to be flushed.
  uint64_t frozen_memtables;
  // Memtable flushes since open.
  uint64_t flushes;
  // Compactions since open.
  uint64_t compactions;
  // Bytes written to tables by flushes since open.
  uint64_t flush_bytes;
  // Bytes read by compactions since open.
  uint64_t compaction_bytes_read;
  // Bytes written by compactions since open.
  uint64_t compaction_bytes_written;
  // Bytes over target summed over levels: compaction still owed.
  uint64_t compaction_debt;
  // Block cache hits since open.
  uint64_t cache_hits;
  // Block cache misses since open.
  uint64_t cache_misses;
  // Bytes held by the block cache.
  uint64_t cache_bytes;
  // Writes currently held back by write stalls.
  uint64_t stalled_writes;
  // Tables per level.
  uint64_t level_files[STRATA_NUM_LEVELS];
  // Table bytes per level.
  uint64_t level_bytes[STRATA_NUM_LEVELS];
  // Bytes of table files mapped into memory (0 with `STRATA_OPEN_NO_MMAP`).
  uint64_t mapped_bytes;
  // Bytes of the mapped table files resident in memory now: the kernel's page cache, which
  // it may reclaim, outside the block cache's budget.
  uint64_t mapped_resident_bytes;
} strata_stats;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// Starts the strata runtime (once per process; later calls reuse it) and returns in
// `*eventfd_out` a non-blocking descriptor that becomes readable when completions wait.
// When it is readable, read it (8 bytes, the value is meaningless), then call
// `strata_completions_drain` until it returns 0 before waiting on it again. Every call returns
// a duplicate of the same eventfd: one process has one drainer.
// Ownership: the caller owns the descriptor written to `*eventfd_out` (a new one per call) and
// closes it; `eventfd_out` must be non-NULL.
// Threads: may be called from any thread.
int32_t strata_runtime_start(int32_t *eventfd_out);

// Moves up to `cap` finished operations into `out` and returns how many it wrote. Returns 0
// once the queue is empty; the eventfd is signalled again when new completions arrive.
// Ownership: `out` is the caller's and is only written during the call; the `data` buffers it
// receives belong to strata and stay valid until the next call to this function, which frees
// them or keeps them for later results (copy what you keep).
// Threads: call from one thread at a time (one drainer per process).
size_t strata_completions_drain(struct strata_completion *out, size_t cap);

// Opens (creating if needed) the database in directory `path` (`path_len` bytes, not
// NUL-terminated). The completion's `handle` is the database handle. Fails with
// `STRATA_ERR_LOCKED` if the directory is open already, in this process or another (with
// `STRATA_OPEN_READ_ONLY` in `opts.flags`: open by a writer; read-only opens share it, and
// create nothing).
// `opts_size` is `sizeof(strata_options)` as the caller was compiled (at least
// `STRATA_OPTIONS_SIZE_V1`; 0 with a NULL `opts`); bytes past the fields this library knows
// must be zero (`STRATA_ERR_INVALID_ARGUMENT` otherwise: an option it cannot honour).
// Ownership: the caller keeps `path` and `opts` (NULL means defaults); strata copies them
// before returning.
// Threads: may be called from any thread.
int32_t strata_db_open(const uint8_t *path,
                       size_t path_len,
                       const struct strata_options *opts,
                       size_t opts_size,
                       uint64_t token);

// Closes database `db`: waits for its pending writes, syncs the WAL, releases the directory
// lock, and invalidates its iterators. Later calls with the handle fail with
// `STRATA_ERR_CLOSED`; so does a second close (the handle is detected as stale, never reused).
// Ownership: no buffers change hands.
// Threads: may be called from any thread; requests submitted before it complete first.
int32_t strata_db_close(uint64_t db, uint64_t token);

// Sets `key` to `value` in `db` as a batch of one. The completion arrives once the write is
// durable (after fsync unless the database was opened with `no_sync`; to make one write
// durable in such a database, use `strata_db_write` with `STRATA_WRITE_SYNC`).
// Ownership: the caller keeps `key` and `value`; strata copies them before returning.
// Threads: may be called from any thread.
int32_t strata_db_put(uint64_t db,
                      const uint8_t *key,
                      size_t key_len,
                      const uint8_t *value,
                      size_t value_len,
                      uint64_t token);

// Deletes `key` from `db` (a batch of one; deleting a missing key succeeds), durable as
// `strata_db_put` is.
// Ownership: the caller keeps `key`; strata copies it before returning.
// Threads: may be called from any thread.
int32_t strata_db_delete(uint64_t db, const uint8_t *key, size_t key_len, uint64_t token);

// Applies an encoded batch atomically: all of its operations become visible and durable
// together, or none do. An empty batch completes at once and is not counted in stats. Encoding, repeated per operation: `kind:u8` (`STRATA_BATCH_PUT`, `STRATA_BATCH_DELETE`,
// `STRATA_BATCH_DELETE_RANGE`), `key_len:u32le`, key, and for puts `value_len:u32le`, value,
// for range deletes `end_len:u32le`, end (every key in `[key, end)` is deleted; a key after
// `end` is `STRATA_ERR_INVALID_ARGUMENT`, `key == end` deletes nothing).
// `flags`: `STRATA_WRITE_SYNC` completes the write only once it is durable, also in a database
// opened with `no_sync` (its group is fsynced); with an empty batch it completes once every
// write submitted before it is durable. 0 follows the database's `no_sync`. Another bit is
// `STRATA_ERR_INVALID_ARGUMENT`.
// Ownership: the caller keeps `batch`; strata validates and copies it before returning.
// Threads: may be called from any thread.
int32_t strata_db_write(uint64_t db,
                        const uint8_t *batch,
                        size_t batch_len,
                        uint32_t flags,
                        uint64_t token);

// Commits a transaction: applies the encoded `batch` as `strata_db_write` does (`flags` too),
// but only if every key in `reads` still reads as it did at `snapshot` (a handle from
// `strata_snapshot_open` on `db`, which the caller keeps open until the completion): when a
// write committed after the snapshot gave one of them another value, or made it present or
// absent, the completion fails with `STRATA_ERR_CONFLICT` and nothing is written. `reads`
// encodes the keys as `key_len:u32le key`, repeated (may be empty). A key in `reads` that is
// empty or over `STRATA_MAX_KEY_LEN`, a malformed encoding or batch, or an unknown flag is
// `STRATA_ERR_INVALID_ARGUMENT`; a closed snapshot fails the completion with
// `STRATA_ERR_CLOSED`.
// Ownership: the caller keeps `batch` and `reads`; strata validates and copies them before
// returning.
// Threads: may be called from any thread.
int32_t strata_db_commit(uint64_t db,
                         uint64_t snapshot,
                         const uint8_t *batch,
                         size_t batch_len,
                         const uint8_t *reads,
                         size_t reads_len,
                         uint32_t flags,
                         uint64_t token);

// Commits a transaction as `strata_db_commit` does, but waits for the result in this call,
// as `strata_db_write_wait` waits for a write (`token` required; `STRATA_INTERRUPTED` when
// `limit_ns` passes or `strata_interrupt(token)` comes first; the result's code, and its
// message in `dst` or at `out->data`, otherwise).
// Ownership: as for `strata_db_commit` and `strata_db_write_wait`.
// Threads: may be called from any thread; the thread blocks until the result comes.
int32_t strata_db_commit_wait(uint64_t db,
                              uint64_t snapshot,
                              const uint8_t *batch,
                              size_t batch_len,
                              const uint8_t *reads,
                              size_t reads_len,
                              uint32_t flags,
                              uint64_t token,
                              uint64_t spin_ns,
                              uint64_t limit_ns,
                              uint8_t *dst,
                              size_t dst_cap,
                              struct strata_waited *out);

// Applies an encoded batch as `strata_db_write` does (`flags` too), but waits for the result in this call
// instead of through the completion queue: for a caller with nothing else in flight (one
// cgo call per write). `token` (non-zero, never used before) names the request: when
// `limit_ns` (if not 0) passes or `strata_interrupt(token)` is called first, the call returns
// `STRATA_INTERRUPTED`, and the caller continues with `strata_wait(token, ...)` or gives up
// with `strata_abandon(token, ...)`. Otherwise returns the result's code, and its message (for
// an error) in `dst` when it fits in `dst_cap` (`out->data` NULL), else in a buffer at
// `out->data`.
// Ownership: the caller keeps `batch` and `dst`; strata validates and copies the batch before
// submitting and writes `dst` and `out` only on this thread, before returning. A non-NULL
// `out->data` belongs to the caller: release it with `strata_value_free`.
// Threads: may be called from any thread; the thread blocks until the result comes.
int32_t strata_db_write_wait(uint64_t db,
                             const uint8_t *batch,
                             size_t batch_len,
                             uint32_t flags,
                             uint64_t token,
                             uint64_t spin_ns,
                             uint64_t limit_ns,
                             uint8_t *dst,
                             size_t dst_cap,
                             struct strata_waited *out);

// Looks up `key` in `db`, as of `snapshot` (a handle from `strata_snapshot_open`, or 0 for the
// latest state, or `STRATA_SNAPSHOT_NEW` to open a snapshot and read at it in one request: the
// completion's `handle` is then that snapshot, for the caller to close). The completion
// carries the value in `data`/`len`, or `STRATA_ERR_NOT_FOUND`; `STRATA_ERR_CLOSED` when the
// database or the snapshot is closed.
// Ownership: the caller keeps `key`; strata copies it before returning. The value buffer in
// the completion belongs to strata (see `strata_completions_drain`).
// Threads: may be called from any thread.
int32_t strata_db_get(uint64_t db,
                      uint64_t snapshot,
                      const uint8_t *key,
                      size_t key_len,
                      uint64_t token);

// Looks up `key` in `db` as `strata_db_get` does, but waits for the answer in this call
// instead of through the completion queue: the calling thread spins up to `spin_ns`
// nanoseconds, then sleeps until the database's reader thread wakes it (a futex), and copies the answer
// out itself. Returns the answer's code and bytes as `strata_wait` does: `STRATA_OK` with the
// value, `STRATA_ERR_NOT_FOUND` with none, any other code with its message, the bytes in `dst`
// when they fit in `dst_cap` (`out->data` NULL), else in a buffer at `out->data`. With
// `STRATA_SNAPSHOT_NEW`, `out->handle` is the snapshot the read opened.
// With `token` 0 the call does not return before the answer comes. With a non-zero `token`
// (never used before) the wait can also end early, when `limit_ns` (if not 0) passes or
// `strata_interrupt(token)` is called, with `STRATA_INTERRUPTED`: then continue with
// `strata_wait(token, ...)`, or give up with `strata_abandon(token, ...)`, as after
// `strata_expect`.
// Ownership: the caller keeps `key` and `dst`; strata writes `dst` and `out` only on this
// thread, before returning, and keeps neither. A non-NULL `out->data` belongs to the caller:
// release it with `strata_value_free`.
// Threads: may be called from any thread; the thread blocks until the answer comes.
int32_t strata_db_get_wait(uint64_t db,
                           uint64_t snapshot,
                           const uint8_t *key,
                           size_t key_len,
                           uint64_t token,
                           uint64_t spin_ns,
                           uint64_t limit_ns,
                           uint8_t *dst,
                           size_t dst_cap,
                           struct strata_waited *out);

// Announces that the caller will wait for the result of the request it is about to submit
// with `token` in its own call (`strata_wait`) rather than drain it from the completion queue.
// Returns `STRATA_ERR_INVALID_ARGUMENT` if `token` is announced already. If the submission is
// then refused, call `strata_forget(token)`.
// Ownership: no buffers change hands.
// Threads: may be called from any thread.
int32_t strata_expect(uint64_t token);

// Withdraws a `strata_expect` whose request was never submitted (its submission failed).
// Ownership: no buffers change hands.
// Threads: may be called from any thread.
int32_t strata_forget(uint64_t token);

// Waits in this call for the result of the request submitted with `token` after
// `strata_expect(token)`: spins up to `spin_ns` nanoseconds, then sleeps until the strata
// thread serving the request wakes it. Returns the completion's code, with its handle and flags in `out`, and its
// bytes copied into `dst` when they fit in `dst_cap` (`out->data` NULL), else in a buffer at
// `out->data`; `out->len` is their length either way. Returns `STRATA_INTERRUPTED` when
// `limit_ns` (if not 0) passed or `strata_interrupt(token)` ended the wait first (the token
// stays announced: wait again, or `strata_abandon` it), `STRATA_ERR_INVALID_ARGUMENT`
// (waiting for nothing) when `token` is not announced.
// Ownership: the caller keeps `dst`; strata writes `dst` and `out` only on this thread,
// before returning. A non-NULL `out->data` belongs to the caller: release it with
// `strata_value_free`.
// Threads: may be called from any thread; the thread blocks until the result comes.
int32_t strata_wait(uint64_t token,
                    uint64_t spin_ns,
                    uint64_t limit_ns,
                    uint8_t *dst,
                    size_t dst_cap,
                    struct strata_waited *out);

// Ends a `strata_wait` for `token` now (or the next one, if none runs yet): it returns
// `STRATA_INTERRUPTED`. For a caller whose deadline passed or whose context was cancelled.
// Does nothing for a token not announced.
// Ownership: no buffers change hands.
// Threads: may be called from any thread (typically not the one waiting).
int32_t strata_interrupt(uint64_t token);

// Gives up waiting for `token`: returns its result as `strata_wait` would if it came
// already; else `STRATA_INTERRUPTED`, and the result will arrive through the completion
// queue like any other (drain it there, to release what it carries). Call once, after an
// interrupted `strata_wait`.
// Ownership: as for `strata_wait`.
// Threads: may be called from any thread.
int32_t strata_abandon(uint64_t token, uint8_t *dst, size_t dst_cap, struct strata_waited *out);

// Releases a buffer `strata_db_get_wait`, `strata_wait` or `strata_abandon` handed out. NULL is
// ignored.
// Ownership: takes `data` back from the caller; call at most once per buffer.
// Threads: may be called from any thread.
void strata_value_free(uint8_t *data, size_t len);

// Requests counters for `db`; the completion's `data` holds one `strata_stats`.
// Ownership: no buffers change hands at submission; the completion's buffer belongs to strata.
// Threads: may be called from any thread.
int32_t strata_db_stats(uint64_t db, uint64_t token);

// Opens an iterator over keys in `[start, end)` of `db`, reading `snapshot` (a handle from
// `strata_snapshot_open`), or with `snapshot` 0 a new snapshot taken when the request is
// handled. An empty (or NULL) `start` or `end` is unbounded on that side. `flags` may contain
// `STRATA_ITER_REVERSE` and `STRATA_ITER_FIRST_CHUNK`. The completion's `handle` is the iterator
// handle; close it with `strata_iter_close`. With `STRATA_ITER_FIRST_CHUNK` its `data` and
// `flags` are also the first chunk, as for `strata_iter_next`; if reading it fails, the
// completion carries that error and no iterator remains open. That chunk holds up to
// `chunk_entries` entries (0: strata's default, 16; more than a chunk's cap, 8,192, is the
// cap), and the chunks after it twice as many each time, up to the cap: a caller that knows
// how far it will read asks for that many and crosses once.
// Ownership: the caller keeps `start` and `end`; strata copies them before returning.
// Threads: may be called from any thread.
int32_t strata_iter_open(uint64_t db,
                         uint64_t snapshot,
                         const uint8_t *start,
                         size_t start_len,
                         const uint8_t *end,
                         size_t end_len,
                         uint32_t flags,
                         uint32_t chunk_entries,
                         uint64_t token);

// Opens an iterator as `strata_iter_open` does, but waits for the open's result in this call
// instead of through the completion queue, as `strata_db_get_wait` waits for a read: for a
// caller that has nothing else in flight (a short scan then costs one call). `token` (non-zero,
// never used before) names the request: when `limit_ns` (if not 0) passes or
// `strata_interrupt(token)` is called first, the call returns `STRATA_INTERRUPTED` and the
// caller continues with `strata_wait(token, ...)` or gives up with `strata_abandon(token, ...)`.
// Otherwise returns the result's code with the new iterator's handle and flags in `out`, and
// the first chunk (with `STRATA_ITER_FIRST_CHUNK`) or the error message in `dst` when it fits
// in `dst_cap` (`out->data` NULL), else in a buffer at `out->data`.
// Ownership: the caller keeps `start`, `end` and `dst`; strata copies the bounds before
// submitting and writes `dst` and `out` only on this thread, before returning. A non-NULL
// `out->data` belongs to the caller: release it with `strata_value_free`. The iterator
// belongs to the caller: close it with `strata_iter_close`.
// Threads: may be called from any thread; the thread blocks until the result comes.
int32_t strata_iter_open_wait(uint64_t db,
                              uint64_t snapshot,
                              const uint8_t *start,
                              size_t start_len,
                              const uint8_t *end,
                              size_t end_len,
                              uint32_t flags,
                              uint32_t chunk_entries,
                              uint64_t token,
                              uint64_t spin_ns,
                              uint64_t limit_ns,
                              uint8_t *dst,
                              size_t dst_cap,
                              struct strata_waited *out);

// Requests the next chunk of iterator `iter`. The completion's `data` holds entries encoded as
// `key_len:u32le value_len:u32le key value`, repeated; `flags` has `STRATA_ITER_DONE` when no
// entry follows this chunk. Fails with `STRATA_ERR_CLOSED` once the iterator or its database
// is closed. A chunk holds at most 256 KiB of entries (more only when its one entry is larger).
// After answering, strata reads the chunk after it ahead, while the caller reads this one, and
// keeps it until the next request (a seek or a close drops it).
// Ownership: the chunk buffer belongs to strata (see `strata_completions_drain`).
// Threads: may be called from any thread, one request per iterator at a time.
int32_t strata_iter_next(uint64_t iter, uint64_t token);

// Requests the next chunk of iterator `iter` as `strata_iter_next` does, but waits for it in
// this call, as `strata_iter_open_wait` waits for an open: for a caller with nothing else in
// flight (a scan past its first chunk then costs one call per chunk). `token`, `spin_ns`,
// `limit_ns`, `STRATA_INTERRUPTED` and the result in `dst` or `out` are as for
// `strata_iter_open_wait`; the result's `flags` carry `STRATA_ITER_DONE`.
// Ownership: the caller keeps `dst`; strata writes `dst` and `out` only on this thread, before
// returning. A non-NULL `out->data` belongs to the caller: release it with
// `strata_value_free`.
// Threads: may be called from any thread, one request per iterator at a time; the thread
// blocks until the chunk comes.
int32_t strata_iter_next_wait(uint64_t iter,
                              uint64_t token,
                              uint64_t spin_ns,
                              uint64_t limit_ns,
                              uint8_t *dst,
                              size_t dst_cap,
                              struct strata_waited *out);

// Repositions iterator `iter` within the bounds `[start, end)` (empty or NULL: unbounded),
// which replace those it had: `mode` is one of `STRATA_SEEK_*` and says where it starts and
// which way it reads from there (`STRATA_SEEK_FIRST`/`_GE`/`_GT` up, `_LAST`/`_LE`/`_LT`
// down), at the snapshot it was opened at. The completion carries the first chunk from there,
// as `strata_iter_next` does (`STRATA_ITER_DONE` when nothing follows), of up to
// `chunk_entries` entries as for `strata_iter_open`; later `strata_iter_next` calls go on
// the same way, doubling from there. With `STRATA_SEEK_BEHIND` in `mode` the chunk also
// brings the entries behind the position (see the flag). An unknown mode, a key with
// `STRATA_SEEK_FIRST` or `_LAST`, or a key or bound over `STRATA_MAX_KEY_LEN` is
// `STRATA_ERR_INVALID_ARGUMENT`; a closed iterator fails with `STRATA_ERR_CLOSED`.
// Ownership: the caller keeps `key`, `start` and `end`; strata copies them before returning.
// The chunk buffer belongs to strata (see `strata_completions_drain`).
// Threads: may be called from any thread, one request per iterator at a time.
int32_t strata_iter_seek(uint64_t iter,
                         uint32_t mode,
                         const uint8_t *key,
                         size_t key_len,
                         const uint8_t *start,
                         size_t start_len,
                         const uint8_t *end,
                         size_t end_len,
                         uint32_t chunk_entries,
                         uint64_t token);

// Repositions iterator `iter` as `strata_iter_seek` does, but waits for the first chunk from
// there in this call, as `strata_iter_open_wait` waits for an open. `token`, `spin_ns`,
// `limit_ns`, `STRATA_INTERRUPTED` and the result in `dst` or `out` are as for
// `strata_iter_open_wait`; the result's `flags` carry `STRATA_ITER_DONE`. Arguments
// `strata_iter_seek` refuses are `STRATA_ERR_INVALID_ARGUMENT` here too.
// Ownership: the caller keeps `key`, `start`, `end` and `dst`; strata copies the key and
// bounds before submitting and writes `dst` and `out` only on this thread, before returning.
// A non-NULL `out->data` belongs to the caller: release it with `strata_value_free`.
// Threads: may be called from any thread, one request per iterator at a time; the thread
// blocks until the chunk comes.
int32_t strata_iter_seek_wait(uint64_t iter,
                              uint32_t mode,
                              const uint8_t *key,
                              size_t key_len,
                              const uint8_t *start,
                              size_t start_len,
                              const uint8_t *end,
                              size_t end_len,
                              uint32_t chunk_entries,
                              uint64_t token,
                              uint64_t spin_ns,
                              uint64_t limit_ns,
                              uint8_t *dst,
                              size_t dst_cap,
                              struct strata_waited *out);

// Closes iterator `iter` and releases its snapshot. No completion follows. Closing a closed or
// unknown handle does nothing and returns `STRATA_OK`.
// Ownership: no buffers change hands.
// Threads: may be called from any thread.
int32_t strata_iter_close(uint64_t iter);

// Pins the current state of `db`: reads through the returned snapshot (the completion's
// `handle`) see exactly the writes acknowledged before it, until `strata_snapshot_close`.
// Ownership: no buffers change hands.
// Threads: may be called from any thread.
int32_t strata_snapshot_open(uint64_t db, uint64_t token);

// Releases `snapshot`. No completion follows; closing a closed or unknown handle does nothing
// and returns `STRATA_OK`. Iterators opened on the snapshot keep working.
// Ownership: no buffers change hands.
// Threads: may be called from any thread.
int32_t strata_snapshot_close(uint64_t snapshot);

// Writes the memtable of `db` to a table; the completion arrives once it is durable in a table
// (every write acknowledged before the call is then in tables, not only in the WAL).
// Ownership: no buffers change hands.
// Threads: may be called from any thread.
int32_t strata_db_flush(uint64_t db, uint64_t token);

// Flushes, then compacts the keys of `db` in `[start, end)` (empty or NULL: unbounded; the
// tables holding `end` itself may be compacted too) down through the levels, dropping
// overwritten values and deleted keys no snapshot needs. The completion arrives when the
// compaction is done.
// Ownership: the caller keeps `start` and `end`; strata copies them before returning.
// Threads: may be called from any thread.
int32_t strata_db_compact(uint64_t db,
                          const uint8_t *start,
                          size_t start_len,
                          const uint8_t *end,
                          size_t end_len,
                          uint64_t token);

// Estimates how many bytes of `db`'s table files hold the keys in `[start, end)` (empty or
// NULL: unbounded): tables inside the range in full, a table the range cuts in proportion to
// the data blocks its index places in the range. Writes not yet flushed (memtable, WAL) are
// not counted. The completion's data is the estimate, 8 bytes little-endian.
// Ownership: the caller keeps `start` and `end`; strata copies them before returning.
// Threads: may be called from any thread.
int32_t strata_db_estimate_disk_usage(uint64_t db,
                                      const uint8_t *start,
                                      size_t start_len,
                                      const uint8_t *end,
                                      size_t end_len,
                                      uint64_t token);

// Writes a consistent, openable copy of `db` into directory `path` (`path_len` bytes), which
// must not exist or be empty (else `STRATA_ERR_INVALID_ARGUMENT`). Tables are hard-linked
// where the file system allows.
// Ownership: the caller keeps `path`; strata copies it before returning.
// Threads: may be called from any thread.
int32_t strata_db_checkpoint(uint64_t db, const uint8_t *path, size_t path_len, uint64_t token);

// Verifies every checksum of the database in directory `path` (which must not be open). The
// completion's `data` is a report, one line per file (`ok NAME: ...` or `damaged NAME: why`),
// with code `STRATA_OK`, or `STRATA_ERR_CORRUPTION` when any file is damaged. Other codes
// carry a message instead: `STRATA_ERR_LOCKED` when the database is open,
// `STRATA_ERR_INVALID_ARGUMENT` when `path` holds no strata database, `STRATA_ERR_IO` when it
// cannot be read (a missing directory, say).
// Ownership: the caller keeps `path`; strata copies it before returning. The report buffer
// belongs to strata (see `strata_completions_drain`).
// Threads: may be called from any thread.
int32_t strata_check(const uint8_t *path, size_t path_len, uint64_t token);

// Rebuilds the manifest of the database in directory `path` (which must not be open) when it
// is missing or damaged, from the database's own tables and WAL segments; deletes nothing
// (the tables it merged and a damaged manifest are moved to `path/pre-repair-N/`). The
// completion's `data` is a report, one line per decision, with code `STRATA_OK`. Other codes
// carry a message instead: `STRATA_ERR_LOCKED` when the database is open,
// `STRATA_ERR_INVALID_ARGUMENT` when the manifest is intact, or `path` holds no strata file,
// or tables of several databases; `STRATA_ERR_CORRUPTION` when a WAL segment is damaged;
// `STRATA_ERR_IO` when a file cannot be read or written.
// Ownership: the caller keeps `path`; strata copies it before returning. The report buffer
// belongs to strata (see `strata_completions_drain`).
// Threads: may be called from any thread.
int32_t strata_repair(const uint8_t *path, size_t path_len, uint64_t token);

// Sets the most verbose level of engine log records the caller wants delivered as completions
// (`STRATA_LOG_OFF` ... `STRATA_LOG_TRACE`; see `STRATA_COMPLETION_LOG`). Process-wide; the
// default is `STRATA_LOG_OFF`, and levels above it cost one atomic load per event. Takes
// effect for events from the next one on. Independently, `STRATA_LOG=info` (or error, warn,
// debug, trace) in the environment writes events to stderr.
// Ownership: no pointers.
// Threads: may be called from any thread.
int32_t strata_log_level(uint32_t level);

// Writes the Rust heap use of the whole process into `*out` (see `strata_memory`). Reads
// process-wide counters only; it does not go through the runtime thread.
// Ownership: the caller owns `*out`; `out` must be non-NULL.
// Threads: may be called from any thread.
int32_t strata_memory_read(struct strata_memory *out);

#if defined(STRATA_FAILPOINTS)
// Arms the failpoint `name` (see the engine's failpoint list) to perform `action`
// (`STRATA_FAILPOINT_*`) once, the next time any strata thread passes it. Exists only in builds
// with the `failpoints` feature, for tests.
// Ownership: `name` is borrowed for the call.
// Threads: may be called from any thread.
int32_t strata_failpoint_arm(const uint8_t *name, size_t name_len, uint32_t action);
#endif

#if defined(STRATA_FAILPOINTS)
// Disarms every failpoint. Exists only in builds with the `failpoints` feature, for tests.
// Ownership: no pointers.
// Threads: may be called from any thread.
int32_t strata_failpoint_disarm_all(void);
#endif

// 1 when strata's fault handler (which prints the Rust frames of a fault on a strata thread,
// then hands the signal on) is installed for SIGSEGV, else 0. It is installed when the runtime
// starts unless the environment has `STRATA_CRASH_HANDLER=0`.
// Ownership: no pointers.
// Threads: may be called from any thread.
int32_t strata_crash_handler_installed(void);

// How this library was built: the Rust compiler's version and the cargo features compiled in,
// a static NUL-terminated string such as `rustc 1.95.0 (59807616e 2026-04-14); features: none`.
// Ownership: the string is static; never free it.
// Threads: may be called from any thread.
const char *strata_build_info(void);

// The strata version, a static NUL-terminated string.
// Ownership: the string is static; never free it.
// Threads: may be called from any thread.
const char *strata_version(void);

// The build identity of this archive, a static NUL-terminated string "VERSION+hHASH" (HASH: 16
// hex digits of the FNV-1a hash of strata.h). Code linking the archive compares it with the
// identity of the strata.h it was compiled against and refuses to run on a mismatch.
// Ownership: the string is static; never free it.
// Threads: may be called from any thread.
const char *strata_build_id(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* STRATA_H */
