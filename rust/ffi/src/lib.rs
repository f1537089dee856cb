//! strata-ffi: the C ABI of strata (library name `strata`, header `include/strata.h`).
//!
//! The rule this crate exists to keep: nothing on a caller's thread touches engine state or a
//! thread-local. Every export in [`api`] validates its arguments, copies what it needs, sends one
//! message to the [`runtime`] thread that owns the database it names, and returns. Results come
//! back through the [`completion`] queue, which wakes the caller through an eventfd (a pipe on
//! macOS) instead of calling back into it, or, for a
//! lone caller, to a [`waiter`]: the caller's own thread, asleep on a futex in its call, which
//! the database's thread only wakes (the caller copies the answer out itself).
//! [`export`] is the one wrapper every export goes through; [`abi`] holds the `#[repr(C)]` types;
//! [`identity`] says which build this archive is, so Go can refuse a mismatched one.

pub mod abi;
pub mod alloc;
pub mod api;
pub mod completion;
pub mod crash;
pub mod export;
pub mod identity;
pub mod iterator;
pub mod logs;
pub mod runtime;
pub mod waiter;

/// Every Rust allocation in strata goes through the counting allocator (see [`alloc`]).
#[global_allocator]
static ALLOCATOR: alloc::CountingAllocator = alloc::CountingAllocator;

// The platforms strata's Rust code is written for. Elsewhere (Windows above all) a clear
// message instead of a list of missing libc items.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!(
    "strata_supports_only_linux_and_macos: the runtime waits on a futex (Linux) or __ulock \
     (macOS); Windows and other systems are not supported yet"
);
