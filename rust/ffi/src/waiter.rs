//! Waiters: a caller that blocks in its own call for one result, instead of collecting it from
//! the completion queue.
//!
//! Through the queue a result crosses four thread wake-ups (runtime thread, eventfd, Go's
//! netpoller and poller goroutine, the waiting goroutine); on a machine whose cores are all
//! busy, each waits for a time slice. A waiter crosses at most two: the runtime thread wakes
//! the caller's own thread, which slept on a futex in this call (or spun briefly and never
//! slept). The runtime thread only stores the result and wakes; the caller's thread copies it
//! out, so the runtime thread never touches the caller's memory.
//!
//! The futex word: 0 while the result is due, 1 once it is in, 2 while the caller sleeps on
//! it. The runtime thread swaps in 1 and wakes only when it took a 2, so a caller that is still
//! spinning costs no system call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
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
}

impl Default for Waiter {
    fn default() -> Self {
        Waiter {
            word: AtomicU32::new(DUE),
            result: Mutex::new(None),
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

    /// Waits for the result: spins up to `spin`, then sleeps until it is delivered.
    pub fn wait(&self, spin: Duration) -> Completion {
        let deadline = Instant::now() + spin;
        while self.word.load(Ordering::Acquire) == DUE && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        if self
            .word
            .compare_exchange(DUE, SLEEPING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            while self.word.load(Ordering::Acquire) == SLEEPING {
                futex_wait(&self.word, SLEEPING);
            }
        }
        lock(&self.result)
            .take()
            .expect("a waiter is woken only after its result is stored")
    }
}

/// Results some caller will wait for in its own call, by token: registered before the request
/// is submitted ([`Expected::expect`]), taken out of the group's completions by the runtime
/// thread ([`Expected::route`]) and delivered to the waiter instead of the queue. The caller
/// removes its entry once it has the result ([`Expected::take`]): the result may well come in
/// before the caller starts waiting.
#[derive(Default)]
pub struct Expected {
    waiters: Mutex<HashMap<u64, Arc<Waiter>>>,
    /// How many are registered: the runtime thread skips the lock while none is.
    count: AtomicUsize,
}

impl Expected {
    /// Registers a caller that will wait for `token`'s result. False if one already is.
    pub fn expect(&self, token: u64) -> bool {
        let mut waiters = lock(&self.waiters);
        if waiters.contains_key(&token) {
            return false;
        }
        waiters.insert(token, Arc::new(Waiter::default()));
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

    /// Waits for `token`'s result (see [`Waiter::wait`]) and forgets the token. `None` when
    /// `token` was never announced.
    pub fn take(&self, token: u64, spin: Duration) -> Option<Completion> {
        let waiter = self.get(token)?;
        let result = waiter.wait(spin);
        self.forget(token);
        Some(result)
    }

    /// Delivers to their waiters the completions of `batch` someone waits for, leaving the
    /// rest for the queue. Called by the runtime thread before it publishes a group.
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

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT reads the u32 at the address of a live atomic and sleeps while it
    // holds `expected`; no timeout, no other memory. A spurious return is handled by the
    // caller's loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_sleeping_and_a_spinning_caller_both_get_their_result() {
        for spin in [Duration::ZERO, Duration::from_millis(50)] {
            for _ in 0..200 {
                let w = Arc::new(Waiter::default());
                let runtime = {
                    let w = Arc::clone(&w);
                    std::thread::spawn(move || w.deliver(Completion::ok(7, vec![1, 2, 3])))
                };
                let got = w.wait(spin);
                runtime.join().unwrap();
                assert_eq!((got.token, got.data), (7, vec![1, 2, 3]));
            }
        }
    }
}
