//! Threads strata owns, and the per-thread engine context.
//!
//! Engine code keeps one piece of thread-local state, [`ThreadContext`], and touches it on
//! every engine entry. Its initializations are counted: the count equals the number of threads
//! strata spawned exactly when no other thread (a cgo caller's, say) ever entered the engine.
//! That count is how tests prove the runtime-thread rule holds.
//!
//! Every strata thread starts with asynchronous signals blocked, so the host process (the Go
//! runtime) keeps receiving them on its own threads. Synchronous faults stay unblocked.
//!
//! Threads that answer callers ([`Role::Serving`]) ask the kernel for a short time slice. On a
//! machine whose cores are busy, each hand-off from a caller to a strata thread otherwise waits
//! for the running task's whole slice (milliseconds) before the woken thread runs; with a short
//! slice the Linux scheduler (EEVDF, 6.12 and later) lets the woken thread preempt at once. The
//! thread's share of CPU does not change, only how finely it is cut. Background threads
//! (flushes, compactions, offline tools) keep the default slice.
//!
//! The two counters here are the engine's only process-wide state; they are statistics.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

static TLS_INITS: AtomicU64 = AtomicU64::new(0);
static THREADS_SPAWNED: AtomicU64 = AtomicU64::new(0);

/// Per-thread engine context.
pub struct ThreadContext {
    engine_calls: Cell<u64>,
}

thread_local! {
    static CONTEXT: ThreadContext = {
        TLS_INITS.fetch_add(1, Ordering::Relaxed);
        ThreadContext { engine_calls: Cell::new(0) }
    };
    /// Set on strata threads. Constant-initialized with no destructor, so reading it never
    /// runs code or allocates: the fault handler reads it inside a signal handler, on any thread.
    static OWNED: Cell<bool> = const { Cell::new(false) };
}

/// Marks an engine entry on the current thread (initializing its context on first use).
#[inline]
pub fn enter_engine() {
    CONTEXT.with(|c| c.engine_calls.set(c.engine_calls.get() + 1));
}

/// True on threads spawned through [`spawn`]. Async-signal-safe: it reads one
/// constant-initialized thread-local and never initializes engine state.
pub fn is_strata_thread() -> bool {
    OWNED.with(Cell::get)
}

/// How many times engine thread-local state was initialized in this process.
pub fn tls_inits() -> u64 {
    TLS_INITS.load(Ordering::Relaxed)
}

/// How many threads strata spawned in this process.
pub fn threads_spawned() -> u64 {
    THREADS_SPAWNED.load(Ordering::Relaxed)
}

/// Signals that stay deliverable on strata threads: faults raised by the thread's own code.
const SYNCHRONOUS_SIGNALS: [libc::c_int; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// The mask strata threads run with: everything but the synchronous signals.
fn async_signal_mask() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset/sigdelset initialize and edit it in place.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for sig in SYNCHRONOUS_SIGNALS {
            libc::sigdelset(&mut set, sig);
        }
        set
    }
}

/// What a strata thread does, which decides how the scheduler should treat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Answers callers who wait for it (the runtime, a database's thread, its readers and its
    /// committer): runs with [`SERVING_SLICE`], so a wake-up on a busy core is not left waiting.
    Serving,
    /// Bulk work nobody waits on at once (flushes, compactions, offline tools): default slice.
    Background,
}

/// The time slice a [`Role::Serving`] thread asks for: the shortest Linux accepts (0.1 ms).
pub const SERVING_SLICE: Duration = Duration::from_micros(100);

/// Spawns a strata-owned thread named `name`. The thread inherits a mask with asynchronous
/// signals blocked from its first instruction: the mask is set on the spawning thread around the
/// spawn and restored right after. A [`Role::Serving`] thread asks for [`SERVING_SLICE`] before
/// it runs `f` (best effort: a kernel without per-task slices ignores or refuses the request,
/// and the thread runs with the default). Returns once the new thread has counted itself and
/// initialized its context, so both counters agree whenever no spawn is in progress.
pub fn spawn<F>(name: &str, role: Role, f: F) -> io::Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    let blocked = async_signal_mask();
    // SAFETY: sigset_t is plain data, filled in by pthread_sigmask.
    let mut saved: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; this changes only the calling thread's mask,
    // which is restored below before returning.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, &mut saved) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let (ready, started) = std::sync::mpsc::sync_channel::<()>(1);
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            THREADS_SPAWNED.fetch_add(1, Ordering::Relaxed);
            OWNED.with(|o| o.set(true));
            enter_engine();
            if role == Role::Serving {
                request_slice(SERVING_SLICE);
            }
            let _altstack = SignalStack::install();
            let _ = ready.send(());
            f()
        });
    // SAFETY: restores the mask saved above on the same thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut()) };
    if spawned.is_ok() {
        let _ = started.recv();
    }
    spawned
}

