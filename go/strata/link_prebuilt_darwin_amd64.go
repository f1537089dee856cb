//go:build !strata_source && !strata_poison && !strata_failpoints

package strata

// The engine as a release commit ships it for darwin/amd64 (see internal/prebuilt). On main,
// the imported package fails the build with an identifier that says what to do instead.

// #cgo CFLAGS: -I${SRCDIR}/internal/prebuilt/darwin_amd64
// #cgo LDFLAGS: ${SRCDIR}/internal/prebuilt/darwin_amd64/libstrata.a
// #cgo LDFLAGS: -liconv -lSystem -lc -lm
import "C"

import _ "github.com/strata-db/strata/go/strata/internal/prebuilt/darwin_amd64"
