#!/usr/bin/env bash
# Measures go/guard beside what a Go engineer would use instead, in one run, and prints the
# figures BENCHMARKS.md quotes:
#   BenchmarkGo, BenchmarkGoParallel: cost of one bounded `go` (ns/op, B/op, allocs/op), median
#     of BENCH_COUNT rounds, and its ratio to the buffered-channel semaphore of the same round;
#   BenchmarkBurst: p50/p99 latency and goroutine count of the adaptive pool on a bursty workload
#     against fixed pools of its Min and Max sizes.
# The machine is shared: compare ratios within one run, not absolute figures across runs.
#
# Usage: bench/guard/run.sh
# Env:   BENCH_COUNT (rounds, default 5), BENCH_ITERS (calls per run, default 200000),
#        BENCH_BURST=0 (skip the ~1 min bursty workload), GO (default .toolchains/go-1.27.3/bin/go).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
go=${GO:-$root/.toolchains/go-1.27.3/bin/go}
count=${BENCH_COUNT:-5}
iters=${BENCH_ITERS:-200000}
[ -x "$go" ] || { echo "run.sh: $go missing: run scripts/install-go.sh" >&2; exit 2; }
export GOTOOLCHAIN=local GOFLAGS= GOPROXY=off CGO_ENABLED=0 \
  GOCACHE="$root/fixtures/build/.gocache" GOPATH="$root/fixtures/build/.gopath"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

machine() {
  echo "when:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $("$go" version)"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) ($1)"
}
machine "before"
echo
# Rounds, not -count: -count runs one limiter's repetitions back to back, so a change of load
# between limiters would skew their ratio. Each round measures every limiter once, in order, and
# the ratio to the channel semaphore is taken within the round; the table gives medians.
for i in $(seq "$count"); do
  "$go" -C "$root/bench/guard" test -run '^$' -bench '^BenchmarkGo(Parallel)?$' -benchmem \
    -count 1 -benchtime "${iters}x" . >"$tmp/go.$i.txt"
done
python3 - "$tmp"/go.*.txt <<'PY'
import re, statistics, sys
rounds = []
for path in sys.argv[1:]:
    r = {}
    for line in open(path):
        m = re.match(r'^(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op', line)
        if m:
            r[m.group(1)] = (float(m.group(3)), int(m.group(4)), int(m.group(5)))
    rounds.append(r)
for bench in ("BenchmarkGo", "BenchmarkGoParallel"):
    base = f"{bench}/chan-semaphore"
    print(f"{bench}: median of {len(rounds)} rounds; ratio = ns/op over chan-semaphore's in the same round")
    print(f"| {'limiter':<20} | {'ns/op':>8} | {'ratio':>6} | {'B/op':>5} | {'allocs/op':>9} |")
    print(f"|{'-'*22}|{'-'*9}:|{'-'*7}:|{'-'*6}:|{'-'*10}:|")
    for name in rounds[0]:
        if not name.startswith(bench + "/"):
            continue
        med = lambda k: statistics.median(r[name][k] for r in rounds)
        ratio = statistics.median(r[name][0] / r[base][0] for r in rounds)
        print(f"| {name.split('/', 1)[1]:<20} | {med(0):>8.0f} | {ratio:>6.2f} | {med(1):>5.0f} | {med(2):>9.0f} |")
    print()
PY
if [ "${BENCH_BURST:-1}" != 0 ]; then
  "$go" -C "$root/bench/guard" test -run '^$' -bench '^BenchmarkBurst$' -benchtime 1x -count 1 . >"$tmp/burst.txt"
  python3 - "$tmp/burst.txt" <<'PY'
import re, sys
print("BenchmarkBurst (one run each, same workload)")
cols = ["p50-ms", "p99-ms", "max-ms", "mean-goroutines", "peak-goroutines", "mean-workers", "grows", "shrinks", "tasks", "run-s"]
print("| pool | " + " | ".join(cols) + " |")
print("|---|" + "---:|" * len(cols))
for line in open(sys.argv[1]):
    m = re.match(r'^BenchmarkBurst/(\S+?)(-\d+)?\s+\d+\s+(.*)$', line)
    if not m:
        continue
    vals = dict((u, v) for v, u in re.findall(r'([\d.]+) (\S+)', m.group(3)))
    print(f"| {m.group(1)} | " + " | ".join(vals.get(c, "-") for c in cols) + " |")
PY
fi
echo
machine "after"
