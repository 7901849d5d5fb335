#!/usr/bin/env bash
# Builds every Go fixture program (fixtures/go/<name>, stdlib only) with every Go release
# installed under .toolchains/ (scripts/install-go.sh) into fixtures/build/<version>/<name>,
# plus a -trimpath variant <name>-trimpath. The test harness (crates/goroscope-fixtures) also
# builds on demand; CI runs this first so test binaries find the programs ready.
# Usage: scripts/build-fixtures.sh [VERSION...]   (default: every installed release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/fixtures/go"
versions=("$@")
if [ ${#versions[@]} -eq 0 ]; then
  for d in "$root"/.toolchains/go-*/; do
    [ -x "$d/bin/go" ] && versions+=("$(basename "$d" | sed 's/^go-//')")
  done
fi
if [ ${#versions[@]} -eq 0 ]; then
  echo "no Go toolchain under $root/.toolchains: run scripts/install-go.sh" >&2
  exit 1
fi
# The same environment as the harness: local toolchain only, no module proxy, no cgo.
export GOTOOLCHAIN=local GOFLAGS= GOPROXY=off GO111MODULE=on CGO_ENABLED=0
export GOCACHE="${GOCACHE:-$root/fixtures/build/.gocache}" GOPATH="${GOPATH:-$root/fixtures/build/.gopath}"
# The programs that speak the ADDR/EXPECT/READY protocol: the pattern fixtures (they use
# internal/fx), the relation fixtures under relations/ (built to
# fixtures/build/<version>/relations/<name>) and the `goroscope check` services (internal/svc),
# plus check's workload, check-load.
names=()
for d in "$src"/*/ "$src"/relations/*/; do
  n=${d#"$src"/}; n=${n%/}
  grep -qE '"goroscope.test/fixtures/internal/(fx|svc)"' "$d/main.go" 2>/dev/null && names+=("$n")
done
names+=(check-load)
for v in "${versions[@]}"; do
  go="$root/.toolchains/go-$v/bin/go"
  if [ ! -x "$go" ]; then
    echo "Go $v is not installed: run scripts/install-go.sh $v" >&2
    exit 1
  fi
  out="$root/fixtures/build/$v"
  mkdir -p "$out"
  for n in "${names[@]}"; do
    for variant in plain trimpath; do
      flags=() target="$out/$n"
      if [ "$variant" = trimpath ]; then flags=(-trimpath) target="$out/$n-trimpath"; fi
      mkdir -p "$(dirname "$target")"
      tmp="$(dirname "$target")/.$(basename "$n").$$.tmp"
      (cd "$src" && "$go" build "${flags[@]}" -o "$tmp" "./$n")
      mv -f "$tmp" "$target"
    done
  done
  echo "built ${#names[@]} fixtures with Go $v into $out" >&2
done