/// Asks the kernel to cut the calling thread's CPU time into slices of `slice` (Linux 6.12+:
/// `sched_setattr` with `SCHED_OTHER` and `sched_runtime`). Older kernels ignore the field; a
/// refusal (a seccomp filter, say) leaves the default. Either way the thread works as before.
#[cfg(target_os = "linux")]
fn request_slice(slice: Duration) {
    let attr = libc::sched_attr {
        size: std::mem::size_of::<libc::sched_attr>() as u32,
        sched_policy: libc::SCHED_OTHER as u32,
        sched_flags: 0,
        sched_nice: current_nice(),
        sched_priority: 0,
        sched_runtime: u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX),
        sched_deadline: 0,
        sched_period: 0,
    };
    // SAFETY: `attr` is a valid sched_attr whose `size` says how much of it the kernel reads;
    // pid 0 is the calling thread, flags must be 0.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            0,
            &attr as *const libc::sched_attr,
            0,
        )
    };
}

#[cfg(not(target_os = "linux"))]
fn request_slice(_slice: Duration) {}

/// The calling thread's nice value, which `sched_setattr` would otherwise reset to 0 (the
/// thread inherits the spawner's, and a process started with `nice` must stay nice).
#[cfg(target_os = "linux")]
fn current_nice() -> i32 {
    // SAFETY: getpriority has no memory preconditions; -1 is also a valid nice value, so errno
    // tells an error apart, and on error the thread keeps nice 0 as the kernel defaults it to.
    unsafe {
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, 0);
        if *libc::__errno_location() != 0 {
            return 0;
        }
        nice
    }
}

/// The calling thread's time slice as the kernel reports it (`sched_getattr`'s
/// `sched_runtime`); `None` where the kernel keeps none or the call fails (for tests).
pub fn current_slice() -> Option<Duration> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_attr is plain data; the kernel fills at most `size` bytes of it.
        let mut attr: libc::sched_attr = unsafe { std::mem::zeroed() };
        // SAFETY: pid 0 is the calling thread; `attr` is valid for the size passed.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                0,
                &mut attr as *mut libc::sched_attr,
                std::mem::size_of::<libc::sched_attr>() as u32,
                0,
            )
        };
        if rc == 0 && attr.sched_runtime != 0 {
            return Some(Duration::from_nanos(attr.sched_runtime));
        }
    }
    None
}

/// Bytes of the alternate signal stack each strata thread gets. A fault handler that prints a
/// symbolized backtrace parses debug info, which needs far more than the usual 8 KiB.
const SIGNAL_STACK_BYTES: usize = 256 * 1024;

/// An alternate signal stack for the current thread, so a handler for a fault can run even when
/// the fault was a stack overflow. Unregistered and unmapped when dropped (at thread exit).
struct SignalStack {
    base: *mut libc::c_void,
    len: usize,
}

impl SignalStack {
    /// Maps a stack with a guard page below it and registers it for this thread. `None` (and
    /// no alternate stack) when mapping or registering fails: the thread still works, a fault
    /// on it is then reported by the host's handler alone.
    fn install() -> Option<SignalStack> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        let len = SIGNAL_STACK_BYTES + page;
        // SAFETY: an anonymous private mapping of `len` bytes; the result is checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let stack = SignalStack { base, len };
        // SAFETY: `base` starts a mapping of `len >= page` bytes owned by `stack`; the first
        // page becomes the guard that turns a handler's overflow into a fault, not corruption.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return None;
        }
        let ss = libc::stack_t {
            // SAFETY: `page < len`, so the pointer stays inside the mapping.
            ss_sp: unsafe { base.cast::<u8>().add(page) }.cast(),
            ss_flags: 0,
            ss_size: SIGNAL_STACK_BYTES,
        };
        // SAFETY: `ss` describes memory this thread owns until `stack` is dropped, and drop
        // unregisters it before unmapping.
        if unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } != 0 {
            return None;
        }
        Some(stack)
    }
}

