#!/usr/bin/env bash
# Makes release VERSION of strata: a tagged commit that carries the prebuilt engine for every
# platform this machine can build, made in a throwaway clone (never on main, never pushed).
#
#   scripts/release.sh 0.1.0         every platform whose Rust target is installed
#   scripts/release.sh --ci 0.1.0    linux/amd64 only, from target/release/libstrata.a when the
#                                    Rust sources are committed (scripts/test.sh's rehearsal)
#
# Steps, per platform (Rust target -> Go's GOOS_GOARCH):
#   cargo build --release --locked --target T, with --remap-path-prefix so no path of this
#   machine is inside; the shipped archive keeps its symbols (crash reports and debuggers name
#   functions) and loses its debug info (objcopy --strip-debug), which stays in the archive as
#   built, kept beside the release. Not objcopy --only-keep-debug: the debug info of a static
#   archive cannot be applied to a binary linked from it, but the archive as built, linked in
#   place of the shipped one, gives the same code with line tables (docs/releasing.md:
#   symbolizing a crash). The archive and strata.h go into go/strata/internal/prebuilt/
#   GOOS_GOARCH, whose missing.go is deleted.
# Then SHA256SUMS, a commit "Release vVERSION" and the tag vVERSION, in the clone.
#
# Output, in target/release-VERSION/ (target/release-ci/ with --ci):
#   repo/          the clone holding the release commit and the tag; publish with
#                  git -C target/release-VERSION/repo push origin vVERSION
#   debug/         libstrata-GOOS_GOARCH.debug.a: each shipped archive as built, with its
#                  debug info (docs/releasing.md: symbolizing a crash)
#   SHA256SUMS     of every shipped archive, header and debug file
#   sizes.txt      archive sizes before and after stripping
#   platforms.txt  which platforms were built, and why any was skipped
#
# VERSION must equal the Cargo workspace version (Cargo.toml, the one place it is set; the Go
# package's copy is generated from it) and have a section in CHANGELOG.md. The release is made
# from the committed HEAD; uncommitted changes are not in it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ci=false
if [ "${1:-}" = "--ci" ]; then
  ci=true
  shift
