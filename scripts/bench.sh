#!/usr/bin/env bash
# Benchmarks strata against its peers and writes the generated section of docs/benchmarks.md
# and docs/benchmarks-ratios.png:
#   1. builds libstrata.a and bin/strata (scripts/build.sh) and rust/bench;
#   2. rust/bench: strata's engine natively (and fjall, redb), every workload;
#   3. go/bench's peerbench: strata through its Go SDK, Pebble, Badger and bbolt, same workloads
#      and readwhilewriting (one writer among readers; Go only);
#   4. go/bench/bridge: micro-benchmarks of the cgo boundary;
#   5. go/bench's benchreport: tables, ratios, targets (met/missed), machine, versions, chart.
# Run it on quiet cores: anything else running moves the numbers. --quick is a smoke run.
# --busy also measures every peerbench row beside $(nproc) busy processes (docs/benchmarks.md,
# "Busy machine"); it roughly doubles the Go harness's time, so it is off by default.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: scripts/bench.sh [--keys N] [--quick] [--busy]
  --keys N   keys written by the fills, and reads, scans and mix operations derived from it
             (default 1000000; fillsync always writes --sync-ops keys, 20000)
  --quick    a smoke run: 50000 keys, 2000 fillsync writes, short bridge benchmarks
  --busy     measure every Go row again beside $(nproc) busy processes (peerbench --busy)
EOF
}

keys=1000000
sync_ops=20000
benchtime=1s
quick=0
busy=0
while [ $# -gt 0 ]; do
  case "$1" in
    --keys)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      keys="$2"
      shift 2
      ;;
    --quick)
      quick=1
      shift
      ;;
    --busy)
      busy=$(nproc)
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "unknown argument: $1" >&2
      usage >&2
      exit 2
      ;;
  esac
done
case "$keys" in
  '' | *[!0-9]*) echo "--keys needs a number, not '$keys'" >&2; exit 2 ;;
esac
if [ "$quick" = 1 ]; then
  keys=50000
  sync_ops=2000
  benchtime=2000x
fi

step() { printf '\n=== %s\n' "$*"; }
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS

step "build"
scripts/build.sh
. scripts/cgo-env.sh
(cd rust/bench && cargo build --release)

step "native: rust/bench, $keys keys"
rust/bench/target/release/strata-bench --keys "$keys" --sync-ops "$sync_ops" --json >"$work/native.jsonl"

step "go: peerbench, $keys keys"
(cd go/bench && go run ./cmd/peerbench --keys "$keys" --sync-ops "$sync_ops" --dir "$work/go" \
  --busy "$busy" --out "$work/go.json")

step "go: bridge benchmarks"
(cd go/bench && go test -count=1 -run '^$' -bench . -benchtime "$benchtime" ./bridge) | tee "$work/bridge.txt"

step "report"
commit=$(git rev-parse --short HEAD)
if ! git diff --quiet HEAD -- 2>/dev/null; then
  commit="$commit + uncommitted changes"
fi
command="scripts/bench.sh --keys $keys"
[ "$quick" = 1 ] && command="scripts/bench.sh --quick"
[ "$busy" != 0 ] && command="$command --busy"
(cd go/bench && go run ./cmd/benchreport --go "$work/go.json" --native "$work/native.jsonl" \
  --bridge "$work/bridge.txt" --doc "$root/docs/benchmarks.md" --chart "$root/docs/benchmarks-ratios.png" \
  --rust-version "$(rustc --version)" --commit "$commit" --command "$command")

echo "wrote docs/benchmarks.md (generated section) and docs/benchmarks-ratios.png in $((SECONDS - started)) s"
