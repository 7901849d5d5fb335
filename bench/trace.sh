#!/usr/bin/env bash
# What the eBPF tracer costs a busy service, beside Go's own runtime/trace, in one run:
#
#   fixtures/go/trace_service (Go 1.27.3; each /work request starts FANOUT goroutines that end)
#   under its own load generator, in four configurations, interleaved ROUNDS times:
#     base      nothing attached
#     ebpf      `goroscope trace PID` (create + exit probes) for the whole phase
#     park      `goroscope trace PID --park` (+ park and resume probes, 1 goroutine in 10 followed)
#     rttrace   runtime/trace.Start(io.Discard) for the whole phase
#   and for each:
#     throughput   requests a second at saturation (CONNS connections, no rate limit):
#                  the goal is ebpf ≥ 97 % of base
#     cpu/req      the service's CPU (user + system, /proc/PID/stat: uprobe traps and the BPF
#                  program run in the service's threads, so they are charged to it) per request
#                  at a fixed RATE (FANOUT × RATE goroutines a second)
#     µs/event     (cpu/req − base cpu/req) / goroutine events per request (FANOUT births + as
#                  many ends): the cost of one traced birth or death in the service
#     tracer CPU   goroscope's own CPU (reading the ring buffer, the live set) per request and
#                  in % of a core, at the fixed rate: on a machine with spare cores it does not
#                  slow the service, on a saturated one it competes with it
#
# Usage: bench/trace.sh        (as root: the tracer loads BPF)
# Env:   BENCH_ROUNDS (default 3), BENCH_SECONDS (per phase, default 10), BENCH_CONNS (default 8),
#        BENCH_RATE (requests/s for cpu/req, default 5000: 20,000 goroutines/s), BENCH_FANOUT
#        (default 4), BENCH_CONFIGS (default "base ebpf park rttrace"), CARGO_TARGET_DIR.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${BENCH_ROUNDS:-3}
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNS:-8}
rate=${BENCH_RATE:-5000}
fanout=${BENCH_FANOUT:-4}
configs=${BENCH_CONFIGS:-base ebpf park rttrace}
target=${CARGO_TARGET_DIR:-$root/target}
go=$root/.toolchains/go-1.27.3/bin/go
say() { printf '%s\n' "$*" >&2; }
[ -x "$go" ] || { say "trace.sh: Go 1.27.3 missing: run scripts/install-go.sh 1.27.3"; exit 2; }
[ "$(id -u)" -eq 0 ] || say "trace.sh: not root: the ebpf phases will fail (CAP_BPF, CAP_PERFMON)"
export GOTOOLCHAIN=local GOFLAGS= GOPROXY=off CGO_ENABLED=0
export GOCACHE=${GOCACHE:-$root/fixtures/build/.gocache} GOPATH=${GOPATH:-$root/fixtures/build/.gopath}
work=$(mktemp -d)
svc_pid=""
g=""
cleanup() {
  [ -n "$g" ] && kill "$g" 2>/dev/null
  [ -n "$svc_pid" ] && kill "$svc_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

say "trace.sh: building trace_service (Go 1.27.3) and goroscope (release, --features ebpf)"
(cd "$root/fixtures/go" && "$go" build -o "$work/svc" ./trace_service)
cargo build --release --locked -p goroscope --features ebpf --manifest-path "$root/Cargo.toml" >&2
goroscope=$target/release/goroscope
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

FIXTURE_FANOUT=$fanout "$work/svc" > "$work/svc.out" &
svc_pid=$!
for _ in $(seq 100); do grep -q READY "$work/svc.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's/^ADDR //p' "$work/svc.out")
[ -n "$addr" ] || { say "trace.sh: the service did not start"; exit 1; }

# GET PATH from the service (bash's /dev/tcp: no curl needed).
get() {
  exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}"
  printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3
  cat <&3 > /dev/null
  exec 3<&-
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

# phase CONFIG MODE: prints "requests failures seconds service_cpu_s tracer_cpu_s lost" of one
# phase; MODE is saturate or rate.
phase() {
  local config=$1 mode=$2 park=""
  g=""
  : > "$work/trace.err"
  case $config in
    ebpf|park)
      [ "$config" = park ] && park=--park
      "$goroscope" trace "$svc_pid" $park --no-live -v -o json --out "$work/trace.json" --force \
        2> "$work/trace.err" &
      g=$!
      # Attached once it says so (it logs the probes it placed).
      for _ in $(seq 600); do grep -q "tracing pid" "$work/trace.err" && break; sleep 0.05; done
      grep -q "tracing pid" "$work/trace.err" || { say "trace.sh: the tracer did not start:"; cat "$work/trace.err" >&2; exit 1; } ;;
    rttrace) get /trace/start ;;
  esac
  local c0 t0 c1 t1 out
  c0=$(ticks "$svc_pid")
  t0=0; [ -n "$g" ] && t0=$(ticks "$g")
  if [ "$mode" = saturate ]; then
    out=$("$work/svc" load "$addr" /work "$conns" "$secs")
  else
    out=$("$work/svc" load "$addr" /work "$conns" "$secs" "$rate")
  fi
  c1=$(ticks "$svc_pid")
  t1=0; [ -n "$g" ] && t1=$(ticks "$g")
  local lost=0
  case $config in
    ebpf|park)
      kill -INT "$g"; wait "$g" || true; g=""
      # "N events were lost" when any were.
      lost=$(sed -n 's/.* \([0-9][0-9]*\) events were lost.*/\1/p' "$work/trace.err" | head -1)
      lost=${lost:-0} ;;
    rttrace) get /trace/stop ;;
  esac
  python3 -c '
