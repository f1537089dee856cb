#!/usr/bin/env bash
# Checks that bin/strata is self-contained: it links only system C libraries, and a copy alone
# in an empty directory (no source tree, no libstrata.a beside it) still runs the smoke check.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "ldd bin/strata:"
ldd bin/strata | sed 's/^/  /'
allowed='^(linux-vdso\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so|libgcc_s\.so|/lib64/ld-linux|ld-linux)'
unexpected=$(ldd bin/strata | awk '{print $1}' | grep -Ev "$allowed" || true)
if [ -n "$unexpected" ]; then
  echo "bin/strata links libraries beyond the system C libraries: $unexpected" >&2
  exit 1
fi

alone=$(mktemp -d)
trap 'rm -rf "$alone"' EXIT
cp bin/strata "$alone/strata"
(cd "$alone" && ./strata version && ./strata smoke --dir "$alone/db")
echo "ok - bin/strata runs when copied alone"
