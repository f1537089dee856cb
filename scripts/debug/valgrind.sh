#!/usr/bin/env bash
# Runs strata under valgrind's memcheck, built the way memcheck can follow it.
#
#   scripts/debug/valgrind.sh c-harness                 # ci/c/harness.c against libstrata.a
#   scripts/debug/valgrind.sh go-test [TEST FLAGS...]   # go/strata tests, e.g. -test.run TestPutGetDelete
#   scripts/debug/valgrind.sh cli [ARGS...]             # the strata CLI, e.g. smoke
#   scripts/debug/valgrind.sh -- COMMAND [ARGS...]      # anything, with the flags below
#
# --debug before the mode links the debug archive of scripts/debug/build-debug.sh (run it first)
# instead of target/release/libstrata.a: debug assertions on, and every Rust frame has a line.
#
# What works and what does not (valgrind 3.19, Go 1.26):
# - C harness: exact. No memory errors, no definite or indirect leaks is the bar (CI runs the
#   same through scripts/c-harness.sh). strata's front thread and its global state
#   live until exit by design, so still-reachable and possibly-lost blocks are expected.
# - Go binaries: memcheck does not know Go's allocator or its goroutine stacks. A plain build
#   reports hundreds of false errors ("Invalid write of size 8" in runtime.asyncPreempt,
#   "Conditional jump ... uninitialised" in runtime.adjustframe) and is useless. Built with
#   -tags valgrind (Go's runtime then describes its heap and stacks to valgrind), with async
#   preemption off (GODEBUG=asyncpreemptoff=1: its register spill trips memcheck) and DWARF 4
#   (valgrind 3.19 cannot read Go's default DWARF 5, nor gcc 12's), a go/strata test run shows no
#   errors: what memcheck then reports in strata's Rust or C code is real. Leak checking stays
#   off for Go: Go's heap objects would all be reported lost. Rust-side leaks are what the C
#   harness and the Go tests' live-allocation counters check.
# - -race builds do not run under valgrind; neither do GOEXPERIMENT=cgocheck2 builds usefully.
# - Everything is 20-50x slower: pick tests with -test.run.
#
# Exit status: valgrind's (1 when memcheck found errors), else the program's.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if ! command -v valgrind >/dev/null; then
    echo "valgrind.sh: valgrind is not installed (apt-get install -y valgrind)" >&2
    exit 127
fi

archive=$root/target/release/libstrata.a
overlay=()
if [ "${1:-}" = "--debug" ]; then
    shift
    archive=$root/target/debug-build/debug/libstrata.a
    overlay=(-overlay "$root/target/debug-build/_go-overlay/overlay.json")
    if [ ! -f "$archive" ] || [ ! -f "$root/target/debug-build/_go-overlay/overlay.json" ]; then
        echo "valgrind.sh: no debug build; run scripts/debug/build-debug.sh first" >&2
        exit 1
    fi
elif [ ! -f "$archive" ]; then
    cargo build --release -p strata-ffi
fi

memcheck=(valgrind --error-exitcode=1 --num-callers=40)
out=$root/target/valgrind
mkdir -p "$out"

# build_go PACKAGE OUTPUT [go test -c]: a Go binary memcheck can follow (see above).
build_go() {
    local pkg=$1 output=$2
    shift 2
    CGO_CFLAGS="-g -O1 -gdwarf-4 -DSTRATA_LIBRARY_ID=$(sha256sum "$archive" | cut -c1-16)-valgrind" \
    GOEXPERIMENT=nodwarf5 \
        go "$@" -tags valgrind,strata_source "${overlay[@]}" -o "$output" "$pkg"
}

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
c-harness)
    # Link flags as in scripts/c-harness.sh.
    cc -std=c11 -Wall -Wextra -Werror -g -O1 -I rust/ffi/include ci/c/harness.c "$archive" \
        -lpthread -ldl -lm -lrt -lutil -lgcc_s -o "$out/c-harness"
    exec "${memcheck[@]}" --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect --track-origins=yes "$out/c-harness" "$@"
    ;;
go-test)
    build_go ./go/strata "$out/strata.test" test -c
    # The tests open databases in temporary directories, wherever they run.
    GODEBUG=asyncpreemptoff=1 exec "${memcheck[@]}" --leak-check=no "$out/strata.test" -test.count=1 "$@"
    ;;
cli)
    build_go ./cmd/strata "$out/strata" build
    GODEBUG=asyncpreemptoff=1 exec "${memcheck[@]}" --leak-check=no "$out/strata" "$@"
    ;;
--)
    GODEBUG=asyncpreemptoff=1 exec "${memcheck[@]}" "$@"
    ;;
*)
    echo "usage: $0 [--debug] c-harness | go-test [TEST FLAGS...] | cli [ARGS...] | -- COMMAND [ARGS...]" >&2
    exit 2
    ;;
esac
