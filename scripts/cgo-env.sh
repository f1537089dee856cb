# Sourced by build.sh and test.sh (and the other scripts that run go) after libstrata.a is built.
#
# Links the engine this checkout builds: the strata package links a release's prebuilt archive
# by default (go/strata/internal/prebuilt, empty on main), and target/release/libstrata.a with
# -tags strata_source. GOFLAGS carries the tag to every go command; a command that passes its
# own -tags replaces it, so such commands name strata_source themselves (the checked builds,
# -tags strata_poison or strata_failpoints, link target/checked and need no strata_source).
#
# cgo links libstrata.a by path, and Go's build cache does not look inside it: after a change
# to the Rust code alone, `go build` and `go test` would reuse binaries linked against the old
# archive. Keying the cgo flags to the archives' hash (the release one and, when built, the
# checked one) makes them rebuild and relink instead. (An archive and Go code from different
# builds are caught anyway, at the first Open: see go/strata/identity.go.)
strata_library_id=$(for archive in target/release/libstrata.a target/checked/release/libstrata.a; do
  if [ -f "$archive" ]; then sha256sum "$archive"; fi
done | sha256sum | cut -c1-16)
export CGO_CFLAGS="${STRATA_BASE_CGO_CFLAGS:--g -O2} -DSTRATA_LIBRARY_ID=$strata_library_id"
case " ${GOFLAGS:-} " in
  *" -tags=strata_source "*) ;;
  *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=strata_source" ;;
esac
