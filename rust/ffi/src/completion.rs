//! The completion queue: finished operations wait here, in Rust memory, until the caller drains
//! them; an eventfd tells the caller there is something to drain.
//!
//! The caller (Go's poller goroutine) reads the eventfd through its netpoller, so no thread sits
//! blocked inside a C call while the engine works, and no per-operation C->caller callback
//! exists. Wake-ups are suppressed while the drainer is known to be awake: the runtime writes the
//! eventfd only when it flips `drainer_awake` from false to true, and the drainer clears the flag
//! only after finding the queue empty (then looks once more, so no completion is stranded).
//!
//! On Linux the descriptor is an eventfd; elsewhere (macOS) it is the read end of a pipe, which
//! the same 8-byte read clears just as well (see [`Wakeup`]).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::abi::{strata_completion, STRATA_COMPLETION_LOG};

/// A finished operation, owned by Rust until the drain after the one that handed it out.
#[derive(Debug)]
pub struct Completion {
    pub token: u64,
    pub handle: u64,
    pub code: i32,
    pub flags: u32,
    /// Result bytes on success (empty for none), a UTF-8 message on failure.
    pub data: Vec<u8>,
}

impl Completion {
    /// A success carrying `data`.
    pub fn ok(token: u64, data: Vec<u8>) -> Completion {
        Completion {
            token,
            handle: 0,
            code: 0,
            flags: 0,
            data,
        }
    }

    /// A failure with a message.
    pub fn err(token: u64, code: i32, message: impl Into<String>) -> Completion {
        let message: String = message.into();
        Completion {
            token,
            handle: 0,
            code,
            flags: 0,
            data: message.into_bytes(),
        }
    }

    fn to_c(&self) -> strata_completion {
        // An empty buffer's dangling pointer is not handed out: C code may not even memcpy 0
        // bytes from it.
        let (data, len) = match &self.data {
            b if !b.is_empty() => (b.as_ptr(), b.len()),
            _ => (std::ptr::null(), 0),
        };
        strata_completion {
            token: self.token,
            handle: self.handle,
            data,
            len,
            code: self.code,
            flags: self.flags,
        }
    }
}

/// Result buffers kept for reuse, at most this many ...
const RECYCLED_BUFFERS: usize = 256;
/// ... each of at most this capacity (bigger ones are freed): the pool holds at most 1 MiB.
const RECYCLED_CAPACITY: usize = 4096;

/// The pool of result buffers. Off while no database is open, so an idle process keeps none.
#[derive(Default)]
struct Recycled {
    on: bool,
    buffers: Vec<Vec<u8>>,
}

/// Completions waiting for the drainer, and the eventfd that announces them.
pub struct CompletionQueue {
    ready: Mutex<Vec<Completion>>,
    /// Completions handed out by the last drain; their buffers live until the next drain.
    handed_out: Mutex<Vec<Completion>>,
    /// Small result buffers the drainer is done with, emptied, for the runtime thread to fill
    /// again ([`CompletionQueue::take_recycled`]): a steady stream of reads allocates none.
    recycled: Mutex<Recycled>,
    drainer_awake: AtomicBool,
    wakeup: Wakeup,
}

impl CompletionQueue {
    /// Creates the queue and its non-blocking wake-up descriptor.
    pub fn new() -> std::io::Result<CompletionQueue> {
        let wakeup = Wakeup::new()?;
        Ok(CompletionQueue {
            ready: Mutex::new(Vec::new()),
            handed_out: Mutex::new(Vec::new()),
            recycled: Mutex::new(Recycled::default()),
            // The drainer starts asleep, so the first completion signals the eventfd even for a
            // caller that waits before it ever drains.
            drainer_awake: AtomicBool::new(false),
            wakeup,
        })
    }

