#!/usr/bin/env bash
# Plays a user of release VERSION on this machine, with no network and no Rust: serves the
# tagged release commit scripts/release.sh made as a Go module proxy from a local directory
# (the module zip made as the public proxy makes it: scripts/tools/modproxy), then, in a clean
# environment whose PATH has no cargo or rustc and with empty module and build caches:
#
#   go mod init; go get github.com/strata-db/strata/go/strata@vVERSION
#   builds and runs README.md's quick-start program; ldd shows only system C libraries
#   the static build: not a dynamic executable, and runs alone in an empty directory tree
#   go mod vendor: archive and header are vendored; -mod=vendor builds and runs
#   a binary that expects another build identity: Open refuses it, saying how to rebuild
#   linux/arm64: built with the cross C compiler and run under qemu-user, if its archive,
#   aarch64-linux-gnu-gcc and qemu-aarch64 are there; darwin/arm64 and darwin/amd64: linked
#   (not run) with zig cc if their archives and zig (ZIG=command, or zig on PATH) are there
#
#   scripts/verify-release.sh 0.1.0          the release in target/release-0.1.0
#   scripts/verify-release.sh --ci 0.1.0     the rehearsal in target/release-ci
#
# Prints sizes and times: the module zip, the cold `go build`, the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ci=false
if [ "${1:-}" = "--ci" ]; then
  ci=true
  shift
