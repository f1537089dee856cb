// Package platform stops, at compile time, a build of strata that could not link or run, with
// an identifier that names the fix instead of a list of undefined names or a linker's error.
// The strata package imports it, so its failure is the first and only one a build reports.
//
// strata needs cgo (the engine is a C-ABI static archive) and a platform a prebuilt archive
// exists for: linux/amd64, linux/arm64, darwin/amd64, darwin/arm64. With -tags strata_source
// any Linux or macOS platform the Rust code builds for links target/release/libstrata.a.
// Windows is not supported yet.
package platform
