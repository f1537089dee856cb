#!/usr/bin/env bash
# Checks that builds which cannot link strata fail at compile time with one identifier that
# names the fix, and with nothing else (no list of undefined names, no gcc line):
#   - a checkout of main without -tags strata_source (no prebuilt archive is committed there)
#   - CGO_ENABLED=0
#   - Windows
#   - a platform no release ships an archive for
set -euo pipefail
cd "$(dirname "$0")/.."

failures=0
# expect IDENTIFIER PACKAGE [ENV...]: building PACKAGE with ENV fails naming IDENTIFIER only.
expect() {
  local ident=$1 pkg=$2
  shift 2
  local out
  if out=$(env GOFLAGS= "$@" go build -o /dev/null "$pkg" 2>&1); then
    echo "not ok - $* go build $pkg succeeded; want it to fail with $ident" >&2
    failures=$((failures + 1))
    return
  fi
  local other
  other=$(grep -v -e "^#" -e "undefined: $ident\$" <<<"$out" || true)
  if ! grep -q "undefined: $ident\$" <<<"$out" || [ -n "$other" ]; then
    echo "not ok - $* go build $pkg: want only 'undefined: $ident', got:" >&2
    sed 's/^/    /' <<<"$out" >&2
    failures=$((failures + 1))
    return
  fi
  echo "ok - $* go build $pkg: undefined: $ident"
}

if [ -f go/strata/internal/prebuilt/linux_amd64/missing.go ]; then
  expect strata_prebuilt_archive_missing_build_from_source_with_tag_strata_source ./cmd/strata \
    GOOS=linux GOARCH=amd64 CGO_ENABLED=1
fi
expect strata_requires_cgo_build_with_CGO_ENABLED_1_and_a_C_compiler ./cmd/strata CGO_ENABLED=0
expect strata_requires_cgo_build_with_CGO_ENABLED_1_and_a_C_compiler ./cmd/strata \
  CGO_ENABLED=0 GOFLAGS=-tags=strata_source
expect strata_does_not_support_windows_yet ./go/strata/internal/platform GOOS=windows CGO_ENABLED=1
expect strata_has_no_prebuilt_archive_for_this_platform_build_from_source_with_tag_strata_source \
  ./go/strata/internal/platform GOOS=linux GOARCH=riscv64 CGO_ENABLED=1
exit $((failures > 0))
