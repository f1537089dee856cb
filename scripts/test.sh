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

step "rust: tests (includes the strata.h drift check)"
cargo test --workspace

step "build: libstrata.a and bin/strata"
scripts/build.sh
. scripts/cgo-env.sh

step "go: format, vet"
unformatted=$(gofmt -l go cmd)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...

step "go: tests with -race"
go test -race -count=1 ./...

step "go: tests with GOEXPERIMENT=cgocheck2"
GOEXPERIMENT=cgocheck2 go test -count=1 ./...

step "go: raft log store and Prometheus collector (modules of their own)"
unformatted=$(gofmt -l go/raftstore go/prometheus)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
for module in go/raftstore go/prometheus; do
  (cd "$module" && go vet ./... && go test -count=1 ./...)
done

step "c: harness under valgrind"
scripts/c-harness.sh

step "binary: smoke, self-contained"
bin/strata smoke
ci/check-binary.sh

printf '\nall checks passed\n'
