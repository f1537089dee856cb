//! Crash reports that show the Rust frames that faulted.
//!
//! When Rust code faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE) on a strata thread, the Go runtime's
//! handler would report "signal arrived during external code execution" and the goroutines'
//! stacks: nothing about the Rust code at fault. So strata installs its own handler, once, when
//! the runtime starts (after the Go runtime installed its own). The handler:
//!
//! - acts only for a fault the kernel raised on a strata thread: it writes the thread's name,
//!   the signal and the faulting address, then a symbolized backtrace of that thread, to stderr;
//! - then always hands the signal to the handler it displaced (the Go runtime's), with the same
//!   arguments, so the process still dies with Go's usual fatal report (and, under
//!   `GOTRACEBACK=crash`, a core dump whose faulting thread still holds its own stack: nothing
//!   has unwound it). On Go's own threads the handler only forwards, so a nil dereference in Go
//!   still becomes a recoverable panic.
//!
//! The handler runs on the thread's alternate signal stack (`SA_ONSTACK`; every strata thread
//! gets one, see `strata_engine::threads`), so even a stack overflow can be reported. Printing
//! a symbolized backtrace allocates, which is not async-signal-safe; the process is going down
//! anyway, and the header line is written before anything that could block.
//!
//! `STRATA_CRASH_HANDLER=0` in the environment leaves the Go runtime's handlers alone.

use std::ffi::c_void;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use strata_engine::threads;

/// The faults strata reports.
const FAULTS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// The handlers strata displaced, in the order of [`FAULTS`].
struct Displaced([libc::sigaction; FAULTS.len()]);

// SAFETY: written once before the handler is installed, then only read; the raw pointers in
// `sigaction` are function addresses, valid on every thread.
unsafe impl Sync for Displaced {}
// SAFETY: as above.
unsafe impl Send for Displaced {}

static DISPLACED: OnceLock<Displaced> = OnceLock::new();
static REPORTING: AtomicBool = AtomicBool::new(false);

/// Installs the fault handler (once per process; later calls do nothing). Returns false when
/// disabled by `STRATA_CRASH_HANDLER=0` or when the kernel refused.
pub fn install() -> bool {
    if std::env::var_os("STRATA_CRASH_HANDLER").is_some_and(|v| v == "0") {
        return false;
    }
    let mut installed = true;
    // The displaced handlers are stored before ours is installed, so the handler always finds
    // them.
    DISPLACED.get_or_init(|| {
        // SAFETY: sigaction is plain data; reading the current handlers has no side effects.
        let mut displaced: [libc::sigaction; FAULTS.len()] = unsafe { std::mem::zeroed() };
        for (sig, old) in FAULTS.iter().zip(displaced.iter_mut()) {
            // SAFETY: a null new action only reads the current one into `old`.
            unsafe { libc::sigaction(*sig, std::ptr::null(), old) };
        }
        Displaced(displaced)
    });
    for sig in FAULTS {
        // SAFETY: sigaction is plain data; every field is set below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
        // SAFETY: `action.sa_mask` is a valid sigset_t to clear; installing a handler whose
        // function has the SA_SIGINFO signature.
        let rc = unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        installed &= rc == 0;
    }
    installed
}

/// True when the fault handler in this module is the one installed for SIGSEGV.
pub fn is_installed() -> bool {
    // SAFETY: a null new action only reads the current one.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut current);
        current.sa_sigaction == on_fault as *const () as usize
    }
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let raised_by_kernel = !info.is_null() && unsafe { (*info).si_code } > 0;
    if raised_by_kernel && threads::is_strata_thread() && !REPORTING.swap(true, Ordering::SeqCst) {
        report(sig, info);
    }
    forward(sig, info, ctx);
}

/// Writes the report for a fault on this (strata) thread to stderr.
fn report(sig: libc::c_int, info: *mut libc::siginfo_t) {
    // SAFETY: `info` is the kernel's siginfo_t for a fault; si_addr is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let mut header = StackText::<256>::new();
    let thread = std::thread::current();
    let _ = write!(
        header,
        "\nstrata: fatal {} at address {addr:#x} on strata thread {:?}\n",
        signal_name(sig),
        thread.name().unwrap_or("?"),
    );
    write_stderr(header.as_bytes());
    if sig == libc::SIGBUS {
        write_stderr(
            b"strata: SIGBUS here is most likely a read of a memory-mapped table file that another \
program truncated, or whose disk failed to return a page (NoMmap in the options reads tables \
with pread instead, turning a failed read into an error)\n",
        );
    }
    write_stderr(b"strata: backtrace of the faulting thread (innermost first):\n");
    let trace = std::backtrace::Backtrace::force_capture();
    let mut out = StderrText;
    let _ = write!(out, "{trace}");
    write_stderr(
        b"strata: end of the Rust backtrace; the signal goes on to the Go runtime's handler.\n\n",
    );
}

/// Hands the signal to the handler strata displaced, exactly as the kernel would have.
fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let Some(i) = FAULTS.iter().position(|s| *s == sig) else {
        return;
    };
    let Some(displaced) = DISPLACED.get() else {
        return;
    };
    let previous = &displaced.0[i];
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // No one else handles it: restore the default action and return; the faulting
        // instruction runs again and the kernel ends the process (with a core if enabled).
        // SAFETY: resetting a signal's disposition to the default.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    }
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: an SA_SIGINFO handler has this signature; it receives the kernel's own
        // arguments, unchanged, on the same (signal) stack.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
            unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a handler without SA_SIGINFO takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV (segmentation violation)",
        libc::SIGBUS => "SIGBUS (bus error)",
        libc::SIGILL => "SIGILL (illegal instruction)",
        libc::SIGFPE => "SIGFPE (arithmetic exception)",
        _ => "signal",
    }
}

/// Writes to fd 2 directly: std's stderr lock may be held by the very thread that faulted.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writes from a valid buffer of `bytes.len()` bytes.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

struct StderrText;

impl std::fmt::Write for StderrText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        write_stderr(s.as_bytes());
        Ok(())
    }
}

/// Text formatted into a fixed buffer on the stack (no allocation); cut at `N` bytes.
struct StackText<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    fn new() -> Self {
        StackText {
            buf: [0; N],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> std::fmt::Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let take = s.len().min(N - self.len);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}
