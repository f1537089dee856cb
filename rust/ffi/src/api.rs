//! The exported C functions. Each one runs inside [`guard`], validates its arguments, copies
//! what it needs into an owned [`Request`], sends it to the strata thread that owns the database
//! it names (see [`runtime`]) and returns. None of
//! them touches engine state or a thread-local on the caller's thread.
//!
//! Submission functions return `STRATA_OK` when the request was accepted; its outcome arrives
//! later as a `strata_completion` carrying the caller's `token`. A non-OK return means no
//! completion will follow.
//!
//! Every pointer argument has one contract, stated once in the header preamble rather than as a
//! `# Safety` section per function: non-NULL pointers must be valid for their length for the
//! duration of the call, and NULL is accepted only with length 0.
#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use strata_engine::batch::{check_key, check_value};
use strata_engine::{Batch, Compression, KeyBuf, Options};

use crate::abi::*;
use crate::export::{guard, guard_or};
use crate::iterator::Seek;
use crate::runtime::{self, Request};
use crate::waiter::Waited;

/// Views caller memory as a slice. `None` when `ptr` is NULL but `len` is not zero.
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads of `len` bytes for the duration of the call.
unsafe fn caller_bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return (len == 0).then_some(&[][..]);
    }
    // SAFETY: the caller guarantees `ptr` is readable for `len` bytes during this call; the
    // slice does not outlive the call (everything kept is copied).
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Sends a request to the thread that serves it, if the runtime runs.
fn submit(request: Request) -> i32 {
    match runtime::get() {
        None => STRATA_ERR_CLOSED,
        Some(rt) if rt.submit(request) => STRATA_OK,
        Some(_) => STRATA_ERR_INTERNAL,
    }
}

/// Copies a key argument, checking it against the key rules.
///
/// # Safety
/// As for [`caller_bytes`].
unsafe fn copy_key(ptr: *const u8, len: usize) -> Result<KeyBuf, i32> {
    // SAFETY: forwarded from this function's contract.
    let key = unsafe { caller_bytes(ptr, len) }.ok_or(STRATA_ERR_INVALID_ARGUMENT)?;
    check_key(key).map_err(|_| STRATA_ERR_INVALID_ARGUMENT)?;
    Ok(KeyBuf::from_slice(key))
}

/// Starts the strata runtime (once per process; later calls reuse it) and returns in
/// `*eventfd_out` a non-blocking descriptor that becomes readable when completions wait.
/// When it is readable, read it (8 bytes, the value is meaningless), then call
/// `strata_completions_drain` until it returns 0 before waiting on it again. Every call returns
/// a duplicate of the same eventfd: one process has one drainer.
/// Ownership: the caller owns the descriptor written to `*eventfd_out` (a new one per call) and
/// closes it; `eventfd_out` must be non-NULL.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_runtime_start(eventfd_out: *mut i32) -> i32 {
    guard("strata_runtime_start", || {
        if eventfd_out.is_null() {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        let fd = match runtime::start().and_then(|rt| rt.completions.dup_eventfd()) {
            Ok(fd) => fd,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the strata runtime");
                return STRATA_ERR_IO;
            }
        };
        // SAFETY: checked non-NULL above; the caller guarantees it points to a writable i32.
        unsafe { *eventfd_out = fd };
        STRATA_OK
    })
}

/// Moves up to `cap` finished operations into `out` and returns how many it wrote. Returns 0
/// once the queue is empty; the eventfd is signalled again when new completions arrive.
/// Ownership: `out` is the caller's and is only written during the call; the `data` buffers it
/// receives belong to strata and stay valid until the next call to this function, which frees
/// them or keeps them for later results (copy what you keep).
/// Threads: call from one thread at a time (one drainer per process).
#[no_mangle]
pub unsafe extern "C" fn strata_completions_drain(
    out: *mut strata_completion,
    cap: usize,
) -> usize {
    guard_or("strata_completions_drain", 0, || {
        let Some(rt) = runtime::get() else {
            return 0;
        };
        if out.is_null() || cap == 0 {
            return 0;
        }
        // SAFETY: the caller guarantees `out` points to `cap` writable completions for the
        // duration of the call; strata_completion is plain data, so any bit pattern already
        // there may be overwritten.
        let out = unsafe { std::slice::from_raw_parts_mut(out, cap) };
        rt.completions.drain(out)
    })
}

