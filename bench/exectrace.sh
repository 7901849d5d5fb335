#!/usr/bin/env bash
# Times goroscope's execution-trace reader beside the runtime's own parser on the same ~100 MB
# trace, in one run, and prints the ratios the goals are stated in:
#   goroscope read (lifecycles, sites, snapshot) / runtime parser reading every event  (goal < 1)
#   goroscope read / runtime parser + its goroutine summarizer (what go tool trace computes)
#   goroscope read / `go tool trace -d=parsed` (Go 1.25+: parse and print every event)
#   goroscope peak RSS / file size                                                      (goal <= 1)
#   and goroscope on the gzipped file.
#
# Usage: bench/exectrace.sh
# Env:   BENCH_RUNS (timed runs per command, default 3), EXECTRACE_BENCH_BYTES (trace size,
#        default 100000000), BENCH_DATA (trace folder, default bench/data), CARGO_TARGET_DIR.
# Needs: Go 1.27.3 (scripts/install-go.sh), cargo, GNU time (/usr/bin/time), gzip.
# The trace is written by fixtures/go/exectrace_churn (FIXTURE_LOAD=fast: workers and
# ping-pong pairs, plus one round of every leak site) only when it is missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=${BENCH_DATA:-$root/bench/data}
runs=${BENCH_RUNS:-3}
bytes=${EXECTRACE_BENCH_BYTES:-100000000}
target=${CARGO_TARGET_DIR:-$root/target}
tc=$root/.toolchains/go-1.27.3
go=$tc/bin/go
mkdir -p "$data"
say() { printf '%s\n' "$*" >&2; }
[ -x "$go" ] || { say "exectrace.sh: Go 1.27.3 missing: run scripts/install-go.sh 1.27.3"; exit 2; }
[ -x /usr/bin/time ] || { say "exectrace.sh: GNU time missing (apt-get install time)"; exit 2; }
export GOTOOLCHAIN=local GOFLAGS= GOPROXY=off CGO_ENABLED=0
export GOCACHE=${GOCACHE:-$root/fixtures/build/.gocache} GOPATH=${GOPATH:-$root/fixtures/build/.gopath}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

trace=$data/exectrace-$bytes.trace
if [ ! -s "$trace" ]; then
  say "exectrace.sh: writing a $bytes-byte trace with exectrace_churn (Go 1.27.3)"
  (cd "$root/fixtures/go" && "$go" build -o "$work/churn" ./exectrace_churn)
  FIXTURE_LOAD=fast FIXTURE_N=1000 FIXTURE_SPAN_MS=0 FIXTURE_BYTES=$bytes \
    FIXTURE_TRACE=$trace.tmp "$work/churn" > "$data/exectrace-$bytes.result"
  mv "$trace.tmp" "$trace"
fi
[ -s "$trace.gz" ] || gzip -1 -c "$trace" > "$trace.gz"

say "exectrace.sh: building goroscope (release) and the runtime-parser program"
cargo build -q --release -p goroscope-exectrace --example read-trace
reader=$target/release/examples/read-trace
goroot=$("$go" env GOROOT)
src=$root/crates/goroscope-exectrace/tests/gotrace
dest=$goroot/src/internal/trace/goroscopecheck
printf '{"Replace":{"%s/main.go":"%s/main.go","%s/frames_go125.go":"%s/frames_go125.go","%s/frames_go123.go":"%s/frames_go123.go"}}' \
  "$dest" "$src" "$dest" "$src" "$dest" "$src" > "$work/overlay.json"
(cd "$goroot/src" && "$go" build -overlay "$work/overlay.json" -o "$work/goroscopecheck" internal/trace/goroscopecheck)
# `go tool trace` compiles itself on first use: do it before timing.
"$go" tool trace -d=parsed "$root/crates/goroscope-exectrace/tests/data/seed-go1.27.trace" >/dev/null 2>&1 || true
cat "$trace" "$trace.gz" > /dev/null

# Each command runs $runs times, interleaved round by round so that a change in the machine's
# load hits every command alike; reported: median wall seconds, median CPU seconds (user +
# system, all threads) and the largest peak RSS.
names=(goroscope goroscope_gz runtime_parse runtime_summary go_tool_trace)
declare -A cmd=(
  [goroscope]="$reader $trace"
  [goroscope_gz]="$reader $trace.gz"
  [runtime_parse]="$work/goroscopecheck parse $trace"
  [runtime_summary]="$work/goroscopecheck summary $trace"
  [go_tool_trace]="$go tool trace -d=parsed $trace"
)
declare -A walls cpus rsss wall cpu rss
say "exectrace.sh: load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$runs"); do
  for k in "${names[@]}"; do
    # shellcheck disable=SC2086 # the commands are word lists
    /usr/bin/time -f '%e %U %S %M' -o "$work/t" ${cmd[$k]} > /dev/null 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
    read -r t u s m < "$work/t"
    walls[$k]+="$t "; cpus[$k]+="$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }') "; rsss[$k]+="$m "
    say "  run $r $k: ${t} s wall, $u+$s s CPU, $m KB"
  done
done
say "exectrace.sh: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for k in "${names[@]}"; do
  wall[$k]=$(echo "${walls[$k]}" | median)
  cpu[$k]=$(echo "${cpus[$k]}" | median)
  rss[$k]=$(echo "${rsss[$k]}" | tr ' ' '\n' | grep . | sort -g | tail -1)
done

size=$(stat -c %s "$trace")
"$reader" "$trace" > "$work/summary"
head -1 "$work/summary"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '\n| command | median wall (s) | median CPU (s) | max RSS (MB) |\n|---|---:|---:|---:|\n'
for k in "${names[@]}"; do
  printf '| %s | %s | %s | %.0f |\n' "$k" "${wall[$k]}" "${cpu[$k]}" "$(awk -v k="${rss[$k]}" 'BEGIN { print k / 1024 }')"
done
printf '\nfile: %d bytes (%.1f MB); %d runs each\n' "$size" "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')" "$runs"
for base in runtime_parse runtime_summary go_tool_trace; do
  printf 'goroscope / %-16s wall %s, CPU %s\n' "$base:" "$(ratio "${wall[goroscope]}" "${wall[$base]}")" "$(ratio "${cpu[goroscope]}" "${cpu[$base]}")"
done
printf 'goroscope peak RSS / file size:           %s\n' "$(ratio "$(( ${rss[goroscope]} * 1024 ))" "$size")"
printf 'goroscope (gzip) peak RSS / file size:    %s\n' "$(ratio "$(( ${rss[goroscope_gz]} * 1024 ))" "$size")"
