// Package prebuilt carries the engine for linux/amd64: in a release commit of strata (the
// commits tagged vX.Y.Z that Go's module proxy serves), this directory also holds libstrata.a,
// the engine built for this platform, and strata.h, the C header it was built from. They sit
// beside this Go file, in a package the strata package imports, so that `go mod vendor`
// copies both. The strata package links them; this package has no code of its own.
//
// On the main branch the directory holds no archive (the repository keeps no binaries), and
// missing.go stops the build: build with -tags strata_source to link the archive
// scripts/build.sh builds, or use a tagged release.
package prebuilt
