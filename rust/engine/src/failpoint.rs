//! Failpoints: named places in the engine where a test can make strata misbehave on purpose.
//!
//! Compiled only with the `failpoints` cargo feature; without it [`hit`] is an empty inline
//! function and the named points cost nothing. Tests arm a point with [`arm`]; the next time any
//! thread passes it, the point fires once and disarms. This is the engine's only global state
//! besides the counters in [`crate::threads`], and it exists only in test builds.
//!
//! The points: `db.prepare` and `db.get` (the owner's thread), `flush` (the flush thread),
//! `compaction` (the compaction thread), and in the runtime `iter.read_ahead` (a database's
//! thread reading an iterator's next chunk ahead of its request).

/// What an armed failpoint does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Panics with a message naming the point.
    Panic,
    /// Writes through a null pointer: the thread takes SIGSEGV.
    Segfault,
    /// Writes to a pipe whose reading end is closed: the kernel raises SIGPIPE on this thread.
    BrokenPipe,
}

#[cfg(feature = "failpoints")]
mod armed {
    use super::Action;
    use std::sync::Mutex;

    static ARMED: Mutex<Vec<(String, Action)>> = Mutex::new(Vec::new());

    pub fn arm(name: &str, action: Action) {
        lock().push((name.to_owned(), action));
    }

    pub fn disarm_all() {
        lock().clear();
    }

    pub fn take(name: &str) -> Option<Action> {
        let mut armed = lock();
        let i = armed.iter().position(|(n, _)| n == name)?;
        Some(armed.remove(i).1)
    }

    fn lock() -> std::sync::MutexGuard<'static, Vec<(String, Action)>> {
        ARMED.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Arms `name` to perform `action` once.
#[cfg(feature = "failpoints")]
pub fn arm(name: &str, action: Action) {
    armed::arm(name, action);
}

/// Disarms every failpoint.
#[cfg(feature = "failpoints")]
pub fn disarm_all() {
    armed::disarm_all();
}

/// Marks the failpoint `name`: fires it if armed.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if let Some(action) = armed::take(name) {
        fire(name, action);
    }
}

/// Marks the failpoint `name` (a no-op: built without the `failpoints` feature).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// Performs `action`. Kept out of line so a crash report names it.
#[inline(never)]
pub fn fire(name: &str, action: Action) {
    match action {
        Action::Panic => panic!("failpoint {name} fired"),
        Action::Segfault => deliberate_fault(),
        Action::BrokenPipe => write_to_broken_pipe(),
    }
}

/// Faults on purpose: a volatile write through a null pointer.
#[inline(never)]
pub fn deliberate_fault() {
    // Through black_box, the pointer is loaded before the faulting store, so the store is not
    // the function's first instruction: unwinders look up the symbol of `pc - 1`, which for a
    // fault on the very first instruction falls outside the function.
    let target = std::hint::black_box(std::ptr::null_mut::<u64>());
    // SAFETY: not sound, on purpose: this write faults (SIGSEGV), which is the point. It is
    // reachable only through an armed failpoint in a test build.
    unsafe { std::ptr::write_volatile(target, 0xdead) };
}

/// Writes to a pipe with no reader, which raises SIGPIPE on the calling thread; returns once
/// the write failed with EPIPE (strata threads keep SIGPIPE blocked, so the signal stays
/// pending on this thread and is never delivered).
#[inline(never)]
pub fn write_to_broken_pipe() {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return;
    }
    // SAFETY: closes the read end we own, writes one byte from a valid buffer to the write end
    // we own, then closes it.
    unsafe {
        libc::close(fds[0]);
        libc::write(fds[1], b"x".as_ptr().cast(), 1);
        libc::close(fds[1]);
    }
}
