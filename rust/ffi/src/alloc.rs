//! The counting global allocator: every byte Rust allocates inside strata is counted, so a
//! test (or a user watching `Stats`) can see live Rust memory return to its baseline once
//! everything is closed. Whoever allocates frees; this is how the rule is checked.
//!
//! With the `poison` cargo feature, every freed block is first filled with [`POISON`], so Go
//! code that kept reading a boundary buffer after strata freed it reads garbage that tests
//! detect, instead of stale data that happens to look right.
//!
//! The counters are process-wide atomics, updated with relaxed ordering: they are statistics,
//! never used to synchronize.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The byte freed memory is filled with under the `poison` feature.
pub const POISON: u8 = 0xDB;

/// The system allocator, counting.
pub struct CountingAllocator;

static LIVE_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// A reading of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Bytes currently allocated by Rust code in strata.
    pub live_bytes: u64,
    /// Blocks currently allocated.
    pub live_allocations: u64,
    /// Blocks allocated since the process started.
    pub allocations: u64,
}

/// Reads the counters.
pub fn counts() -> Counts {
    Counts {
        live_bytes: LIVE_BYTES.load(Ordering::Relaxed),
        live_allocations: LIVE_ALLOCATIONS.load(Ordering::Relaxed),
        allocations: ALLOCATIONS.load(Ordering::Relaxed),
    }
}

fn counted_alloc(size: usize) {
    LIVE_BYTES.fetch_add(size as u64, Ordering::Relaxed);
    LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
}

fn counted_free(size: usize) {
    LIVE_BYTES.fetch_sub(size as u64, Ordering::Relaxed);
    LIVE_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
}

/// Fills a block about to be freed with [`POISON`] (only with the `poison` feature).
#[inline(always)]
unsafe fn poison(ptr: *mut u8, size: usize) {
    if cfg!(feature = "poison") {
        // SAFETY: the caller passes a block of `size` bytes it still owns.
        unsafe { std::ptr::write_bytes(ptr, POISON, size) };
    }
}

/// Empties a buffer kept for reuse instead of freed, filling its whole capacity with
/// [`POISON`] first under the `poison` feature, as a free would: a reader of the old contents
/// sees garbage, not stale data.
pub fn poison_buffer(buf: &mut Vec<u8>) {
    if cfg!(feature = "poison") {
        buf.clear();
        buf.resize(buf.capacity(), POISON);
    }
    buf.clear();
}

// SAFETY: every method forwards to the system allocator with the caller's layout unchanged and
// only adds counter updates (and, with `poison`, a fill of memory the caller is freeing).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            counted_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            counted_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes the caller is freeing.
        unsafe {
            poison(ptr, layout.size());
            System.dealloc(ptr, layout);
        }
        counted_free(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if cfg!(feature = "poison") && new_size < layout.size() {
            // SAFETY: the tail past `new_size` is being given up by the caller.
            unsafe { poison(ptr.add(new_size), layout.size() - new_size) };
        }
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_is_counted_while_it_lives() {
        // Other tests allocate concurrently, so look for this block's own effect on the total.
        let before = counts().allocations;
        // black_box: an optimized build would otherwise drop the unused allocation.
        let block = std::hint::black_box(Box::new([7u8; 4096]));
        assert!(counts().allocations > before);
        assert!(counts().live_bytes >= 4096);
        drop(block);
    }
}