/// Opens (creating if needed) the database in directory `path` (`path_len` bytes, not
/// NUL-terminated). The completion's `handle` is the database handle. Fails with
/// `STRATA_ERR_LOCKED` if the directory is open already, in this process or another (with
/// `STRATA_OPEN_READ_ONLY` in `opts.flags`: open by a writer; read-only opens share it, and
/// create nothing).
/// `opts_size` is `sizeof(strata_options)` as the caller was compiled (at least
/// `STRATA_OPTIONS_SIZE_V1`; 0 with a NULL `opts`); bytes past the fields this library knows
/// must be zero (`STRATA_ERR_INVALID_ARGUMENT` otherwise: an option it cannot honour).
/// Ownership: the caller keeps `path` and `opts` (NULL means defaults); strata copies them
/// before returning.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_open(
    path: *const u8,
    path_len: usize,
    opts: *const strata_options,
    opts_size: usize,
    token: u64,
) -> i32 {
    guard("strata_db_open", || {
        // SAFETY: the caller guarantees `path` is readable for `path_len` bytes.
        let Some(path) = (unsafe { copy_path(path, path_len) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        // SAFETY: the caller guarantees `opts` is readable for `opts_size` bytes.
        let Some(opts) = (unsafe { copy_options(opts, opts_size) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let Some(opts) = engine_options(&opts) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        if runtime::start().is_err() {
            return STRATA_ERR_IO;
        }
        submit(Request::Open { path, opts, token })
    })
}

/// Copies a `strata_options` of `size` bytes (see `strata_db_open`); `None` when the size is
/// too small or a byte past the fields known here is not zero.
///
/// # Safety
/// As for [`caller_bytes`].
unsafe fn copy_options(opts: *const strata_options, size: usize) -> Option<strata_options> {
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { caller_bytes(opts.cast(), size) }?;
    let mut copy = strata_options::default();
    if bytes.is_empty() {
        return Some(copy);
    }
    let known = std::mem::size_of::<strata_options>();
    if bytes.len() < STRATA_OPTIONS_SIZE_V1
        || bytes[known.min(bytes.len())..].iter().any(|&b| b != 0)
    {
        return None;
    }
    let n = known.min(bytes.len());
    // SAFETY: `copy` is a plain-data repr(C) struct of `known` bytes and `n <= known`; any
    // bytes are a valid value for its integer fields; the source is readable for `n` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            (&mut copy as *mut strata_options).cast::<u8>(),
            n,
        )
    };
    Some(copy)
}

/// Translates C options to engine options; `None` when a field is out of range.
fn engine_options(c: &strata_options) -> Option<Options> {
    let mut o = Options {
        no_sync: c.no_sync != 0,
        ..Options::default()
    };
    o.compression = match c.compression {
        STRATA_COMPRESSION_DEFAULT | STRATA_COMPRESSION_LZ4 => Compression::Lz4,
        STRATA_COMPRESSION_NONE => Compression::None,
        _ => return None,
    };
    if c.flags & !(STRATA_OPEN_READ_ONLY | STRATA_OPEN_NO_MMAP) != 0 {
        return None;
    }
    o.read_only = c.flags & STRATA_OPEN_READ_ONLY != 0;
    o.map_tables = c.flags & STRATA_OPEN_NO_MMAP == 0;
    if c.memtable_budget != 0 {
        o.memtable_budget = usize::try_from(c.memtable_budget).ok()?;
    }
    if c.block_cache_bytes != 0 {
        o.block_cache_bytes = usize::try_from(c.block_cache_bytes).ok()?;
    }
    if c.max_open_files != 0 {
        o.max_open_files = c.max_open_files as usize;
    }
    Some(o)
}

/// Copies a path argument; `None` when it is NULL with a length, empty, or contains a NUL.
///
/// # Safety
/// As for [`caller_bytes`].
unsafe fn copy_path(ptr: *const u8, len: usize) -> Option<PathBuf> {
    // SAFETY: forwarded from this function's contract.
    match unsafe { caller_bytes(ptr, len) } {
        Some(p) if !p.is_empty() && !p.contains(&0) => Some(PathBuf::from(OsStr::from_bytes(p))),
        _ => None,
    }
}

/// Copies optional range bounds: an empty bound is unbounded.
///
/// # Safety
/// As for [`caller_bytes`].
#[allow(clippy::type_complexity)]
unsafe fn copy_bounds(
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
) -> Option<(Option<Box<[u8]>>, Option<Box<[u8]>>)> {
    // SAFETY: forwarded from this function's contract.
    let (start, end) = unsafe { (caller_bytes(start, start_len)?, caller_bytes(end, end_len)?) };
    if start.len() > STRATA_MAX_KEY_LEN || end.len() > STRATA_MAX_KEY_LEN {
        return None;
    }
    let bound = |b: &[u8]| (!b.is_empty()).then(|| Box::from(b));
    Some((bound(start), bound(end)))
}

/// Closes database `db`: waits for its pending writes, syncs the WAL, releases the directory
/// lock, and invalidates its iterators. Later calls with the handle fail with
/// `STRATA_ERR_CLOSED`; so does a second close (the handle is detected as stale, never reused).
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread; requests submitted before it complete first.
#[no_mangle]
pub extern "C" fn strata_db_close(db: u64, token: u64) -> i32 {
    guard("strata_db_close", || submit(Request::Close { db, token }))
}

/// Sets `key` to `value` in `db` as a batch of one. The completion arrives once the write is
/// durable (after fsync unless the database was opened with `no_sync`; to make one write
/// durable in such a database, use `strata_db_write` with `STRATA_WRITE_SYNC`).
/// Ownership: the caller keeps `key` and `value`; strata copies them before returning.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_put(
    db: u64,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    token: u64,
) -> i32 {
    guard("strata_db_put", || {
        // SAFETY: the caller guarantees both pointers are readable for their lengths.
        let (Some(key), Some(value)) = (unsafe { caller_bytes(key, key_len) }, unsafe {
            caller_bytes(value, value_len)
        }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        if check_value(value).is_err() {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        let mut batch = Batch::new();
        if batch.put(key, value).is_err() {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        submit(Request::Write {
            db,
            batch,
            token,
            sync: false,
            here: false,
        })
    })
}

/// Deletes `key` from `db` (a batch of one; deleting a missing key succeeds), durable as
/// `strata_db_put` is.
/// Ownership: the caller keeps `key`; strata copies it before returning.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_delete(
    db: u64,
    key: *const u8,
    key_len: usize,
    token: u64,
) -> i32 {
    guard("strata_db_delete", || {
        // SAFETY: the caller guarantees `key` is readable for `key_len` bytes.
        let Some(key) = (unsafe { caller_bytes(key, key_len) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let mut batch = Batch::new();
        if batch.delete(key).is_err() {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        submit(Request::Write {
            db,
            batch,
            token,
            sync: false,
            here: false,
        })
    })
}

/// Applies an encoded batch atomically: all of its operations become visible and durable
/// together, or none do. An empty batch completes at once and is not counted in stats. Encoding, repeated per operation: `kind:u8` (`STRATA_BATCH_PUT`, `STRATA_BATCH_DELETE`,
/// `STRATA_BATCH_DELETE_RANGE`), `key_len:u32le`, key, and for puts `value_len:u32le`, value,
/// for range deletes `end_len:u32le`, end (every key in `[key, end)` is deleted; a key after
/// `end` is `STRATA_ERR_INVALID_ARGUMENT`, `key == end` deletes nothing).
/// `flags`: `STRATA_WRITE_SYNC` completes the write only once it is durable, also in a database
/// opened with `no_sync` (its group is fsynced); with an empty batch it completes once every
/// write submitted before it is durable. 0 follows the database's `no_sync`. Another bit is
/// `STRATA_ERR_INVALID_ARGUMENT`.
/// Ownership: the caller keeps `batch`; strata validates and copies it before returning.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_write(
    db: u64,
    batch: *const u8,
    batch_len: usize,
    flags: u32,
    token: u64,
) -> i32 {
    guard("strata_db_write", || {
        // SAFETY: forwarded from this function's contract.
        match unsafe { write_request(db, batch, batch_len, flags, token, false) } {
            Ok(request) => submit(request),
            Err(code) => code,
        }
    })
}

/// The write request for an encoded batch and `STRATA_WRITE_*` flags, copied and validated.
///
/// # Safety
/// `batch` must be readable for `batch_len` bytes (it may be NULL only when `batch_len` is 0).
unsafe fn write_request(
    db: u64,
    batch: *const u8,
    batch_len: usize,
    flags: u32,
    token: u64,
    here: bool,
) -> Result<Request, i32> {
    if flags & !STRATA_WRITE_SYNC != 0 {
        return Err(STRATA_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { caller_bytes(batch, batch_len) }.ok_or(STRATA_ERR_INVALID_ARGUMENT)?;
    let batch = Batch::from_bytes(bytes.to_vec()).map_err(|_| STRATA_ERR_INVALID_ARGUMENT)?;
    Ok(Request::Write {
        db,
        batch,
        token,
        sync: flags & STRATA_WRITE_SYNC != 0,
        here,
    })
}

/// Commits a transaction: applies the encoded `batch` as `strata_db_write` does (`flags` too),
/// but only if every key in `reads` still reads as it did at `snapshot` (a handle from
/// `strata_snapshot_open` on `db`, which the caller keeps open until the completion): when a
/// write committed after the snapshot gave one of them another value, or made it present or
/// absent, the completion fails with `STRATA_ERR_CONFLICT` and nothing is written. `reads`
/// encodes the keys as `key_len:u32le key`, repeated (may be empty). A key in `reads` that is
/// empty or over `STRATA_MAX_KEY_LEN`, a malformed encoding or batch, or an unknown flag is
/// `STRATA_ERR_INVALID_ARGUMENT`; a closed snapshot fails the completion with
/// `STRATA_ERR_CLOSED`.
/// Ownership: the caller keeps `batch` and `reads`; strata validates and copies them before
/// returning.
/// Threads: may be called from any thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_db_commit(
    db: u64,
    snapshot: u64,
    batch: *const u8,
    batch_len: usize,
    reads: *const u8,
    reads_len: usize,
    flags: u32,
    token: u64,
) -> i32 {
    guard("strata_db_commit", || {
        // SAFETY: forwarded from this function's contract.
        match unsafe {
            commit_request(
                db, snapshot, batch, batch_len, reads, reads_len, flags, token,
            )
        } {
            Ok(request) => submit(request),
            Err(code) => code,
        }
    })
}

/// Commits a transaction as `strata_db_commit` does, but waits for the result in this call,
/// as `strata_db_write_wait` waits for a write (`token` required; `STRATA_INTERRUPTED` when
/// `limit_ns` passes or `strata_interrupt(token)` comes first; the result's code, and its
/// message in `dst` or at `out->data`, otherwise).
/// Ownership: as for `strata_db_commit` and `strata_db_write_wait`.
/// Threads: may be called from any thread; the thread blocks until the result comes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_db_commit_wait(
    db: u64,
    snapshot: u64,
    batch: *const u8,
    batch_len: usize,
    reads: *const u8,
    reads_len: usize,
    flags: u32,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_db_commit_wait", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        // SAFETY: forwarded from this function's contract.
        let request = match unsafe {
            commit_request(
                db, snapshot, batch, batch_len, reads, reads_len, flags, token,
            )
        } {
            Ok(request) => request,
            Err(code) => return code,
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { submit_and_wait(request, token, spin_ns, limit_ns, dst, dst_cap, out) }
    })
}

/// The commit request for an encoded batch, its read keys and flags, copied and validated.
///
/// # Safety
/// `batch` and `reads` must be readable for their lengths (NULL only with length 0).
#[allow(clippy::too_many_arguments)]
unsafe fn commit_request(
    db: u64,
    snapshot: u64,
    batch: *const u8,
    batch_len: usize,
    reads: *const u8,
    reads_len: usize,
    flags: u32,
    token: u64,
) -> Result<Request, i32> {
    // SAFETY: forwarded from this function's contract.
    let Request::Write { batch, sync, .. } =
        (unsafe { write_request(db, batch, batch_len, flags, token, false) })?
    else {
        unreachable!("write_request makes a write");
    };
    // SAFETY: forwarded from this function's contract.
    let encoded = unsafe { caller_bytes(reads, reads_len) }.ok_or(STRATA_ERR_INVALID_ARGUMENT)?;
    let reads = decode_keys(encoded).ok_or(STRATA_ERR_INVALID_ARGUMENT)?;
    Ok(Request::Commit {
        db,
        snapshot,
        batch,
        reads,
        sync,
        token,
    })
}

/// Decodes `(key_len:u32le key)*` into keys; `None` when it is malformed or a key is empty or
/// over `STRATA_MAX_KEY_LEN`.
fn decode_keys(mut encoded: &[u8]) -> Option<Vec<Box<[u8]>>> {
    let mut keys = Vec::new();
    while !encoded.is_empty() {
        let len = u32::from_le_bytes(encoded.get(..4)?.try_into().ok()?) as usize;
        let key = encoded.get(4..4usize.checked_add(len)?)?;
        if key.is_empty() || key.len() > STRATA_MAX_KEY_LEN {
            return None;
        }
        keys.push(Box::from(key));
        encoded = &encoded[4 + len..];
    }
    Some(keys)
}

/// Applies an encoded batch as `strata_db_write` does (`flags` too), but waits for the result in this call
/// instead of through the completion queue: for a caller with nothing else in flight (one
/// cgo call per write). `token` (non-zero, never used before) names the request: when
/// `limit_ns` (if not 0) passes or `strata_interrupt(token)` is called first, the call returns
/// `STRATA_INTERRUPTED`, and the caller continues with `strata_wait(token, ...)` or gives up
/// with `strata_abandon(token, ...)`. Otherwise returns the result's code, and its message (for
/// an error) in `dst` when it fits in `dst_cap` (`out->data` NULL), else in a buffer at
/// `out->data`.
/// Ownership: the caller keeps `batch` and `dst`; strata validates and copies the batch before
/// submitting and writes `dst` and `out` only on this thread, before returning. A non-NULL
/// `out->data` belongs to the caller: release it with `strata_value_free`.
/// Threads: may be called from any thread; the thread blocks until the result comes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_db_write_wait(
    db: u64,
    batch: *const u8,
    batch_len: usize,
    flags: u32,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_db_write_wait", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        // SAFETY: forwarded from this function's contract.
        // Its caller waits in the call: served on the database's own thread, which writes it
        // there at once when the committer has nothing in hand (one thread woken, not two).
        let request = match unsafe { write_request(db, batch, batch_len, flags, token, true) } {
            Ok(request) => request,
            Err(code) => return code,
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { submit_and_wait(request, token, spin_ns, limit_ns, dst, dst_cap, out) }
    })
}

/// Looks up `key` in `db`, as of `snapshot` (a handle from `strata_snapshot_open`, or 0 for the
/// latest state, or `STRATA_SNAPSHOT_NEW` to open a snapshot and read at it in one request: the
/// completion's `handle` is then that snapshot, for the caller to close). The completion
/// carries the value in `data`/`len`, or `STRATA_ERR_NOT_FOUND`; `STRATA_ERR_CLOSED` when the
/// database or the snapshot is closed.
/// Ownership: the caller keeps `key`; strata copies it before returning. The value buffer in
/// the completion belongs to strata (see `strata_completions_drain`).
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_get(
    db: u64,
    snapshot: u64,
    key: *const u8,
    key_len: usize,
    token: u64,
) -> i32 {
    guard("strata_db_get", || {
        // SAFETY: forwarded from this function's contract.
        match unsafe { copy_key(key, key_len) } {
            Ok(key) => submit(Request::Get {
                db,
                snapshot,
                key,
                token,
            }),
            Err(code) => code,
        }
    })
}

/// Looks up `key` in `db` as `strata_db_get` does, but waits for the answer in this call
/// instead of through the completion queue: the calling thread spins up to `spin_ns`
/// nanoseconds, then sleeps until the database's reader thread wakes it (a futex), and copies the answer
/// out itself. Returns the answer's code and bytes as `strata_wait` does: `STRATA_OK` with the
/// value, `STRATA_ERR_NOT_FOUND` with none, any other code with its message, the bytes in `dst`
/// when they fit in `dst_cap` (`out->data` NULL), else in a buffer at `out->data`. With
/// `STRATA_SNAPSHOT_NEW`, `out->handle` is the snapshot the read opened.
/// With `token` 0 the call does not return before the answer comes. With a non-zero `token`
/// (never used before) the wait can also end early, when `limit_ns` (if not 0) passes or
/// `strata_interrupt(token)` is called, with `STRATA_INTERRUPTED`: then continue with
/// `strata_wait(token, ...)`, or give up with `strata_abandon(token, ...)`, as after
/// `strata_expect`.
/// Ownership: the caller keeps `key` and `dst`; strata writes `dst` and `out` only on this
/// thread, before returning, and keeps neither. A non-NULL `out->data` belongs to the caller:
/// release it with `strata_value_free`.
/// Threads: may be called from any thread; the thread blocks until the answer comes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_db_get_wait(
    db: u64,
    snapshot: u64,
    key: *const u8,
    key_len: usize,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_db_get_wait", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        if token == 0 && limit_ns > 0 {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        // SAFETY: forwarded from this function's contract.
        let key = match unsafe { copy_key(key, key_len) } {
            Ok(key) => key,
            Err(code) => return code,
        };
        let Some(rt) = runtime::get() else {
            return STRATA_ERR_CLOSED;
        };
        let waiter = crate::waiter::Waiter::pooled();
        if token != 0 && !rt.expected.watch(token, &waiter) {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        let request = Request::GetWait {
            db,
            snapshot,
            key,
            waiter: std::sync::Arc::clone(&waiter),
        };
        if !rt.submit(request) {
            rt.expected.forget(token);
            return STRATA_ERR_INTERNAL;
        }
        // SAFETY: `dst` was checked against `dst_cap` by waited_out, per this function's
        // contract.
        unsafe { wait_and_hand_over(rt, waiter, token, spin_ns, limit_ns, dst, dst_cap, out) }
    })
}