fi
if [ $# -ne 1 ]; then
  echo "usage: scripts/verify-release.sh [--ci] VERSION" >&2
  exit 2
fi
version=${1#v}
tag=v$version
if $ci; then release=$root/target/release-ci; else release=$root/target/release-$version; fi
repo=$release/repo
if ! git -C "$repo" rev-parse -q --verify "refs/tags/$tag" >/dev/null 2>&1; then
  echo "verify-release.sh: no tag $tag in $repo; run scripts/release.sh ${1} first" >&2
  exit 1
fi
module=github.com/strata-db/strata

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
step() { printf '\n--- %s\n' "$*"; }

step "module proxy in $work/proxy"
# The maintainer's half: building the tool may download golang.org/x/mod into the
# maintainer's own module cache. Nothing of it reaches the user's environment below.
(cd scripts/tools && GOFLAGS= go build -o "$work/modproxy" ./modproxy)
"$work/modproxy" -repo "$repo" -module "$module" -version "$tag" -out "$work/proxy"
zip_file=$work/proxy/$module/@v/$tag.zip
zip_bytes=$(stat -c %s "$zip_file")

# The user's half. PATH: Go and the system's C toolchain, never ~/.cargo/bin.
mkdir -p "$work/bin" "$work/home" "$work/app"
ln -s "$(go env GOROOT)/bin/go" "$work/bin/go"
user_path=$work/bin:/usr/local/bin:/usr/bin:/bin
for tool in cargo rustc rustup; do
  if PATH=$user_path command -v "$tool" >/dev/null; then
    echo "verify-release.sh: $tool is on the user's PATH ($user_path)" >&2
    exit 1
  fi
done
user() {
  env -i HOME="$work/home" PATH="$user_path" \
    GOPROXY="file://$work/proxy" GOSUMDB=off GONOSUMDB="$module" GOPRIVATE= GOFLAGS=-mod=mod \
    GOTOOLCHAIN=local GOMODCACHE="$work/modcache" GOCACHE="$work/gocache" GOPATH="$work/gopath" \
    GOENV=off CGO_ENABLED=1 "$@"
}

step "go mod init; go get $module/go/strata@$tag"
cd "$work/app"
user go mod init example.com/quickstart
user go get "$module/go/strata@$tag"
# The README's quick-start program, exactly as the README shows it.
sed -n '/^<!-- quick start begin -->$/,/^<!-- quick start end -->$/p' "$root/README.md" |
  sed -n '/^```go$/,/^```$/p' | sed '1d;$d' >main.go
if ! grep -q 'strata.Open' main.go; then
  echo "verify-release.sh: no quick-start program between the README's markers" >&2
  exit 1
fi

step "cold go build (empty module and build caches)"
start=$(date +%s.%N)
user go build -o quickstart .
cold=$(echo "$(date +%s.%N) - $start" | bc)
out=$(./quickstart)
[ "$out" = "ada" ] || { echo "quickstart printed '$out', want 'ada'" >&2; exit 1; }
echo "ok - quickstart printed '$out'"
echo "ldd quickstart:"
ldd quickstart | sed 's/^/  /'
unexpected=$(ldd quickstart | awk '{print $1}' |
  grep -Ev '^(linux-vdso\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so|/lib64/ld-linux|ld-linux)' || true)
[ -z "$unexpected" ] || { echo "quickstart links more than system C libraries: $unexpected" >&2; exit 1; }
echo "ok - only system C libraries"

step "static build, run alone in an empty directory tree"
user go build -ldflags '-extldflags -static' -o quickstart-static . 2>"$work/static-link.log" ||
  { cat "$work/static-link.log" >&2; exit 1; }
ldd_static=$(ldd quickstart-static 2>&1 || true)
if ! grep -q 'not a dynamic executable' <<<"$ldd_static"; then
  echo "quickstart-static is dynamic: $ldd_static" >&2
  exit 1
fi
echo "ok - ldd: not a dynamic executable"
mkdir -p "$work/empty"
cp quickstart-static "$work/empty/quickstart"
if [ "$(id -u)" = 0 ]; then
  out=$(cd "$work/empty" && env -i "$(command -v chroot)" "$work/empty" /quickstart)
  how="chroot into a directory holding only the binary"
else
  out=$(cd "$work/empty" && env -i ./quickstart)
  how="alone in an empty directory, empty environment (not root: no chroot)"
fi
[ "$out" = "ada" ] || { echo "static quickstart printed '$out', want 'ada'" >&2; exit 1; }
echo "ok - $how: printed '$out'"

step "go mod vendor; go build -mod=vendor"
user go mod vendor
vendored=vendor/$module/go/strata/internal/prebuilt/linux_amd64
for f in libstrata.a strata.h; do
  [ -f "$vendored/$f" ] || { echo "go mod vendor dropped $vendored/$f" >&2; exit 1; }
done
user env GOFLAGS=-mod=vendor GOPROXY=off go build -o quickstart-vendor .
out=$(./quickstart-vendor)
[ "$out" = "ada" ] || { echo "vendored quickstart printed '$out', want 'ada'" >&2; exit 1; }
echo "ok - vendored archive and header; -mod=vendor build printed '$out'"

step "symbolizing: the debug archive, linked in place of the shipped one, gives the same code"
# docs/releasing.md's recipe. The user rebuilds with the release's debug archive over the
# vendored one; the code is byte for byte the same, so a crash's addresses map to lines.
debug_archive=$release/debug/libstrata-linux_amd64.debug.a
if [ -f "$debug_archive" ]; then
  cp "$debug_archive" "$vendored/libstrata.a"
  user env GOFLAGS=-mod=vendor GOPROXY=off go build -a -o quickstart-debug .
  for b in quickstart-vendor quickstart-debug; do objcopy -O binary --only-section=.text "$b" "$b.text"; done
  cmp -s quickstart-vendor.text quickstart-debug.text ||
    { echo "the debug archive links to different code than the shipped one" >&2; exit 1; }
  echo "ok - same .text as the shipped build ($(stat -c %s quickstart-debug.text) bytes)"
  if command -v gdb >/dev/null; then
    pc=0x$(nm quickstart-vendor | awk '$3 == "strata_build_id" {print $1}')
    line=$(gdb -batch -ex "info line *$pc" quickstart-debug 2>/dev/null | grep '^Line' || true)
    grep -q 'rust/ffi/src/identity.rs' <<<"$line" ||
      { echo "gdb did not map strata_build_id ($pc) to its source: $line" >&2; exit 1; }
    echo "ok - gdb: $line"
  fi
fi
rm -rf vendor

step "a binary expecting another engine build is refused at Open"
user go build -ldflags "-X $module/go/strata.buildID=0.0.0+h0000000000000000" -o quickstart-mismatch .
if out=$(./quickstart-mismatch 2>&1); then
  echo "a mismatched engine ran: $out" >&2
  exit 1
fi
for want in "the linked engine is another build" "0.0.0+h0000000000000000" "scripts/build.sh"; do
  grep -qF "$want" <<<"$out" || { echo "mismatch message lacks '$want': $out" >&2; exit 1; }
done
echo "ok - refused: $out"

summary=("module zip: $zip_bytes bytes" "cold go build: ${cold}s"
  "binary: $(stat -c %s quickstart) bytes dynamic, $(stat -c %s quickstart-static) bytes static")

step "linux/arm64"
if [ ! -f "$repo/go/strata/internal/prebuilt/linux_arm64/libstrata.a" ]; then
  summary+=("linux/arm64: skipped (no archive in this release)")
elif ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  summary+=("linux/arm64: skipped (needs aarch64-linux-gnu-gcc and qemu-aarch64: apt-get install gcc-aarch64-linux-gnu qemu-user)")
else
  user env GOARCH=arm64 CC=aarch64-linux-gnu-gcc go build -o quickstart-arm64 .
  user env GOARCH=arm64 CC=aarch64-linux-gnu-gcc go build -ldflags '-extldflags -static' \
    -o quickstart-arm64-static . 2>/dev/null
  file quickstart-arm64 quickstart-arm64-static | sed 's/, BuildID.*//'
  out=$(qemu-aarch64 -L /usr/aarch64-linux-gnu ./quickstart-arm64)
  [ "$out" = "ada" ] || { echo "arm64 quickstart printed '$out', want 'ada'" >&2; exit 1; }
  rm -rf demo-db
  out_static=$(qemu-aarch64 ./quickstart-arm64-static)
  [ "$out_static" = "ada" ] || { echo "static arm64 quickstart printed '$out_static'" >&2; exit 1; }
  echo "ok - under qemu-aarch64: dynamic and static builds printed '$out'"
  summary+=("linux/arm64: built, ran under qemu-aarch64 (dynamic $(stat -c %s quickstart-arm64), static $(stat -c %s quickstart-arm64-static) bytes)")
fi

step "darwin"
# zig cc is a C compiler and linker for macOS that runs here (python3 -m pip install ziglang;
# ZIG="python3 -m ziglang"). It has libSystem's stubs but no macOS SDK: the link names
# CoreFoundation, libresolv (Go's runtime and net) and libiconv (Rust's libc crate), so empty
# stubs stand in for them. An empty stub defines nothing, so the Mach-O flag NOUNDEFS on the
# result proves that no symbol was needed from them and every other one resolved in libSystem.
zig_cmd=${ZIG:-$(command -v zig || true)}
if [ -n "$zig_cmd" ]; then
  printf '#!/bin/sh\nexec %s "$@"\n' "$zig_cmd" >"$work/bin/zig"
  chmod +x "$work/bin/zig"
  stubs=$work/darwin-stubs
  mkdir -p "$stubs/lib" "$stubs/Frameworks/CoreFoundation.framework"
  tbd() {
    printf -- "--- !tapi-tbd\ntbd-version: 4\ntargets: [ x86_64-macos, arm64-macos ]\n"
    printf "install-name: '%s'\ncurrent-version: 1\ncompatibility-version: 1\n...\n" "$1"
  }
  tbd /usr/lib/libresolv.9.dylib >"$stubs/lib/libresolv.tbd"
  tbd /usr/lib/libiconv.2.dylib >"$stubs/lib/libiconv.tbd"
  tbd /System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation \
    >"$stubs/Frameworks/CoreFoundation.framework/CoreFoundation.tbd"
fi
for platform in darwin_arm64 darwin_amd64; do
  if [ ! -f "$repo/go/strata/internal/prebuilt/$platform/libstrata.a" ]; then
    summary+=("${platform/_//}: skipped (no archive in this release)")
  elif [ -z "$zig_cmd" ]; then
    summary+=("${platform/_//}: skipped (archive present; linking needs a C compiler for macOS: ZIG=\"python3 -m ziglang\" after pip install ziglang)")
  else
    arch=${platform#darwin_}
    zig_arch=$([ "$arch" = arm64 ] && echo aarch64 || echo x86_64)
    # -w: no DWARF, so Go's linker does not run the macOS strip and dsymutil it expects.
    user env GOOS=darwin GOARCH="$arch" CC="zig cc -target $zig_arch-macos" \
      CGO_LDFLAGS="-L$stubs/lib -F$stubs/Frameworks" go build -ldflags=-w -o "quickstart-$platform" .
    described=$(file "quickstart-$platform")
    echo "$described"
    grep -q NOUNDEFS <<<"$described" || { echo "quickstart-$platform has undefined symbols" >&2; exit 1; }
    summary+=("${platform/_//}: linked with zig cc, every symbol resolved (NOUNDEFS), $(stat -c %s "quickstart-$platform") bytes; not run (no macOS here)")
  fi
done

printf '\n=== %s verified\n' "$tag"
printf '%s\n' "${summary[@]}"
