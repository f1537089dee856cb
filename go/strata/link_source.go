//go:build strata_source && !strata_poison && !strata_failpoints

package strata

// The release build of the engine from this checkout (scripts/build.sh), for strata's own
// developers: -tags strata_source, which scripts/cgo-env.sh sets for every go command the
// scripts run.

// #cgo CFLAGS: -I${SRCDIR}/../../rust/ffi/include
// #cgo LDFLAGS: ${SRCDIR}/../../target/release/libstrata.a
// #cgo linux LDFLAGS: -lpthread -ldl -lm -lrt -lutil -lgcc_eh
// #cgo darwin LDFLAGS: -liconv -lSystem -lc -lm
import "C"