/// Announces that the caller will wait for the result of the request it is about to submit
/// with `token` in its own call (`strata_wait`) rather than drain it from the completion queue.
/// Returns `STRATA_ERR_INVALID_ARGUMENT` if `token` is announced already. If the submission is
/// then refused, call `strata_forget(token)`.
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_expect(token: u64) -> i32 {
    guard("strata_expect", || {
        let Ok(rt) = runtime::start() else {
            return STRATA_ERR_IO;
        };
        if rt.expected.expect(token) {
            STRATA_OK
        } else {
            STRATA_ERR_INVALID_ARGUMENT
        }
    })
}

/// Withdraws a `strata_expect` whose request was never submitted (its submission failed).
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_forget(token: u64) -> i32 {
    guard("strata_forget", || {
        if let Some(rt) = runtime::get() {
            rt.expected.forget(token);
        }
        STRATA_OK
    })
}

/// Waits in this call for the result of the request submitted with `token` after
/// `strata_expect(token)`: spins up to `spin_ns` nanoseconds, then sleeps until the strata
/// thread serving the request wakes it. Returns the completion's code, with its handle and flags in `out`, and its
/// bytes copied into `dst` when they fit in `dst_cap` (`out->data` NULL), else in a buffer at
/// `out->data`; `out->len` is their length either way. Returns `STRATA_INTERRUPTED` when
/// `limit_ns` (if not 0) passed or `strata_interrupt(token)` ended the wait first (the token
/// stays announced: wait again, or `strata_abandon` it), `STRATA_ERR_INVALID_ARGUMENT`
/// (waiting for nothing) when `token` is not announced.
/// Ownership: the caller keeps `dst`; strata writes `dst` and `out` only on this thread,
/// before returning. A non-NULL `out->data` belongs to the caller: release it with
/// `strata_value_free`.
/// Threads: may be called from any thread; the thread blocks until the result comes.
#[no_mangle]
pub unsafe extern "C" fn strata_wait(
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_wait", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let Some(rt) = runtime::get() else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let spin = std::time::Duration::from_nanos(spin_ns);
        let limit = (limit_ns > 0).then(|| std::time::Duration::from_nanos(limit_ns));
        match rt.expected.wait(token, spin, limit) {
            // SAFETY: `dst` was checked against `dst_cap` by waited_out, per this function's
            // contract.
            Waited::Done(result) => unsafe { hand_over(rt, result, dst, dst_cap, out) },
            Waited::Interrupted => STRATA_INTERRUPTED,
            Waited::Unknown => STRATA_ERR_INVALID_ARGUMENT,
        }
    })
}

