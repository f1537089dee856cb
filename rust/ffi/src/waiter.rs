//! Waiters: a caller that blocks in its own call for one result, instead of collecting it from
//! the completion queue.
//!
//! Through the queue a result crosses four thread wake-ups (strata thread, eventfd, Go's
//! netpoller and poller goroutine, the waiting goroutine); on a machine whose cores are all
//! busy, each waits for a time slice. A waiter crosses at most two: the strata thread wakes
//! the caller's own thread, which slept on a futex in this call (or spun briefly and never
//! slept). The strata thread only stores the result and wakes; the caller's thread copies it
//! out, so the strata thread never touches the caller's memory.
//!
//! The futex word: 0 while the result is due, 1 once it is in, 2 while the caller sleeps on
//! it. The strata thread swaps in 1 and wakes only when it took a 2, so a caller that is still
//! spinning costs no system call. Another thread may interrupt a wait (the caller's context
//! ended): a flag and a wake-up, after which the caller gives the token back to the queue.
//!
//! Waiters are pooled while a database is open, so a steady stream of reads allocates none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::completion::Completion;

const DUE: u32 = 0;
const IN: u32 = 1;
const SLEEPING: u32 = 2;

/// One result on its way to a blocked caller.
pub struct Waiter {
    word: AtomicU32,
    result: Mutex<Option<Completion>>,
    /// Set by [`Waiter::interrupt`] (the caller's context ended); cleared by the wait it ends.
    interrupted: AtomicBool,
}

impl Default for Waiter {
    fn default() -> Self {
        Waiter {
            word: AtomicU32::new(DUE),
            result: Mutex::new(None),
            interrupted: AtomicBool::new(false),
        }
    }
}

impl Waiter {
    /// Hands `result` to the caller and wakes it if it sleeps. Called once, by the runtime.
    pub fn deliver(&self, result: Completion) {
        *lock(&self.result) = Some(result);
        if self.word.swap(IN, Ordering::AcqRel) == SLEEPING {
            futex_wake(&self.word);
        }
    }

    /// Waits for the result: spins up to `spin`, then sleeps until it is delivered, or until
    /// [`Waiter::interrupt`] ends the wait, or `limit` (from the start) passes: `None` then,
    /// and the result may still come later (the waiter can be waited on again).
    pub fn wait(&self, spin: Duration, limit: Option<Duration>) -> Option<Completion> {
        let start = Instant::now();
        let until = limit.map(|l| start + l);
        let deadline = start + spin;
        while self.word.load(Ordering::Acquire) == DUE
            && !self.interrupted.load(Ordering::Acquire)
            && Instant::now() < deadline
        {
            std::hint::spin_loop();
        }
        if self
            .word
            .compare_exchange(DUE, SLEEPING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            while self.word.load(Ordering::Acquire) == SLEEPING {
                let left = until.map(|u| u.saturating_duration_since(Instant::now()));
                let give_up =
                    self.interrupted.swap(false, Ordering::AcqRel) || left == Some(Duration::ZERO);
                if give_up
                    && self
                        .word
                        .compare_exchange(SLEEPING, DUE, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    return None;
                }
                futex_wait(&self.word, SLEEPING, left);
            }
        }
        self.take()
    }

    /// The delivered result, if it came.
    fn take(&self) -> Option<Completion> {
        if self.word.load(Ordering::Acquire) != IN {
            return None;
        }
        lock(&self.result).take()
    }

    /// Ends a wait on this waiter (now, or the next one to start) without its result.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
        futex_wake(&self.word);
    }
}

/// Waiters kept for reuse while a database is open (a read allocates nothing in steady
/// state), none while none is, like the completion queue's buffers: an idle process holds none.
struct Pool {
    on: bool,
    waiters: Vec<Arc<Waiter>>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    on: false,
    waiters: Vec::new(),
});

/// Waiters kept at most.
const POOLED: usize = 64;

impl Waiter {
    /// A waiter ready for a new result: a pooled one when there is one.
    pub fn pooled() -> Arc<Waiter> {
        lock(&POOL).waiters.pop().unwrap_or_default()
    }

    /// Gives `waiter` back for reuse once its result was taken and no one else holds it.
    pub fn recycle(waiter: Arc<Waiter>) {
        if Arc::strong_count(&waiter) != 1 {
            return; // the strata thread still drops its clone: let it be freed
        }
        waiter.word.store(DUE, Ordering::Release);
        waiter.interrupted.store(false, Ordering::Release);
        *lock(&waiter.result) = None;
        let mut pool = lock(&POOL);
        if pool.on && pool.waiters.len() < POOLED {
            pool.waiters.push(waiter);
        }
    }

