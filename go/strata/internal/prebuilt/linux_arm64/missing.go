//go:build !strata_source && !strata_poison && !strata_failpoints

package prebuilt

// This is a checkout of strata's main branch, where no prebuilt archive is committed. Either
// depend on a tagged release (go get github.com/strata-db/strata/go/strata@vX.Y.Z), or build
// the engine from source (scripts/build.sh, which needs Rust) and build with -tags
// strata_source. scripts/release.sh deletes this file in the release commits it makes.
var _ = strata_prebuilt_archive_missing_build_from_source_with_tag_strata_source
