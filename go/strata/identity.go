package strata

// #include "strata.h"
import "C"

import "fmt"

// checkEngineIdentity compares the linked archive's build identity with this package's. Run
// once, before the runtime starts, so a stale or foreign archive never serves a request.
func checkEngineIdentity() error {
	return identityError(C.GoString(C.strata_build_id()), buildID)
}

// identityError is nil when the archive's identity equals the package's, and otherwise the
// error that says which build is which and what to do.
func identityError(archive, pkg string) error {
	if archive == pkg {
		return nil
	}
	return fmt.Errorf("%w: libstrata.a is build %q, the Go package expects %q. In a checkout "+
		"of strata, rebuild the engine with scripts/build.sh (go commands then relink it: see "+
		"scripts/cgo-env.sh); with -tags strata_source elsewhere, rebuild target/release/"+
		"libstrata.a from the same commit as the Go code and build with -a; with a release, "+
		"use one version of the module (go get github.com/strata-db/strata/go/strata@vX.Y.Z) "+
		"and do not mix in an archive of your own", ErrEngineMismatch, archive, pkg)
}