/// Ends a `strata_wait` for `token` now (or the next one, if none runs yet): it returns
/// `STRATA_INTERRUPTED`. For a caller whose deadline passed or whose context was cancelled.
/// Does nothing for a token not announced.
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread (typically not the one waiting).
#[no_mangle]
pub extern "C" fn strata_interrupt(token: u64) -> i32 {
    guard("strata_interrupt", || {
        if let Some(rt) = runtime::get() {
            rt.expected.interrupt(token);
        }
        STRATA_OK
    })
}

/// Gives up waiting for `token`: returns its result as `strata_wait` would if it came
/// already; else `STRATA_INTERRUPTED`, and the result will arrive through the completion
/// queue like any other (drain it there, to release what it carries). Call once, after an
/// interrupted `strata_wait`.
/// Ownership: as for `strata_wait`.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_abandon(
    token: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_abandon", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let Some(rt) = runtime::get() else {
            return STRATA_INTERRUPTED;
        };
        match rt.expected.abandon(token) {
            // SAFETY: `dst` was checked against `dst_cap` by waited_out, per this function's
            // contract.
            Some(result) => unsafe { hand_over(rt, result, dst, dst_cap, out) },
            None => STRATA_INTERRUPTED,
        }
    })
}

/// Checks the result arguments of a waiting call and clears `out`: `None` when `out` is NULL,
/// or `dst` is NULL with a non-zero `dst_cap`.
///
/// # Safety
/// A non-NULL `out` must point to a writable `strata_waited` for the duration of the call.
unsafe fn waited_out<'a>(
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> Option<&'a mut strata_waited> {
    if out.is_null() || (dst.is_null() && dst_cap > 0) {
        return None;
    }
    // SAFETY: checked non-NULL; the caller guarantees it points to a writable strata_waited.
    let out = unsafe { &mut *out };
    *out = strata_waited {
        handle: 0,
        data: std::ptr::null_mut(),
        len: 0,
        flags: 0,
    };
    Some(out)
}

