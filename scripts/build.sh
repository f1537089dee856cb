#!/usr/bin/env bash
# Builds the Rust engine as a static archive, then the single strata binary that links it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p strata-ffi
. scripts/cgo-env.sh
mkdir -p bin
go build -o bin/strata ./cmd/strata
echo "built bin/strata"