fi
if [ $# -ne 1 ]; then
  echo "usage: scripts/release.sh [--ci] VERSION" >&2
  exit 2
fi
version=${1#v}
tag=v$version

workspace_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
if [ "$version" != "$workspace_version" ]; then
  echo "release.sh: VERSION $version is not the Cargo workspace version $workspace_version; set" \
    "[workspace.package] version in Cargo.toml, regenerate (STRATA_UPDATE_HEADER=1 cargo test" \
    "-p strata-ffi --test header), add a CHANGELOG.md section and commit first" >&2
  exit 1
fi
if ! grep -q "^## \[$version\]" CHANGELOG.md; then
  echo "release.sh: CHANGELOG.md has no section '## [$version]'" >&2
  exit 1
fi

if $ci; then out=$root/target/release-ci; else out=$root/target/release-$version; fi
rm -rf "$out"
mkdir -p "$out/debug"
git clone -q --no-hardlinks "$root" "$out/repo"
repo=$out/repo
if git -C "$repo" rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
  echo "release.sh: $tag already exists" >&2
  exit 1
fi

# Rust target -> Go platform.
declare -A platforms=(
  [x86_64-unknown-linux-gnu]=linux_amd64
  [aarch64-unknown-linux-gnu]=linux_arm64
  [x86_64-apple-darwin]=darwin_amd64
  [aarch64-apple-darwin]=darwin_arm64
)
host_target=$(rustc -vV | sed -n 's/^host: //p')
installed=$(rustup target list --installed 2>/dev/null || echo "$host_target")
: >"$out/platforms.txt"
: >"$out/sizes.txt"

# strip_tool TARGET: an objcopy that reads TARGET's archives. The Rust toolchain's llvm-objcopy
# (rustup component add llvm-tools) reads ELF and Mach-O for every architecture; without it,
# GNU objcopy does the host's.
strip_tool() {
  local llvm
  llvm=$(rustc --print sysroot)/lib/rustlib/$host_target/bin/llvm-objcopy
  if [ -x "$llvm" ]; then
    echo "$llvm"
  elif [ "$1" = "$host_target" ]; then
    command -v objcopy
  fi
}

# package TARGET ARCHIVE: strips ARCHIVE into the release tree and keeps its debug info.
package() {
  local target=$1 archive=$2 platform=${platforms[$1]}
  local dir=$repo/go/strata/internal/prebuilt/$platform objcopy
  objcopy=$(strip_tool "$target")
  if [ -z "$objcopy" ]; then
    echo "$platform: skipped: no objcopy reads $target archives (rustup component add llvm-tools)" |
      tee -a "$out/platforms.txt"
    return
  fi
  cp "$archive" "$out/debug/libstrata-$platform.debug.a"
  "$objcopy" --strip-debug "$archive" "$dir/libstrata.a"
  cp "$repo/rust/ffi/include/strata.h" "$dir/strata.h"
  git -C "$repo" rm -q "go/strata/internal/prebuilt/$platform/missing.go"
  printf '%s  %s bytes as built (debug/), %s bytes shipped (stripped)\n' "$platform" \
    "$(stat -c %s "$archive")" "$(stat -c %s "$dir/libstrata.a")" | tee -a "$out/sizes.txt"
  echo "$platform: built for $target" | tee -a "$out/platforms.txt"
}

# Reuses the development archive only if it was built from what HEAD holds.
reusable() {
  [ -f target/release/libstrata.a ] &&
    git diff --quiet HEAD -- rust Cargo.toml Cargo.lock &&
    [ -z "$(git ls-files --others --exclude-standard -- rust)" ]
}

for target in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin; do
  platform=${platforms[$target]}
  if $ci; then
    if [ "$target" != "$host_target" ]; then
      echo "$platform: skipped: --ci packages the host platform only" | tee -a "$out/platforms.txt"
      continue
    fi
    if reusable; then
      echo "$platform: reusing target/release/libstrata.a (built from HEAD's Rust sources; its paths are not remapped)"
      package "$target" target/release/libstrata.a
      continue
    fi
  fi
  if ! grep -qx "$target" <<<"$installed"; then
    echo "$platform: skipped: Rust target $target is not installed (rustup target add $target)" |
      tee -a "$out/platforms.txt"
    continue
  fi
  echo "== cargo build --release --locked --target $target"
  (cd "$repo" &&
    RUSTFLAGS="--remap-path-prefix=$repo=/strata --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
      cargo build -q --release --locked -p strata-ffi --target "$target" \
      --target-dir "$root/target/release-build")
  package "$target" "$root/target/release-build/$target/release/libstrata.a"
done

if ! ls "$repo"/go/strata/internal/prebuilt/*/libstrata.a >/dev/null 2>&1; then
  echo "release.sh: no platform was built" >&2
  exit 1
fi
(cd "$repo" && sha256sum go/strata/internal/prebuilt/*/libstrata.a go/strata/internal/prebuilt/*/strata.h \
  >go/strata/internal/prebuilt/SHA256SUMS)
(cat "$repo/go/strata/internal/prebuilt/SHA256SUMS" && cd "$out" && sha256sum debug/*) >"$out/SHA256SUMS"

git -C "$repo" add -f go/strata/internal/prebuilt
git -C "$repo" -c user.name="strata release" -c user.email="release@strata.invalid" \
  commit -q -m "Release $tag: prebuilt engine for $(grep ': built' "$out/platforms.txt" | cut -d: -f1 | paste -sd, -)

This commit is made by scripts/release.sh and is never merged into main: it adds the
archives and headers the Go module ships, so users need no Rust.

$(cat "$out/platforms.txt")"
git -C "$repo" -c user.name="strata release" -c user.email="release@strata.invalid" \
  tag -a "$tag" -m "strata $tag"
echo "release $tag: $(git -C "$repo" rev-parse --short "$tag") in $repo (not pushed)"
cat "$out/platforms.txt"