import json, sys
d = json.loads(sys.argv[1].split("LOAD ", 1)[1])
hz = int(sys.argv[4])
print(d["requests"], d["failures"], d["seconds"], (int(sys.argv[3]) - int(sys.argv[2])) / hz,
      (int(sys.argv[6]) - int(sys.argv[5])) / hz, sys.argv[7])
' "$out" "$c0" "$c1" "$hz" "$t0" "$t1" "$lost"
}

say "trace.sh: $rounds rounds × ($configs) × (saturate, rate $rate/s), $secs s each; load average $load_start"
results=$work/results
: > "$results"
for r in $(seq "$rounds"); do
  for config in $configs; do
    for mode in saturate rate; do
      line=$(phase "$config" "$mode")
      echo "$r $config $mode $line" >> "$results"
      say "  round $r $config $mode: $line"
    done
  done
done

python3 - "$results" "$fanout" "$(nproc)" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$configs" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
fanout = int(sys.argv[2])
configs = sys.argv[6].split()
def pick(config, mode, f):
    return [f(r) for r in rows if r[1] == config and r[2] == mode]
tput = {c: st.median(pick(c, "saturate", lambda r: float(r[3]) / float(r[5]))) for c in configs}
cpu = {c: st.median(pick(c, "rate", lambda r: float(r[6]) / float(r[3]) * 1e6)) for c in configs}
achieved = {c: st.median(pick(c, "rate", lambda r: float(r[3]) / float(r[5]))) for c in configs}
tcpu = {c: st.median(pick(c, "rate", lambda r: float(r[7]) / float(r[3]) * 1e6)) for c in configs}
tcore = {c: st.median(pick(c, "rate", lambda r: float(r[7]) / float(r[5]) * 100)) for c in configs}
fails = sum(int(r[4]) for r in rows)
lost = sum(int(r[8]) for r in rows)
# Goroutine events per request: fanout births + fanout ends (the connection's goroutines are
# per connection, not per request, with keep-alive).
ev = 2 * fanout
print(f"machine: {sys.argv[3]} CPUs, load average {sys.argv[4]} at the start, {sys.argv[5]} at the end")
print(f"failed requests: {fails}; events lost by the tracer: {lost}")
print("config   req/s saturated (each round)        vs base  | fixed rate: req/s  service µs/req  µs/goroutine event  tracer µs/req  tracer % core")
for c in configs:
    rounds = " ".join(f"{x:.0f}" for x in pick(c, "saturate", lambda r: float(r[3]) / float(r[5])))
    per_ev = "" if c == "base" else f"{(cpu[c] - cpu['base']) / ev:.2f}"
    tr = "" if c in ("base", "rttrace") else f"{tcpu[c]:.1f}"
    tc = "" if c in ("base", "rttrace") else f"{tcore[c]:.1f}"
    print(f"{c:8} {tput[c]:6.0f} ({rounds:24})  {tput[c] / tput['base'] * 100:6.1f} %  | {achieved[c]:17.0f}  {cpu[c]:14.1f}  {per_ev:>18}  {tr:>13}  {tc:>13}")
PY