/// Fills `out` (and `dst`, when the bytes fit) from a waited-for result and returns its code.
///
/// # Safety
/// `dst` must be writable for `dst_cap` bytes during the call (it may be NULL only when
/// `dst_cap` is 0).
unsafe fn hand_over(
    rt: &runtime::Runtime,
    result: crate::completion::Completion,
    dst: *mut u8,
    dst_cap: usize,
    out: &mut strata_waited,
) -> i32 {
    out.handle = result.handle;
    out.flags = result.flags;
    out.len = result.data.len();
    if result.data.len() <= dst_cap {
        if !result.data.is_empty() {
            // SAFETY: `dst` is writable for `dst_cap` bytes (this function's contract; non-NULL
            // as dst_cap >= len > 0), and the bytes are no more than that.
            unsafe {
                std::ptr::copy_nonoverlapping(result.data.as_ptr(), dst, result.data.len());
            }
        }
        rt.completions.give_back(result.data);
    } else {
        out.data = Box::into_raw(result.data.into_boxed_slice()).cast();
    }
    result.code
}

/// Releases a buffer `strata_db_get_wait`, `strata_wait` or `strata_abandon` handed out. NULL is
/// ignored.
/// Ownership: takes `data` back from the caller; call at most once per buffer.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_value_free(data: *mut u8, len: usize) {
    guard_or("strata_value_free", (), || {
        if data.is_null() {
            return;
        }
        // SAFETY: `data`/`len` came from Box::into_raw of a boxed slice of exactly `len` bytes
        // in hand_over, and the caller releases each buffer once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len)) });
    })
}

/// Requests counters for `db`; the completion's `data` holds one `strata_stats`.
/// Ownership: no buffers change hands at submission; the completion's buffer belongs to strata.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_db_stats(db: u64, token: u64) -> i32 {
    guard("strata_db_stats", || submit(Request::Stats { db, token }))
}

/// Opens an iterator over keys in `[start, end)` of `db`, reading `snapshot` (a handle from
/// `strata_snapshot_open`), or with `snapshot` 0 a new snapshot taken when the request is
/// handled. An empty (or NULL) `start` or `end` is unbounded on that side. `flags` may contain
/// `STRATA_ITER_REVERSE` and `STRATA_ITER_FIRST_CHUNK`. The completion's `handle` is the iterator
/// handle; close it with `strata_iter_close`. With `STRATA_ITER_FIRST_CHUNK` its `data` and
/// `flags` are also the first chunk, as for `strata_iter_next`; if reading it fails, the
/// completion carries that error and no iterator remains open. That chunk holds up to
/// `chunk_entries` entries (0: strata's default, 16; more than a chunk's cap, 8,192, is the
/// cap), and the chunks after it twice as many each time, up to the cap: a caller that knows
/// how far it will read asks for that many and crosses once.
/// Ownership: the caller keeps `start` and `end`; strata copies them before returning.
/// Threads: may be called from any thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_iter_open(
    db: u64,
    snapshot: u64,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    flags: u32,
    chunk_entries: u32,
    token: u64,
) -> i32 {
    guard("strata_iter_open", || {
        // SAFETY: forwarded from this function's contract.
        match unsafe {
            iter_open_request(
                db,
                snapshot,
                (start, start_len),
                (end, end_len),
                (flags, chunk_entries),
                token,
            )
        } {
            Ok(request) => submit(request),
            Err(code) => code,
        }
    })
}

/// The iterator open request for these bounds and flags, copied and validated.
///
/// # Safety
/// Each bound's pointer must be readable for its length (it may be NULL only when the length
/// is 0).
unsafe fn iter_open_request(
    db: u64,
    snapshot: u64,
    (start, start_len): (*const u8, usize),
    (end, end_len): (*const u8, usize),
    (flags, chunk_entries): (u32, u32),
    token: u64,
) -> Result<Request, i32> {
    if flags & !(STRATA_ITER_REVERSE | STRATA_ITER_FIRST_CHUNK) != 0 {
        return Err(STRATA_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: forwarded from this function's contract.
    let (lower, upper) = unsafe { copy_bounds(start, start_len, end, end_len) }
        .ok_or(STRATA_ERR_INVALID_ARGUMENT)?;
    Ok(Request::IterOpen {
        db,
        snapshot,
        lower,
        upper,
        reverse: flags & STRATA_ITER_REVERSE != 0,
        first_chunk: (flags & STRATA_ITER_FIRST_CHUNK != 0).then_some(chunk_entries),
        token,
    })
}

/// Opens an iterator as `strata_iter_open` does, but waits for the open's result in this call
/// instead of through the completion queue, as `strata_db_get_wait` waits for a read: for a
/// caller that has nothing else in flight (a short scan then costs one call). `token` (non-zero,
/// never used before) names the request: when `limit_ns` (if not 0) passes or
/// `strata_interrupt(token)` is called first, the call returns `STRATA_INTERRUPTED` and the
/// caller continues with `strata_wait(token, ...)` or gives up with `strata_abandon(token, ...)`.
/// Otherwise returns the result's code with the new iterator's handle and flags in `out`, and
/// the first chunk (with `STRATA_ITER_FIRST_CHUNK`) or the error message in `dst` when it fits
/// in `dst_cap` (`out->data` NULL), else in a buffer at `out->data`.
/// Ownership: the caller keeps `start`, `end` and `dst`; strata copies the bounds before
/// submitting and writes `dst` and `out` only on this thread, before returning. A non-NULL
/// `out->data` belongs to the caller: release it with `strata_value_free`. The iterator
/// belongs to the caller: close it with `strata_iter_close`.
/// Threads: may be called from any thread; the thread blocks until the result comes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_iter_open_wait(
    db: u64,
    snapshot: u64,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    flags: u32,
    chunk_entries: u32,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_iter_open_wait", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        // SAFETY: forwarded from this function's contract.
        let (lower, upper) = ((start, start_len), (end, end_len));
        let flags = (flags, chunk_entries);
        let request = match unsafe { iter_open_request(db, snapshot, lower, upper, flags, token) } {
            Ok(request) => request,
            Err(code) => return code,
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { submit_and_wait(request, token, spin_ns, limit_ns, dst, dst_cap, out) }
    })
}