impl Drop for SignalStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: unregisters this thread's alternate stack (we are not running on it: drop runs
        // at the end of the thread's function), then unmaps the mapping made in `install`.
        unsafe {
            libc::sigaltstack(&disable, std::ptr::null_mut());
            libc::munmap(self.base, self.len);
        }
    }
}

/// The current thread's alternate signal stack size, 0 when it has none (for tests).
pub fn signal_stack_size() -> usize {
    // SAFETY: a null new-stack only reads the current setting into `old`.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut old) != 0
            || old.ss_flags & libc::SS_DISABLE != 0
        {
            return 0;
        }
        old.ss_size
    }
}

/// The current thread's blocked-signal mask (for tests and diagnostics).
pub fn current_signal_mask() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; a null new-set only reads the current mask into `set`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
        set
    }
}

/// True when `sig` is blocked in `set`.
pub fn is_blocked(set: &libc::sigset_t, sig: libc::c_int) -> bool {
    // SAFETY: `set` is an initialized sigset_t.
    unsafe { libc::sigismember(set, sig) == 1 }
}

/// Receives a strata thread's next message, polling its empty inbox for `spin` before parking
/// (zero: parks at once): a message due within microseconds then costs no wake-up. `None` once
/// every sender is gone.
pub fn recv_spinning<T>(inbox: &Receiver<T>, spin: Duration) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < spin {
        for _ in 0..64 {
            match inbox.try_recv() {
                Ok(message) => return Some(message),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
    }
    inbox.recv().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_threads_block_async_signals_and_count() {
        let before = threads_spawned();
        let caller_mask = current_signal_mask();
        let handle = spawn("strata-test", Role::Background, || {
            let mask = current_signal_mask();
            for sig in [
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGPIPE,
                libc::SIGPROF,
                libc::SIGURG,
            ] {
                assert!(is_blocked(&mask, sig), "signal {sig} not blocked");
            }
            for sig in SYNCHRONOUS_SIGNALS {
                assert!(!is_blocked(&mask, sig), "fault signal {sig} blocked");
            }
            assert!(is_strata_thread());
            assert_eq!(signal_stack_size(), SIGNAL_STACK_BYTES);
        })
        .unwrap();
        handle.join().unwrap();
        assert!(threads_spawned() > before);
        // The spawning thread's mask is unchanged.
        let after = current_signal_mask();
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1] {
            assert_eq!(is_blocked(&caller_mask, sig), is_blocked(&after, sig));
        }
        assert!(!is_strata_thread());
    }

    /// The kernel's (major, minor) version, from uname.
    fn kernel_version() -> (u32, u32) {
        // SAFETY: utsname is plain data, filled by uname.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `uts` is valid for writing.
        assert_eq!(unsafe { libc::uname(&mut uts) }, 0);
        // SAFETY: uname NUL-terminates `release`.
        let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
        let mut parts = release
            .to_str()
            .unwrap()
            .split(|c: char| !c.is_ascii_digit());
        let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        (next(), next())
    }

    #[test]
    fn serving_threads_ask_for_a_short_slice_and_keep_their_nice_value() {
        if !cfg!(target_os = "linux") || kernel_version() < (6, 12) {
            eprintln!("skipped: per-task slices need Linux 6.12");
            return;
        }
        // Spawn from a thread niced to 3, as a process started with `nice` would be: the
        // serving thread keeps that value while its slice changes.
        let seen = std::thread::spawn(|| {
            // SAFETY: raises this test thread's own nice value, which needs no privilege.
            assert_eq!(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 3) }, 0);
            let probe = || {
                // SAFETY: reads the calling thread's nice value.
                let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                (current_slice(), nice)
            };
            let (tx, rx) = std::sync::mpsc::channel();
            for role in [Role::Serving, Role::Background] {
                let tx = tx.clone();
                spawn("strata-test", role, move || {
                    tx.send((role, probe())).unwrap()
                })
                .unwrap()
                .join()
                .unwrap();
            }
            drop(tx);
            rx.iter().collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (Role::Serving, (Some(SERVING_SLICE), 3)),
                (Role::Background, (current_slice_of_a_default_thread(), 3)),
            ]
        );
    }

    /// What the kernel reports for a thread that never asked for a slice.
    fn current_slice_of_a_default_thread() -> Option<Duration> {
        std::thread::spawn(current_slice).join().unwrap()
    }
}
