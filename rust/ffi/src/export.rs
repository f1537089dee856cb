//! The one way in: every `extern "C"` function body runs inside [`guard`].
//!
//! A Rust panic must never unwind into C or Go (it would abort the whole Go process), so the
//! guard catches it, logs it, and returns `STRATA_ERR_INTERNAL` instead. `tests/exports.rs`
//! fails the build's tests for any `#[no_mangle]` function whose body is not one guard call
//! named after it (a wrapping macro would hide the exports from cbindgen, which does not expand
//! macros on stable Rust).

use std::panic::{catch_unwind, AssertUnwindSafe};

use strata_engine::error::panic_message;

use crate::abi::STRATA_ERR_INTERNAL;

/// Runs an export's body, turning a panic into `STRATA_ERR_INTERNAL`.
pub fn guard(name: &'static str, body: impl FnOnce() -> i32) -> i32 {
    guard_or(name, STRATA_ERR_INTERNAL, body)
}

/// Runs an export's body, returning `fallback` if it panics.
pub fn guard_or<T>(name: &'static str, fallback: T, body: impl FnOnce() -> T) -> T {
    // AssertUnwindSafe: exports only copy caller arguments and send a message; a panic leaves
    // no shared state half-updated that a later call could observe.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(code) => code,
        Err(payload) => {
            tracing::error!(export = name, panic = %panic_message(&*payload), "panic in export");
            fallback
        }
    }
}