/// Submits `request` (whose completion carries `token`) and waits for its result in this
/// call: the one-call form of `strata_expect`, submit, `strata_wait`. `STRATA_INTERRUPTED`
/// leaves the token announced, for `strata_wait` or `strata_abandon`.
///
/// # Safety
/// `dst` must be writable for `dst_cap` bytes during the call (it may be NULL only when
/// `dst_cap` is 0).
unsafe fn submit_and_wait(
    request: Request,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: &mut strata_waited,
) -> i32 {
    if token == 0 {
        return STRATA_ERR_INVALID_ARGUMENT;
    }
    let Some(rt) = runtime::get() else {
        return STRATA_ERR_CLOSED;
    };
    let waiter = crate::waiter::Waiter::pooled();
    if !rt.expected.watch(token, &waiter) {
        return STRATA_ERR_INVALID_ARGUMENT;
    }
    if !rt.submit(request) {
        rt.expected.forget(token);
        return STRATA_ERR_INTERNAL;
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { wait_and_hand_over(rt, waiter, token, spin_ns, limit_ns, dst, dst_cap, out) }
}

/// Waits for the result `waiter` gets (spinning up to `spin_ns`, giving up after `limit_ns`
/// if not 0) and hands it over as `strata_wait` does; then forgets `token` (0: none was
/// announced). `STRATA_INTERRUPTED` leaves the token announced, for `strata_wait` or
/// `strata_abandon`.
///
/// # Safety
/// `dst` must be writable for `dst_cap` bytes during the call (it may be NULL only when
/// `dst_cap` is 0).
#[allow(clippy::too_many_arguments)]
unsafe fn wait_and_hand_over(
    rt: &runtime::Runtime,
    waiter: std::sync::Arc<crate::waiter::Waiter>,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: &mut strata_waited,
) -> i32 {
    let spin = std::time::Duration::from_nanos(spin_ns);
    let limit = (limit_ns > 0).then(|| std::time::Duration::from_nanos(limit_ns));
    let Some(result) = waiter.wait(spin, limit) else {
        return STRATA_INTERRUPTED;
    };
    if token != 0 {
        rt.expected.forget(token);
    }
    crate::waiter::Waiter::recycle(waiter);
    // SAFETY: forwarded from this function's contract.
    unsafe { hand_over(rt, result, dst, dst_cap, out) }
}

/// Requests the next chunk of iterator `iter`. The completion's `data` holds entries encoded as
/// `key_len:u32le value_len:u32le key value`, repeated; `flags` has `STRATA_ITER_DONE` when no
/// entry follows this chunk. Fails with `STRATA_ERR_CLOSED` once the iterator or its database
/// is closed. A chunk holds at most 256 KiB of entries (more only when its one entry is larger).
/// After answering, strata reads the chunk after it ahead, while the caller reads this one, and
/// keeps it until the next request (a seek or a close drops it).
/// Ownership: the chunk buffer belongs to strata (see `strata_completions_drain`).
/// Threads: may be called from any thread, one request per iterator at a time.
#[no_mangle]
pub extern "C" fn strata_iter_next(iter: u64, token: u64) -> i32 {
    guard("strata_iter_next", || {
        submit(Request::IterNext { iter, token })
    })
}

/// Requests the next chunk of iterator `iter` as `strata_iter_next` does, but waits for it in
/// this call, as `strata_iter_open_wait` waits for an open: for a caller with nothing else in
/// flight (a scan past its first chunk then costs one call per chunk). `token`, `spin_ns`,
/// `limit_ns`, `STRATA_INTERRUPTED` and the result in `dst` or `out` are as for
/// `strata_iter_open_wait`; the result's `flags` carry `STRATA_ITER_DONE`.
/// Ownership: the caller keeps `dst`; strata writes `dst` and `out` only on this thread, before
/// returning. A non-NULL `out->data` belongs to the caller: release it with
/// `strata_value_free`.
/// Threads: may be called from any thread, one request per iterator at a time; the thread
/// blocks until the chunk comes.
#[no_mangle]
pub unsafe extern "C" fn strata_iter_next_wait(
    iter: u64,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_iter_next_wait", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let request = Request::IterNext { iter, token };
        // SAFETY: forwarded from this function's contract.
        unsafe { submit_and_wait(request, token, spin_ns, limit_ns, dst, dst_cap, out) }
    })
}

/// Repositions iterator `iter` within the bounds `[start, end)` (empty or NULL: unbounded),
/// which replace those it had: `mode` is one of `STRATA_SEEK_*` and says where it starts and
/// which way it reads from there (`STRATA_SEEK_FIRST`/`_GE`/`_GT` up, `_LAST`/`_LE`/`_LT`
/// down), at the snapshot it was opened at. The completion carries the first chunk from there,
/// as `strata_iter_next` does (`STRATA_ITER_DONE` when nothing follows), of up to
/// `chunk_entries` entries as for `strata_iter_open`; later `strata_iter_next` calls go on
/// the same way, doubling from there. With `STRATA_SEEK_BEHIND` in `mode` the chunk also
/// brings the entries behind the position (see the flag). An unknown mode, a key with
/// `STRATA_SEEK_FIRST` or `_LAST`, or a key or bound over `STRATA_MAX_KEY_LEN` is
/// `STRATA_ERR_INVALID_ARGUMENT`; a closed iterator fails with `STRATA_ERR_CLOSED`.
/// Ownership: the caller keeps `key`, `start` and `end`; strata copies them before returning.
/// The chunk buffer belongs to strata (see `strata_completions_drain`).
/// Threads: may be called from any thread, one request per iterator at a time.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_iter_seek(
    iter: u64,
    mode: u32,
    key: *const u8,
    key_len: usize,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    chunk_entries: u32,
    token: u64,
) -> i32 {
    guard("strata_iter_seek", || {
        // SAFETY: forwarded from this function's contract.
        let bytes = [(key, key_len), (start, start_len), (end, end_len)];
        match unsafe { iter_seek_request(iter, (mode, chunk_entries), bytes, token) } {
            Ok(request) => submit(request),
            Err(code) => code,
        }
    })
}

