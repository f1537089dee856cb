#!/usr/bin/env bash
# Builds the Rust engine as a static archive, then the single strata binary that links it.
#
#   scripts/build.sh            target/release/libstrata.a and bin/strata
#   scripts/build.sh --checked  also target/checked/release/libstrata.a: the engine with the
#                               `poison` and `failpoints` features, linked by Go tests built
#                               with -tags strata_poison or -tags strata_failpoints
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p strata-ffi
if [ "${1:-}" = "--checked" ]; then
  cargo build --release -p strata-ffi --features poison,failpoints --target-dir target/checked
fi
. scripts/cgo-env.sh
mkdir -p bin
go build -o bin/strata ./cmd/strata
echo "built bin/strata"