    /// Turns reuse on (a database is open) or off (none is); off frees the pooled waiters.
    pub fn set_pooling(on: bool) {
        let mut pool = lock(&POOL);
        pool.on = on;
        if !on {
            pool.waiters = Vec::new();
        }
    }
}

/// Results some caller will wait for in its own call, by token: registered before the request
/// is submitted ([`Expected::expect`]), taken out of the group's completions by the runtime
/// thread ([`Expected::route`]) and delivered to the waiter instead of the queue. The caller
/// removes its entry once it has the result ([`Expected::wait`]), since the result may well
/// come in before the caller starts waiting, or gives up on it ([`Expected::abandon`]) after
/// [`Expected::interrupt`] ended its wait.
#[derive(Default)]
pub struct Expected {
    waiters: Mutex<HashMap<u64, Arc<Waiter>>>,
    /// How many are registered: the strata thread skips the lock while none is.
    count: AtomicUsize,
}

impl Expected {
    /// Registers a caller that will wait for `token`'s result. False if one already is.
    pub fn expect(&self, token: u64) -> bool {
        let mut waiters = lock(&self.waiters);
        if waiters.contains_key(&token) {
            return false;
        }
        waiters.insert(token, Waiter::pooled());
        self.count.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Registers `waiter`, which a request carries itself, under `token`, so that a wait on it
    /// can be resumed ([`Expected::wait`]), interrupted or abandoned by token. False if `token`
    /// is registered already.
    pub fn watch(&self, token: u64, waiter: &Arc<Waiter>) -> bool {
        let mut waiters = lock(&self.waiters);
        if waiters.contains_key(&token) {
            return false;
        }
        waiters.insert(token, Arc::clone(waiter));
        self.count.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Forgets `token` (its submission failed, so no result will come).
    pub fn forget(&self, token: u64) {
        if lock(&self.waiters).remove(&token).is_some() {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// The waiter registered for `token`.
    fn get(&self, token: u64) -> Option<Arc<Waiter>> {
        lock(&self.waiters).get(&token).cloned()
    }

    /// Waits for `token`'s result (see [`Waiter::wait`]) and then forgets the token; a wait
    /// interrupted or past `limit` keeps it.
    pub fn wait(&self, token: u64, spin: Duration, limit: Option<Duration>) -> Waited {
        let Some(waiter) = self.get(token) else {
            return Waited::Unknown;
        };
        match waiter.wait(spin, limit) {
            Some(result) => {
                self.forget(token);
                Waiter::recycle(waiter);
                Waited::Done(result)
            }
            None => Waited::Interrupted,
        }
    }

    /// Interrupts the wait for `token`, if one is announced.
    pub fn interrupt(&self, token: u64) {
        if let Some(waiter) = self.get(token) {
            waiter.interrupt();
        }
    }

    /// Gives up on `token`: its result if it came already, else `None`, and then its result
    /// goes to the completion queue like any other (the lock [`Expected::route`] holds makes
    /// the two exclusive).
    pub fn abandon(&self, token: u64) -> Option<Completion> {
        let mut waiters = lock(&self.waiters);
        let waiter = waiters.remove(&token)?;
        self.count.fetch_sub(1, Ordering::AcqRel);
        drop(waiters);
        waiter.take()
    }

    /// Delivers to their waiters the completions of `batch` someone waits for, leaving the
    /// rest for the queue. Called by the strata thread before it publishes a group.
    pub fn route(&self, batch: &mut Vec<Completion>) {
        if self.count.load(Ordering::Acquire) == 0 || batch.is_empty() {
            return;
        }
        let waiters = lock(&self.waiters);
        let mut i = 0;
        while i < batch.len() {
            match waiters.get(&batch[i].token) {
                // In place, keeping the order of the rest (a group is small).
                Some(waiter) => waiter.deliver(batch.remove(i)),
                None => i += 1,
            }
        }
    }
}

/// How [`Expected::wait`] ended.
pub enum Waited {
    Done(Completion),
    Interrupted,
    /// The token was never announced (or was abandoned).
    Unknown,
}

#[cfg(target_os = "linux")]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the u32 at the address of a live atomic and sleeps while it
    // holds `expected`, at most for the relative timeout `ts_ptr` points to (NULL: none),
    // which lives on this stack frame. A spurious or timed-out return is handled by the
    // caller's loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
        );
    }
}

#[cfg(target_os = "linux")]
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on the address of a live atomic wakes at most one sleeper.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

// macOS has no futex syscall; libSystem's __ulock_wait/__ulock_wake are the same primitive
// (compare a 32-bit word and sleep, wake one sleeper), the ones the C++ runtime's atomic wait
// is built on. Their timeout is in microseconds, 0 meaning none.
#[cfg(target_os = "macos")]
const UL_COMPARE_AND_WAIT: u32 = 1;
#[cfg(target_os = "macos")]
const ULF_NO_ERRNO: u32 = 0x0100_0000;

#[cfg(target_os = "macos")]
extern "C" {
    fn __ulock_wait(operation: u32, addr: *mut libc::c_void, value: u64, timeout_us: u32) -> i32;
    fn __ulock_wake(operation: u32, addr: *mut libc::c_void, wake_value: u64) -> i32;
}

#[cfg(target_os = "macos")]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    // At least 1 us, so a short timeout never becomes 0 (no timeout).
    let timeout_us = timeout.map_or(0, |t| t.as_micros().clamp(1, u128::from(u32::MAX)) as u32);
    // SAFETY: reads the u32 at the address of a live atomic and sleeps while it holds
    // `expected`, at most `timeout_us`. A spurious, interrupted or timed-out return is handled
    // by the caller's loop.
    unsafe {
        __ulock_wait(
            UL_COMPARE_AND_WAIT | ULF_NO_ERRNO,
            word.as_ptr().cast(),
            u64::from(expected),
            timeout_us,
        );
    }
}

