//go:build !strata_poison && !strata_failpoints

package strata

// The release build of the engine (scripts/build.sh).

// #cgo LDFLAGS: ${SRCDIR}/../../target/release/libstrata.a
import "C"
