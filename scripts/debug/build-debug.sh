#!/usr/bin/env bash
# Builds strata for debugging, beside the release build and without touching it:
#
#   target/debug-build/debug/libstrata.a   Rust with full debug info, debug assertions and
#                                          overflow checks, not stripped (cargo's dev profile)
#   bin/strata-debug                       the CLI linked against it; Go built with -N -l (no
#                                          optimization, no inlining) so gdb sees every variable
#   target/debug-build/strata.test         the go/strata test binary, built the same way
#
# target/release/libstrata.a and bin/strata stay as scripts/build.sh made them.
#
# STRATA_DEBUG_OPT_LEVEL sets the Rust opt-level (default 1: close to release speed for real
# workloads, most variables still visible; 0 shows every variable but is several times slower).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target_dir=target/debug-build
archive=$root/$target_dir/debug/libstrata.a

CARGO_PROFILE_DEV_OPT_LEVEL=${STRATA_DEBUG_OPT_LEVEL:-1} \
CARGO_PROFILE_DEV_DEBUG=2 \
CARGO_PROFILE_DEV_DEBUG_ASSERTIONS=true \
CARGO_PROFILE_DEV_OVERFLOW_CHECKS=true \
CARGO_PROFILE_DEV_STRIP=none \
CARGO_PROFILE_DEV_PANIC=unwind \
    cargo build -p strata-ffi --target-dir "$target_dir"

# go/strata/link_source.go (-tags strata_source) links target/release/libstrata.a by a path in
# its #cgo line. A build overlay gives the Go build a copy of that file linking the debug archive instead; the
# source tree is not edited. The overlay directory starts with "_" so `go vet ./...` and
# `go test ./...` never take it for a package.
link_file=go/strata/link_source.go
overlay=$root/$target_dir/_go-overlay
mkdir -p "$overlay"
release_link='${SRCDIR}/../../target/release/libstrata.a'
if ! grep -qF "$release_link" "$link_file"; then
    echo "$link_file no longer links $release_link; update $0 to match" >&2
    exit 1
fi
sed "s|\${SRCDIR}/../../target/release/libstrata.a|$archive|" "$link_file" >"$overlay/link_source.go"
printf '{"Replace": {"%s": "%s"}}\n' "$root/$link_file" "$overlay/link_source.go" >"$overlay/overlay.json"

# As scripts/cgo-env.sh does for release: key Go's build cache to the archive's contents, so a
# rebuilt archive relinks. -O0: C frames of the cgo glue keep their variables too.
export CGO_CFLAGS="-g -O0 -DSTRATA_LIBRARY_ID=$(sha256sum "$archive" | cut -c1-16)-debug"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=strata_source"
mkdir -p bin
go build -overlay "$overlay/overlay.json" -gcflags='all=-N -l' -o bin/strata-debug ./cmd/strata
go test -c -overlay "$overlay/overlay.json" -gcflags='all=-N -l' -o "$target_dir/strata.test" ./go/strata
echo "built bin/strata-debug and $target_dir/strata.test against $archive"