#[cfg(target_os = "macos")]
fn futex_wake(word: &AtomicU32) {
    // SAFETY: wakes at most one thread sleeping on the address of a live atomic.
    unsafe {
        __ulock_wake(UL_COMPARE_AND_WAIT | ULF_NO_ERRNO, word.as_ptr().cast(), 0);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleeping_and_a_spinning_caller_both_get_their_result() {
        for spin in [Duration::ZERO, Duration::from_millis(50)] {
            for _ in 0..200 {
                let w = Arc::new(Waiter::default());
                let runtime = {
                    let w = Arc::clone(&w);
                    std::thread::spawn(move || w.deliver(Completion::ok(7, vec![1, 2, 3])))
                };
                let got = w.wait(spin, None).unwrap();
                runtime.join().unwrap();
                assert_eq!((got.token, got.data), (7, vec![1, 2, 3]));
            }
        }
    }

    #[test]
    fn an_interrupted_wait_ends_and_the_token_can_be_abandoned_or_waited_again() {
        let expected = Expected::default();
        assert!(expected.expect(5));
        // Interrupted before it starts (nothing will complete): the wait ends at once.
        expected.interrupt(5);
        assert!(matches!(
            expected.wait(5, Duration::ZERO, None),
            Waited::Interrupted
        ));
        // A wait with a limit ends when it passes, and the token stays announced.
        assert!(matches!(
            expected.wait(5, Duration::ZERO, Some(Duration::from_millis(1))),
            Waited::Interrupted
        ));
        // Still announced: a result routed now is waited for and taken.
        let mut batch = vec![Completion::ok(4, Vec::new()), Completion::ok(5, vec![9])];
        expected.route(&mut batch);
        assert_eq!(
            batch.len(),
            1,
            "token 4 is nobody's: it stays for the queue"
        );
        match expected.wait(5, Duration::ZERO, Some(Duration::from_millis(1))) {
            Waited::Done(c) => assert_eq!(c.data, vec![9]),
            _ => panic!("the routed result was not waited for"),
        }
        assert!(matches!(
            expected.wait(5, Duration::ZERO, None),
            Waited::Unknown
        ));
        // Abandoned before its result: nothing to take, and later results pass to the queue.
        assert!(expected.expect(6));
        assert!(expected.abandon(6).is_none());
        let mut batch = vec![Completion::ok(6, Vec::new())];
        expected.route(&mut batch);
        assert_eq!(batch.len(), 1);
        // Abandoned after its result came: the result is handed back.
        assert!(expected.expect(7));
        expected.route(&mut vec![Completion::ok(7, vec![1])]);
        assert_eq!(expected.abandon(7).map(|c| c.data), Some(vec![1]));
    }
}
