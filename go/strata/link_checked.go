//go:build strata_poison || strata_failpoints

package strata

// The checked build of the engine (scripts/build.sh --checked: cargo features `poison` and
// `failpoints`). Every block Rust frees is first filled with 0xDB, so Go code that reads a
// boundary buffer after strata freed it sees garbage the tests detect; and tests built with
// -tags strata_failpoints can make the engine panic or fault on purpose (failpoint.go).

// #cgo CFLAGS: -DSTRATA_FAILPOINTS -I${SRCDIR}/../../rust/ffi/include
// #cgo LDFLAGS: ${SRCDIR}/../../target/checked/release/libstrata.a
// #cgo linux LDFLAGS: -lpthread -ldl -lm -lrt -lutil -lgcc_eh
// #cgo darwin LDFLAGS: -liconv -lSystem -lc -lm
import "C"
