#!/usr/bin/env bash
# Proves strata.h from C: builds libstrata.a, compiles ci/c/harness.c against it, and runs the
# harness plainly and then under valgrind.
#
# valgrind must report no memory errors and no definite or indirect leaks. strata's front thread
# and its global state live until process exit by design, so still-reachable and
# possibly-lost blocks (their thread stacks and TLS) are expected and not counted as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
    apt-get update
    apt-get install -y valgrind
fi

cargo build --release -p strata-ffi

# Link flags follow `rustc --print native-static-libs` for libstrata.a.
cc -std=c11 -Wall -Wextra -Werror -g -O1 \
    -I rust/ffi/include \
    ci/c/harness.c \
    target/release/libstrata.a \
    -lpthread -ldl -lm -lrt -lutil -lgcc_s \
    -o target/c-harness

echo "== c-harness"
target/c-harness

echo "== c-harness under valgrind"
valgrind \
    --leak-check=full \
    --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect \
    --error-exitcode=1 \
    target/c-harness
