package strata

// How Go talks to the Rust engine.
//
// strata's C ABI (rust/ffi/include/strata.h) is asynchronous: each C function copies its
// arguments, queues a request for the strata thread that owns the database (one per open
// database; a front thread opens them) and returns at once. Results come
// back as completions in a queue in Rust memory; an eventfd becomes readable when some wait.
// One poller goroutine (completion.go) reads that eventfd through Go's netpoller, drains
// completions in batches, copies result bytes into Go memory, and wakes the goroutines waiting
// for them. So a goroutine waiting on strata holds no OS thread, and there is no C->Go callback.
//
// The exception, for speed on busy machines: a lone caller (no other call in flight lately)
// waits inside its own cgo call, on a futex the database's thread wakes, for a point read
// (db.go, getWaiting: one call that also copies the value into Go memory), a durable write or
// a snapshot (completion.go, doWaiting: strata_expect, the submission, strata_wait). Under a
// context that can end, the call comes back every waitCheck (1 ms) to look at it, and a call
// whose context ended is abandoned (strata_abandon). That holds the goroutine's OS thread while
// it waits, and saves three of the four thread wake-ups of the queue path. opKind.waitable
// says which requests, and why the others do not.
//
// Every handle type (DB, Iterator, Snapshot) has the same shape: a 64-bit handle number (never
// a pointer: a stale handle fails with ErrClosed in Rust instead of touching freed memory), an
// idempotent Close, a cleanup registered with runtime.AddCleanup that closes the handle if the
// Go object is dropped unclosed, and runtime.KeepAlive after each C call that used it.
//
// Ownership across the boundary: Go passes pointers to its own byte slices only for the
// duration of a call (Rust copies them before returning; strata_db_get_wait also writes the
// value into one, on the calling thread, before returning); Rust's result buffers are copied
// into Go memory by the poller before the next drain frees or reuses them, or, handed over by
// strata_db_get_wait, copied and released with strata_value_free.

// Which libstrata.a is linked, and which strata.h compiled against, is chosen by build tag:
// by default the archive a release commit ships for the target platform
// (link_prebuilt_GOOS_GOARCH.go); with -tags strata_source the release build of this checkout
// (link_source.go); with -tags strata_poison or strata_failpoints the checked build, which
// poisons freed memory and has test failpoints (link_checked.go). The first Open compares the
// archive's build identity with this package's (identity.go, buildid.go) and refuses a mismatch.
//
// Each of those files names the system libraries after the archive (a static archive's
// undefined symbols are resolved only by libraries after it on the link line). They follow
// `rustc --print native-static-libs`, except that Linux links libgcc_eh (the unwinder,
// statically) where rustc says libgcc_s: a binary then needs no libgcc_s.so, and
// -ldflags '-extldflags -static' gives a fully static one.

/*
#include <stdlib.h>
#include "strata.h"
*/
import "C"

import (
	"unsafe"
)

// bytesArg returns a pointer and length for a Go byte slice passed into a C call. The pointer
// is valid for the call only; Rust copies what it keeps. An empty slice yields (nil, 0).
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// Version is the version of the linked strata engine.
func Version() string {
	return C.GoString(C.strata_version())
}

// BuildInfo says how the linked engine was built: the Rust compiler's version and the cargo
// features compiled in, for example "rustc 1.95.0 (59807616e 2026-04-14); features: none".
func BuildInfo() string {
	return C.GoString(C.strata_build_info())
}

// faultHandlerInstalled reports whether strata's fault handler is installed (see crash.rs in
// rust/ffi): after the first Open, unless STRATA_CRASH_HANDLER=0.
func faultHandlerInstalled() bool {
	return C.strata_crash_handler_installed() == 1
}
