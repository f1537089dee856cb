//go:build !windows && !strata_source && !strata_poison && !strata_failpoints && !(linux && amd64) && !(linux && arm64) && !(darwin && amd64) && !(darwin && arm64)

package platform

// Releases carry prebuilt archives for linux/amd64, linux/arm64, darwin/amd64 and
// darwin/arm64 only. Elsewhere, build the engine from a checkout (scripts/build.sh, which
// needs Rust) and build with -tags strata_source.
var _ = strata_has_no_prebuilt_archive_for_this_platform_build_from_source_with_tag_strata_source
