# Sourced by build.sh and test.sh after libstrata.a is built.
#
# cgo links libstrata.a by path, and Go's build cache does not look inside it: after a change
# to the Rust code alone, `go build` and `go test` would reuse binaries linked against the old
# archive. Keying the cgo flags to the archives' hash (the release one and, when built, the
# checked one) makes them rebuild and relink instead.
strata_library_id=$(for archive in target/release/libstrata.a target/checked/release/libstrata.a; do
  if [ -f "$archive" ]; then sha256sum "$archive"; fi
done | sha256sum | cut -c1-16)
export CGO_CFLAGS="${STRATA_BASE_CGO_CFLAGS:--g -O2} -DSTRATA_LIBRARY_ID=$strata_library_id"
