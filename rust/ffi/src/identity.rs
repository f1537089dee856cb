//! Which build of strata this archive is, for the Go package to compare before first use.
//!
//! The identity is `VERSION+hHASH`: the engine version (the Cargo workspace's, the one place
//! it is set) and the 64-bit FNV-1a hash of `include/strata.h`, computed by build.rs. The Go
//! package carries the same string (go/strata/buildid.go, generated and drift-checked by
//! tests/header.rs); an archive built from another version or another C contract than the Go
//! code that links it makes the first Open fail with a message that says how to rebuild,
//! instead of running with an engine the Go code was not written for.

use std::ffi::c_char;

use crate::export::guard_or;

/// The identity compiled into this archive, as Rust sees it.
pub const BUILD_ID: &str = env!("STRATA_BUILD_ID");

/// The build identity of this archive, a static NUL-terminated string "VERSION+hHASH" (HASH: 16
/// hex digits of the FNV-1a hash of strata.h). Code linking the archive compares it with the
/// identity of the strata.h it was compiled against and refuses to run on a mismatch.
/// Ownership: the string is static; never free it.
/// Threads: may be called from any thread.
#[no_mangle]
pub extern "C" fn strata_build_id() -> *const c_char {
    guard_or("strata_build_id", std::ptr::null(), || {
        concat!(env!("STRATA_BUILD_ID"), "\0").as_ptr().cast()
    })
}
