// Package bridge measures the costs of crossing between Go and strata's engine: an empty cgo
// call, a call into the Rust archive, C -> Go callbacks, and a model of the two ways a thread
// Go did not create can hand results back (a completion queue with an eventfd read by Go's
// netpoller, which strata uses, and a per-operation C -> Go callback, which it does not),
// with and without spinning. The benchmarks are in bridge_test.go; scripts/bench.sh runs them.
//
// Measurement only: nothing in strata imports this package.
package bridge

/*
#cgo CFLAGS: -I${SRCDIR}/../../../rust/ffi/include
#cgo LDFLAGS: ${SRCDIR}/../../../target/release/libstrata.a -lpthread -ldl -lm -lrt -lutil -lgcc_s
#include "strata.h"
*/
import "C"

// RustVersion makes one cgo call into the Rust archive: strata_version, which only returns a
// static string (through the panic guard every export has).
func RustVersion() bool { return C.strata_version() != nil }
