#!/usr/bin/env bash
# Everything CI runs (.ci/run calls this). Installs what a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "toolchain"
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done
if ! command -v valgrind >/dev/null; then
  apt-get update -qq && apt-get install -y -qq valgrind
fi
cargo --version
go version

step "rust: format, lint"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The libraries alone, as released: without the `testing` feature tests turn on.
cargo clippy -p strata-engine -p strata-ffi -- -D warnings
cargo clippy -p strata-ffi --features poison,failpoints --all-targets --target-dir target/checked -- -D warnings

step "rust: tests (includes the strata.h drift check)"
cargo test --workspace

step "build: libstrata.a (release and checked) and bin/strata"
scripts/build.sh --checked
. scripts/cgo-env.sh

step "go: format, vet"
unformatted=$(gofmt -l go cmd internal)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags strata_failpoints ./go/strata

step "go: builds that cannot link strata fail at compile time, naming the fix"
ci/check-build-errors.sh

step "go: tests with -race"
go test -race -count=1 ./...

step "go: tests with GOEXPERIMENT=cgocheck2, linked to the engine that poisons freed memory"
GOEXPERIMENT=cgocheck2 go test -tags strata_poison -count=1 ./...

step "go: failpoints (panics, faults, SIGPIPE inside the engine)"
# Built with -c: `go test` strips symbols from the binaries it runs, and the fault test checks
# that the crash report names the Rust function that faulted.
go test -c -tags strata_failpoints -o target/checked/strata-failpoints.test ./go/strata
(cd go/strata && STRATA_REQUIRE_SYMBOLS=1 ../../target/checked/strata-failpoints.test \
  -test.count=1 -test.timeout=300s -test.run 'Panic|SIGPIPE|Fault|NilDereference')

step "go: raft log store, Prometheus collector, benchmark harness, release tools, replicated-kv example (modules of their own)"
unformatted=$(gofmt -l go/raftstore go/prometheus go/bench scripts/tools examples/replicated-kv)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
for module in go/raftstore go/prometheus go/bench scripts/tools examples/replicated-kv; do
  (cd "$module" && go vet ./... && go test -count=1 ./...)
done
# raft's own benchmark package against the store, once each: it must run as shipped.
(cd go/raftstore && go test -count=1 -run XXX -bench RaftBench -benchtime 1x ./...)

step "c: harness under valgrind"
scripts/c-harness.sh

step "binary: smoke, self-contained"
bin/strata smoke
ci/check-binary.sh

step "release: package this platform's archive as a release, then use it as a user would"
# scripts/release.sh --ci reuses target/release/libstrata.a; verify-release.sh serves the
# tagged commit as an offline module proxy and builds with no Rust on PATH.
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
scripts/release.sh --ci "$version"
scripts/verify-release.sh --ci "$version"
rm -rf target/release-ci

printf '\nall checks passed\n'
