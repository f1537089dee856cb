#!/usr/bin/env bash
# Builds bin/strata and runs its smoke check in a fresh temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
bin/strata smoke "$@"
