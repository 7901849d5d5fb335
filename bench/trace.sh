#!/usr/bin/env bash
# What the eBPF tracer costs a busy service, beside Go's own runtime/trace, in one run:
#
#   fixtures/go/trace_service (Go 1.27.3; each /work request starts FANOUT goroutines that end)
#   under its own load generator, in three configurations, interleaved ROUNDS times:
#     base      nothing attached
#     ebpf      `goroscope trace PID` (create + exit probes) for the whole phase
#     rttrace   runtime/trace.Start(io.Discard) for the whole phase
#   and for each:
#     throughput   requests a second at saturation (CONNS connections, no rate limit):
#                  the goal is ebpf ≥ 97 % of base
#     cpu/req      the service's CPU (user + system, /proc/PID/stat: uprobe traps are charged to
#                  it) per request at a fixed RATE (FANOUT × RATE goroutines a second)
#     µs/event     (cpu/req − base cpu/req) / goroutine events per request (FANOUT births + as
#                  many ends + the connection's): the cost of one traced birth or death
#
# Usage: bench/trace.sh        (as root: the tracer loads BPF)
# Env:   BENCH_ROUNDS (default 3), BENCH_SECONDS (per phase, default 10), BENCH_CONNS (default 8),
#        BENCH_RATE (requests/s for cpu/req, default 5000: 20,000 goroutines/s), BENCH_FANOUT
#        (default 4), CARGO_TARGET_DIR.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${BENCH_ROUNDS:-3}
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNS:-8}
rate=${BENCH_RATE:-5000}
fanout=${BENCH_FANOUT:-4}
target=${CARGO_TARGET_DIR:-$root/target}
go=$root/.toolchains/go-1.27.3/bin/go
say() { printf '%s\n' "$*" >&2; }
[ -x "$go" ] || { say "trace.sh: Go 1.27.3 missing: run scripts/install-go.sh 1.27.3"; exit 2; }
[ "$(id -u)" -eq 0 ] || say "trace.sh: not root: the ebpf phases will fail (CAP_BPF, CAP_PERFMON)"
export GOTOOLCHAIN=local GOFLAGS= GOPROXY=off CGO_ENABLED=0
export GOCACHE=${GOCACHE:-$root/fixtures/build/.gocache} GOPATH=${GOPATH:-$root/fixtures/build/.gopath}
work=$(mktemp -d)
svc_pid=""
cleanup() { [ -n "$svc_pid" ] && kill "$svc_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

say "trace.sh: building trace_service (Go 1.27.3) and goroscope (release, --features ebpf)"
(cd "$root/fixtures/go" && "$go" build -o "$work/svc" ./trace_service)
cargo build --release --locked -p goroscope --features ebpf --manifest-path "$root/Cargo.toml" >&2
goroscope=$target/release/goroscope

FIXTURE_FANOUT=$fanout "$work/svc" > "$work/svc.out" &
svc_pid=$!
for _ in $(seq 100); do grep -q READY "$work/svc.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^ADDR //p' "$work/svc.out")

# GET PATH from the service (bash's /dev/tcp: no curl needed).
get() {
  exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
  printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
  cat <&3 > /dev/null
  exec 3<&-
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$svc_pid/stat"; }
hz=$(getconf CLK_TCK)

# phase CONFIG MODE: prints "requests failures seconds cpu_seconds" of one phase; MODE is
# saturate or rate.
phase() {
  local config=$1 mode=$2 g=""
  case $config in
    ebpf)
      "$goroscope" trace "$svc_pid" --no-live -v -o json --out "$work/trace.json" --force \
        2> "$work/trace.err" &
      g=$!
      # Attached once it says so (it logs the probes it placed).
      for _ in $(seq 600); do grep -q "tracing pid" "$work/trace.err" && break; sleep 0.05; done ;;
    rttrace) get /trace/start ;;
  esac
  local c0; c0=$(cpu_ticks)
  local out
  if [ "$mode" = saturate ]; then
    out=$("$work/svc" load "$addr" /work "$conns" "$secs")
  else
    out=$("$work/svc" load "$addr" /work "$conns" "$secs" "$rate")
  fi
  local c1; c1=$(cpu_ticks)
  case $config in
    ebpf) kill -INT "$g"; wait "$g" || true ;;
    rttrace) get /trace/stop ;;
  esac
  python3 -c '
import json, sys
d = json.loads(sys.argv[1].split("LOAD ", 1)[1])
print(d["requests"], d["failures"], d["seconds"], (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]))
' "$out" "$c0" "$c1" "$hz"
}

say "trace.sh: $rounds rounds × (base, ebpf, rttrace) × (saturate, rate $rate/s), $secs s each"
results=$work/results
: > "$results"
for r in $(seq "$rounds"); do
  for config in base ebpf rttrace; do
    for mode in saturate rate; do
      line=$(phase "$config" "$mode")
      echo "$r $config $mode $line" >> "$results"
      say "  round $r $config $mode: $line"
    done
  done
done

python3 - "$results" "$fanout" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
fanout = int(sys.argv[2])
def pick(config, mode, f):
    return [f(r) for r in rows if r[1] == config and r[2] == mode]
tput = {c: st.median(pick(c, "saturate", lambda r: float(r[3]) / float(r[5]))) for c in ("base", "ebpf", "rttrace")}
cpu = {c: st.median(pick(c, "rate", lambda r: float(r[6]) / float(r[3]) * 1e6)) for c in ("base", "ebpf", "rttrace")}
fails = sum(int(r[4]) for r in rows)
# Goroutine events per request: fanout births + fanout ends (the connection's goroutines are
# per connection, not per request, with keep-alive).
ev = 2 * fanout
print(f"machine: {sys.argv[3]} CPUs, load average {sys.argv[4]} at the end")
print(f"failed requests: {fails}")
print("config    req/s (saturated)  vs base   CPU µs/req (fixed rate)  µs per goroutine event")
for c in ("base", "ebpf", "rttrace"):
    per_ev = "" if c == "base" else f"{(cpu[c] - cpu['base']) / ev:.2f}"
    print(f"{c:8}  {tput[c]:17.0f}  {tput[c] / tput['base'] * 100:6.1f} %  {cpu[c]:23.1f}  {per_ev:>22}")
EOF