/// The seek request for this mode, key and bounds (`[key, start, end]`, each a pointer and a
/// length), copied and validated.
///
/// # Safety
/// Each pointer must be readable for its length (it may be NULL only when the length is 0).
unsafe fn iter_seek_request(
    iter: u64,
    (mode, chunk_entries): (u32, u32),
    [(key, key_len), (start, start_len), (end, end_len)]: [(*const u8, usize); 3],
    token: u64,
) -> Result<Request, i32> {
    // SAFETY: forwarded from this function's contract.
    let key = unsafe { caller_bytes(key, key_len) }.ok_or(STRATA_ERR_INVALID_ARGUMENT)?;
    if key.len() > STRATA_MAX_KEY_LEN {
        return Err(STRATA_ERR_INVALID_ARGUMENT);
    }
    let key: Box<[u8]> = Box::from(key);
    let behind = mode & STRATA_SEEK_BEHIND != 0;
    let seek = match mode & !STRATA_SEEK_BEHIND {
        STRATA_SEEK_FIRST if key.is_empty() => Seek::First,
        STRATA_SEEK_LAST if key.is_empty() => Seek::Last,
        STRATA_SEEK_GE => Seek::Ge(key),
        STRATA_SEEK_GT => Seek::Gt(key),
        STRATA_SEEK_LE => Seek::Le(key),
        STRATA_SEEK_LT => Seek::Lt(key),
        _ => return Err(STRATA_ERR_INVALID_ARGUMENT),
    };
    // SAFETY: forwarded from this function's contract.
    let (lower, upper) = unsafe { copy_bounds(start, start_len, end, end_len) }
        .ok_or(STRATA_ERR_INVALID_ARGUMENT)?;
    Ok(Request::IterSeek {
        iter,
        seek,
        lower,
        upper,
        chunk_entries,
        behind,
        token,
    })
}

/// Repositions iterator `iter` as `strata_iter_seek` does, but waits for the first chunk from
/// there in this call, as `strata_iter_open_wait` waits for an open. `token`, `spin_ns`,
/// `limit_ns`, `STRATA_INTERRUPTED` and the result in `dst` or `out` are as for
/// `strata_iter_open_wait`; the result's `flags` carry `STRATA_ITER_DONE`. Arguments
/// `strata_iter_seek` refuses are `STRATA_ERR_INVALID_ARGUMENT` here too.
/// Ownership: the caller keeps `key`, `start`, `end` and `dst`; strata copies the key and
/// bounds before submitting and writes `dst` and `out` only on this thread, before returning.
/// A non-NULL `out->data` belongs to the caller: release it with `strata_value_free`.
/// Threads: may be called from any thread, one request per iterator at a time; the thread
/// blocks until the chunk comes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn strata_iter_seek_wait(
    iter: u64,
    mode: u32,
    key: *const u8,
    key_len: usize,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    chunk_entries: u32,
    token: u64,
    spin_ns: u64,
    limit_ns: u64,
    dst: *mut u8,
    dst_cap: usize,
    out: *mut strata_waited,
) -> i32 {
    guard("strata_iter_seek_wait", || {
        // SAFETY: forwarded from this function's contract.
        let Some(out) = (unsafe { waited_out(dst, dst_cap, out) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let bytes = [(key, key_len), (start, start_len), (end, end_len)];
        // SAFETY: forwarded from this function's contract.
        let request = match unsafe { iter_seek_request(iter, (mode, chunk_entries), bytes, token) }
        {
            Ok(request) => request,
            Err(code) => return code,
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { submit_and_wait(request, token, spin_ns, limit_ns, dst, dst_cap, out) }
    })
}

/// Closes iterator `iter` and releases its snapshot. No completion follows. Closing a closed or
/// unknown handle does nothing and returns `STRATA_OK`.
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_iter_close(iter: u64) -> i32 {
    guard("strata_iter_close", || match runtime::get() {
        // Without a runtime no iterator was ever opened.
        None => STRATA_OK,
        Some(_) => submit(Request::IterClose { iter }),
    })
}

/// Pins the current state of `db`: reads through the returned snapshot (the completion's
/// `handle`) see exactly the writes acknowledged before it, until `strata_snapshot_close`.
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_snapshot_open(db: u64, token: u64) -> i32 {
    guard("strata_snapshot_open", || {
        submit(Request::SnapshotOpen { db, token })
    })
}

/// Releases `snapshot`. No completion follows; closing a closed or unknown handle does nothing
/// and returns `STRATA_OK`. Iterators opened on the snapshot keep working.
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_snapshot_close(snapshot: u64) -> i32 {
    guard("strata_snapshot_close", || match runtime::get() {
        None => STRATA_OK,
        Some(_) => submit(Request::SnapshotClose { snapshot }),
    })
}

/// Writes the memtable of `db` to a table; the completion arrives once it is durable in a table
/// (every write acknowledged before the call is then in tables, not only in the WAL).
/// Ownership: no buffers change hands.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_db_flush(db: u64, token: u64) -> i32 {
    guard("strata_db_flush", || submit(Request::Flush { db, token }))
}

/// Flushes, then compacts the keys of `db` in `[start, end)` (empty or NULL: unbounded; the
/// tables holding `end` itself may be compacted too) down through the levels, dropping
/// overwritten values and deleted keys no snapshot needs. The completion arrives when the
/// compaction is done.
/// Ownership: the caller keeps `start` and `end`; strata copies them before returning.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_compact(
    db: u64,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    token: u64,
) -> i32 {
    guard("strata_db_compact", || {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            submit_with_bounds(start, start_len, end, end_len, |lower, upper| {
                Request::Compact {
                    db,
                    lower,
                    upper,
                    token,
                }
            })
        }
    })
}

/// Copies the range bounds (see [`copy_bounds`]) and submits the request `make` builds from
/// them; `STRATA_ERR_INVALID_ARGUMENT` when a bound is refused.
///
/// # Safety
/// As for [`copy_bounds`].
unsafe fn submit_with_bounds(
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    make: impl FnOnce(Option<Box<[u8]>>, Option<Box<[u8]>>) -> Request,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    match unsafe { copy_bounds(start, start_len, end, end_len) } {
        Some((lower, upper)) => submit(make(lower, upper)),
        None => STRATA_ERR_INVALID_ARGUMENT,
    }
}

/// Estimates how many bytes of `db`'s table files hold the keys in `[start, end)` (empty or
/// NULL: unbounded): tables inside the range in full, a table the range cuts in proportion to
/// the data blocks its index places in the range. Writes not yet flushed (memtable, WAL) are
/// not counted. The completion's data is the estimate, 8 bytes little-endian.
/// Ownership: the caller keeps `start` and `end`; strata copies them before returning.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_estimate_disk_usage(
    db: u64,
    start: *const u8,
    start_len: usize,
    end: *const u8,
    end_len: usize,
    token: u64,
) -> i32 {
    guard("strata_db_estimate_disk_usage", || {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            submit_with_bounds(start, start_len, end, end_len, |lower, upper| {
                Request::EstimateDiskUsage {
                    db,
                    lower,
                    upper,
                    token,
                }
            })
        }
    })
}