    /// A new descriptor for the same eventfd, owned by the caller (close it when done).
    pub fn dup_eventfd(&self) -> std::io::Result<RawFd> {
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own returns a new descriptor or -1.
        let fd = unsafe { libc::fcntl(self.wakeup.reader(), libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(fd)
    }

    /// Publishes a group of completions and wakes the drainer if it sleeps.
    pub fn publish(&self, batch: &mut Vec<Completion>) {
        if batch.is_empty() {
            return;
        }
        lock(&self.ready).append(batch);
        if !self.drainer_awake.swap(true, Ordering::SeqCst) {
            self.signal();
        }
    }

    fn signal(&self) {
        self.wakeup.signal();
    }

    /// Moves up to `out.len()` completions into `out` and returns how many. Frees the buffers of
    /// the previous drain. Returning 0 means the queue was empty and the drainer is now marked
    /// asleep: the next publish will signal the eventfd.
    pub fn drain(&self, out: &mut [strata_completion]) -> usize {
        let mut handed_out = lock(&self.handed_out);
        self.recycle(&mut handed_out);
        release_burst_capacity(&mut handed_out);
        let mut n = self.take(out, &mut handed_out);
        if n == 0 {
            self.drainer_awake.store(false, Ordering::SeqCst);
            // A publish between the take above and the store would have seen the flag still
            // set and skipped the signal: look once more.
            n = self.take(out, &mut handed_out);
            if n > 0 {
                self.drainer_awake.store(true, Ordering::SeqCst);
            }
        }
        n
    }

    /// Turns on (a database is open) or off (none is) the reuse of result buffers; off also
    /// frees the ones kept.
    pub fn set_recycling(&self, on: bool) {
        let mut recycled = lock(&self.recycled);
        recycled.on = on;
        if !on {
            recycled.buffers = Vec::new();
        }
    }

    /// Moves the recycled buffers (empty, capacity kept) into `into`.
    pub fn take_recycled(&self, into: &mut Vec<Vec<u8>>) {
        into.append(&mut lock(&self.recycled).buffers);
    }

    /// Takes back a result buffer a blocked caller copied out (see [`crate::waiter`]), to
    /// reuse it as the drain does its own.
    pub fn give_back(&self, data: Vec<u8>) {
        let mut recycled = lock(&self.recycled);
        Self::keep(&mut recycled, data);
    }

    fn keep(recycled: &mut Recycled, mut data: Vec<u8>) {
        let small = (1..=RECYCLED_CAPACITY).contains(&data.capacity());
        if recycled.on && small && recycled.buffers.len() < RECYCLED_BUFFERS {
            crate::alloc::poison_buffer(&mut data);
            recycled.buffers.push(data);
        }
    }

    /// Drops the completions of the previous drain, keeping their small buffers for reuse.
    fn recycle(&self, handed_out: &mut Vec<Completion>) {
        if handed_out.is_empty() {
            return; // the poller's spin: no lock to take
        }
        let mut recycled = lock(&self.recycled);
        for c in handed_out.drain(..) {
            Self::keep(&mut recycled, c.data);
        }
    }

    fn take(&self, out: &mut [strata_completion], handed_out: &mut Vec<Completion>) -> usize {
        let mut ready = lock(&self.ready);
        let n = ready.len().min(out.len());
        for (slot, c) in out.iter_mut().zip(ready.drain(..n)) {
            if c.flags & STRATA_COMPLETION_LOG != 0 {
                crate::logs::record_delivered();
            }
            *slot = c.to_c();
            handed_out.push(c);
        }
        release_burst_capacity(&mut ready);
        n
    }
}

/// Queue capacity kept across bursts; beyond it, an emptied queue gives its memory back.
const RETAINED_CAPACITY: usize = 1024;

fn release_burst_capacity(queue: &mut Vec<Completion>) {
    if queue.is_empty() && queue.capacity() > RETAINED_CAPACITY {
        queue.shrink_to(RETAINED_CAPACITY);
    }
}

/// Locks a mutex, recovering from poisoning: the data (queues of owned buffers) stays valid even
/// if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The descriptor the drainer waits on, and how the runtime makes it readable.
///
/// Linux: one eventfd; a signal adds 1 to its counter, an 8-byte read clears it. Elsewhere: a
/// pipe; a signal writes one byte to the write end, and a read of up to 8 bytes from the read
/// end (the descriptor callers get) clears as many signals. Both ends are non-blocking, so a
/// signal into a full counter or pipe fails with EAGAIN, which is harmless: the drainer is
/// already due to wake.
#[cfg(target_os = "linux")]
struct Wakeup {
    eventfd: OwnedFd,
}

#[cfg(target_os = "linux")]
impl Wakeup {
    fn new() -> std::io::Result<Wakeup> {
        // SAFETY: eventfd has no memory arguments; a non-negative result is a new descriptor we
        // take ownership of exactly once.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor owned by nobody else.
        let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Wakeup { eventfd })
    }

    fn reader(&self) -> RawFd {
        self.eventfd.as_raw_fd()
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

#[cfg(not(target_os = "linux"))]
struct Wakeup {
    read: OwnedFd,
    write: OwnedFd,
}

#[cfg(not(target_os = "linux"))]
impl Wakeup {
    fn new() -> std::io::Result<Wakeup> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe writes two descriptors into a live two-element array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both are fresh descriptors owned by nobody else; OwnedFd closes them on error.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [&read, &write] {
            // SAFETY: fcntl on a descriptor we own; no memory arguments.
            let ok = unsafe {
                libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) == 0
                    && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) == 0
            };
            if !ok {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Wakeup { read, write })
    }

    fn reader(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    fn signal(&self) {
        // SAFETY: writes one byte from a static buffer to our own pipe. The read end stays open
        // as long as `self`, so the write never raises SIGPIPE.
        unsafe { libc::write(self.write.as_raw_fd(), b"x".as_ptr().cast(), 1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> strata_completion {
        strata_completion {
            token: 0,
            handle: 0,
            data: std::ptr::null(),
            len: 0,
            code: 0,
            flags: 0,
        }
    }

    fn eventfd_count(q: &CompletionQueue) -> u64 {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking eventfd.
        let n = unsafe { libc::read(q.wakeup.reader(), (&mut v as *mut u64).cast(), 8) };
        if n == 8 {
            v
        } else {
            0
        }
    }

    #[test]
    fn signals_only_when_the_drainer_sleeps() {
        let q = CompletionQueue::new().unwrap();
        let mut out = vec![empty(); 4];
        // Asleep at start: the first publish signals, the next ones do not until a drain.
        q.publish(&mut vec![Completion::ok(1, Vec::new())]);
        q.publish(&mut vec![Completion::ok(9, Vec::new())]);
        assert_eq!(eventfd_count(&q), 1);
        assert_eq!(q.drain(&mut out), 2);
        assert_eq!(out[0].token, 1);
        // Empty drain puts the drainer to sleep; the next publish signals once.
        assert_eq!(q.drain(&mut out), 0);
        q.publish(&mut vec![Completion::ok(2, Vec::new())]);
        q.publish(&mut vec![Completion::ok(3, Vec::new())]);
        assert_eq!(eventfd_count(&q), 1);
        assert_eq!(q.drain(&mut out), 2);
        assert_eq!(eventfd_count(&q), 0);
    }

    #[test]
    fn empty_buffers_are_handed_out_as_null() {
        let q = CompletionQueue::new().unwrap();
        q.publish(&mut vec![Completion::ok(1, Vec::new())]);
        let mut out = vec![empty(); 1];
        assert_eq!(q.drain(&mut out), 1);
        assert!(out[0].data.is_null());
        assert_eq!(out[0].len, 0);
    }

    #[test]
    fn drain_respects_capacity_and_keeps_buffers_until_the_next_drain() {
        let q = CompletionQueue::new().unwrap();
        let mut batch: Vec<_> = (0..5)
            .map(|i| Completion::ok(i, vec![i as u8; 3]))
            .collect();
        q.publish(&mut batch);
        let mut out = vec![empty(); 2];
        assert_eq!(q.drain(&mut out), 2);
        // SAFETY: data stays valid until the next drain, which has not happened.
        let first = unsafe { std::slice::from_raw_parts(out[1].data, out[1].len) };
        assert_eq!(first, &[1, 1, 1]);
        assert_eq!(q.drain(&mut out), 2);
        assert_eq!(q.drain(&mut out), 1);
        assert_eq!(out[0].token, 4);
        assert_eq!(q.drain(&mut out), 0);
    }

    #[test]
    fn small_buffers_are_reused_only_while_recycling() {
        let q = CompletionQueue::new().unwrap();
        let mut out = vec![empty(); 4];
        let mut pool = Vec::new();
        let batch = |tag: u64| {
            vec![
                Completion::ok(tag, vec![1; 100]),
                Completion::ok(tag + 1, vec![2; RECYCLED_CAPACITY + 1]),
                Completion::ok(tag + 2, Vec::new()),
            ]
        };
        // Off (no database open): the next drain frees everything it handed out.
        q.publish(&mut batch(1));
        assert_eq!(q.drain(&mut out), 3);
        q.drain(&mut out);
        q.take_recycled(&mut pool);
        assert!(pool.is_empty());
        // On: the small, non-empty buffer comes back empty with its capacity.
        q.set_recycling(true);
        q.publish(&mut batch(4));
        assert_eq!(q.drain(&mut out), 3);
        q.drain(&mut out);
        q.take_recycled(&mut pool);
        assert_eq!(pool.len(), 1);
        assert!(pool[0].is_empty() && pool[0].capacity() >= 100);
        // Turning it off frees what was kept.
        q.publish(&mut batch(7));
        q.drain(&mut out);
        q.drain(&mut out);
        q.set_recycling(false);
        q.take_recycled(&mut pool);
        assert_eq!(pool.len(), 1);
    }
}