/// Writes a consistent, openable copy of `db` into directory `path` (`path_len` bytes), which
/// must not exist or be empty (else `STRATA_ERR_INVALID_ARGUMENT`). Tables are hard-linked
/// where the file system allows.
/// Ownership: the caller keeps `path`; strata copies it before returning.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_db_checkpoint(
    db: u64,
    path: *const u8,
    path_len: usize,
    token: u64,
) -> i32 {
    guard("strata_db_checkpoint", || {
        // SAFETY: the caller guarantees `path` is readable for `path_len` bytes.
        let Some(path) = (unsafe { copy_path(path, path_len) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        submit(Request::Checkpoint { db, path, token })
    })
}

/// Verifies every checksum of the database in directory `path` (which must not be open). The
/// completion's `data` is a report, one line per file (`ok NAME: ...` or `damaged NAME: why`),
/// with code `STRATA_OK`, or `STRATA_ERR_CORRUPTION` when any file is damaged. Other codes
/// carry a message instead: `STRATA_ERR_LOCKED` when the database is open,
/// `STRATA_ERR_INVALID_ARGUMENT` when `path` holds no strata database, `STRATA_ERR_IO` when it
/// cannot be read (a missing directory, say).
/// Ownership: the caller keeps `path`; strata copies it before returning. The report buffer
/// belongs to strata (see `strata_completions_drain`).
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_check(path: *const u8, path_len: usize, token: u64) -> i32 {
    guard("strata_check", || {
        // SAFETY: the caller guarantees `path` is readable for `path_len` bytes.
        let Some(path) = (unsafe { copy_path(path, path_len) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        if runtime::start().is_err() {
            return STRATA_ERR_IO;
        }
        submit(Request::Check { path, token })
    })
}

/// Rebuilds the manifest of the database in directory `path` (which must not be open) when it
/// is missing or damaged, from the database's own tables and WAL segments; deletes nothing
/// (the tables it merged and a damaged manifest are moved to `path/pre-repair-N/`). The
/// completion's `data` is a report, one line per decision, with code `STRATA_OK`. Other codes
/// carry a message instead: `STRATA_ERR_LOCKED` when the database is open,
/// `STRATA_ERR_INVALID_ARGUMENT` when the manifest is intact, or `path` holds no strata file,
/// or tables of several databases; `STRATA_ERR_CORRUPTION` when a WAL segment is damaged;
/// `STRATA_ERR_IO` when a file cannot be read or written.
/// Ownership: the caller keeps `path`; strata copies it before returning. The report buffer
/// belongs to strata (see `strata_completions_drain`).
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_repair(path: *const u8, path_len: usize, token: u64) -> i32 {
    guard("strata_repair", || {
        // SAFETY: the caller guarantees `path` is readable for `path_len` bytes.
        let Some(path) = (unsafe { copy_path(path, path_len) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        if runtime::start().is_err() {
            return STRATA_ERR_IO;
        }
        submit(Request::Repair { path, token })
    })
}

/// Sets the most verbose level of engine log records the caller wants delivered as completions
/// (`STRATA_LOG_OFF` ... `STRATA_LOG_TRACE`; see `STRATA_COMPLETION_LOG`). Process-wide; the
/// default is `STRATA_LOG_OFF`, and levels above it cost one atomic load per event. Takes
/// effect for events from the next one on. Independently, `STRATA_LOG=info` (or error, warn,
/// debug, trace) in the environment writes events to stderr.
/// Ownership: no pointers.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_log_level(level: u32) -> i32 {
    guard("strata_log_level", || {
        if level > STRATA_LOG_TRACE {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        crate::logs::set_host_level(level as u8);
        STRATA_OK
    })
}

/// Writes the Rust heap use of the whole process into `*out` (see `strata_memory`). Reads
/// process-wide counters only; it does not go through the runtime thread.
/// Ownership: the caller owns `*out`; `out` must be non-NULL.
/// Threads: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn strata_memory_read(out: *mut strata_memory) -> i32 {
    guard("strata_memory_read", || {
        if out.is_null() {
            return STRATA_ERR_INVALID_ARGUMENT;
        }
        let c = crate::alloc::counts();
        // SAFETY: checked non-NULL; the caller guarantees it points to a writable strata_memory.
        unsafe {
            out.write(strata_memory {
                live_bytes: c.live_bytes,
                live_allocations: c.live_allocations,
                allocations: c.allocations,
            })
        };
        STRATA_OK
    })
}

/// Arms the failpoint `name` (see the engine's failpoint list) to perform `action`
/// (`STRATA_FAILPOINT_*`) once, the next time any strata thread passes it. Exists only in builds
/// with the `failpoints` feature, for tests.
/// Ownership: `name` is borrowed for the call.
/// Threads: may be called from any thread.
#[cfg(feature = "failpoints")]
#[no_mangle]
pub unsafe extern "C" fn strata_failpoint_arm(
    name: *const u8,
    name_len: usize,
    action: u32,
) -> i32 {
    guard("strata_failpoint_arm", || {
        use strata_engine::failpoint::{self, Action};
        // SAFETY: forwarded from this function's pointer contract.
        let Some(name) = (unsafe { caller_bytes(name, name_len) }) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let Ok(name) = std::str::from_utf8(name) else {
            return STRATA_ERR_INVALID_ARGUMENT;
        };
        let action = match action {
            STRATA_FAILPOINT_PANIC => Action::Panic,
            STRATA_FAILPOINT_SEGFAULT => Action::Segfault,
            STRATA_FAILPOINT_BROKEN_PIPE => Action::BrokenPipe,
            _ => return STRATA_ERR_INVALID_ARGUMENT,
        };
        failpoint::arm(name, action);
        STRATA_OK
    })
}

/// Disarms every failpoint. Exists only in builds with the `failpoints` feature, for tests.
/// Ownership: no pointers.
/// Threads: may be called from any thread.
#[cfg(feature = "failpoints")]
#[no_mangle]
pub extern "C" fn strata_failpoint_disarm_all() -> i32 {
    guard("strata_failpoint_disarm_all", || {
        strata_engine::failpoint::disarm_all();
        STRATA_OK
    })
}

/// 1 when strata's fault handler (which prints the Rust frames of a fault on a strata thread,
/// then hands the signal on) is installed for SIGSEGV, else 0. It is installed when the runtime
/// starts unless the environment has `STRATA_CRASH_HANDLER=0`.
/// Ownership: no pointers.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_crash_handler_installed() -> i32 {
    guard_or("strata_crash_handler_installed", 0, || {
        i32::from(crate::crash::is_installed())
    })
}

/// How this library was built: the Rust compiler's version and the cargo features compiled in,
/// a static NUL-terminated string such as `rustc 1.95.0 (59807616e 2026-04-14); features: none`.
/// Ownership: the string is static; never free it.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_build_info() -> *const c_char {
    guard_or("strata_build_info", std::ptr::null(), || {
        concat!(env!("STRATA_BUILD_INFO"), "\0").as_ptr().cast()
    })
}

/// The strata version, a static NUL-terminated string.
/// Ownership: the string is static; never free it.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_version() -> *const c_char {
    guard_or("strata_version", std::ptr::null(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}
