#!/usr/bin/env bash
# Times goroscope beside the floor (wc -l, grep -c) over the same dumps, in one run, and prints
# the ratios the goals are stated in:
#   debug=2 text:  goroscope / grep -c '^goroutine '  (goal <= 1.5)
#                  peak RSS / file size                (goal <= 0.25)
#   debug=1, proto: milliseconds
#   every form:    goroscope's goroutine total == the generator's manifest (exact)
#
# Usage: bench/run.sh [SIZE...]        (default: 10000 100000 1000000)
# Env:   BENCH_RUNS (timed runs per command, default 5), BENCH_DATA (dump folder, default
#        bench/data), CARGO_TARGET_DIR (default target), BENCH_OUT (results folder, default
#        bench/results/<UTC time>), BENCH_ANALYZE_ARGS (extra goroscope analyze flags),
#        BENCH_TIMER=loop (time with a shell loop even when hyperfine is there).
# Needs: the Go 1.27.3 toolchain (scripts/install-go.sh), cargo, GNU time (/usr/bin/time) for
# RSS, hyperfine for timing (falls back to a timing loop without it: Debian `hyperfine`).
# Dumps are generated (bench/gen) only when their manifest is missing; 1M needs ~5 GB of RAM.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data=${BENCH_DATA:-$root/bench/data}
runs=${BENCH_RUNS:-5}
target=${CARGO_TARGET_DIR:-$root/target}
out=${BENCH_OUT:-$root/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
go=$root/.toolchains/go-1.27.3/bin/go
mkdir -p "$data" "$out"

say() { printf '%s\n' "$*" >&2; }
die() { say "run.sh: $*"; exit 2; }

# --- tools ---------------------------------------------------------------------------------------
if [ ! -x "$go" ]; then
  say "run.sh: Go 1.27.3 missing; installing it with scripts/install-go.sh"
  "$root/scripts/install-go.sh" 1.27.3
fi
have_hyperfine=0
if [ "${BENCH_TIMER:-}" != loop ] && command -v hyperfine >/dev/null; then have_hyperfine=1; else
  say "run.sh: hyperfine not found (apt-get install hyperfine): timing with a plain loop instead"
fi
have_time=0
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then have_time=1; else
  say "run.sh: GNU time not found at /usr/bin/time (apt-get install time): peak RSS not measured"
fi

# --- dumps ---------------------------------------------------------------------------------------
gen=$out/gen
need_gen=0
for n in "${sizes[@]}"; do
  [ -s "$data/goroutines-$n.manifest.json" ] || need_gen=1
done
if [ $need_gen = 1 ]; then
  say "run.sh: building the generator"
  GOTOOLCHAIN=local GOFLAGS= GOPATH=${GOPATH:-/tmp/goroscope-bench-gopath} \
    GOCACHE=${GOCACHE:-/tmp/goroscope-bench-gocache} \
    "$go" -C "$root/bench/gen" build -trimpath -o "$gen" .
  for n in "${sizes[@]}"; do
    if [ ! -s "$data/goroutines-$n.manifest.json" ]; then
      say "run.sh: generating $n goroutines into $data"
      "$gen" -n "$n" -out "$data"
    fi
  done
fi

# --- binaries ------------------------------------------------------------------------------------
# What the binaries are built from (a shared work tree may hold uncommitted edits).
src_rev="commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if git -C "$root" status --porcelain -- crates Cargo.lock 2>/dev/null | grep -q .; then
  src_rev="$src_rev plus uncommitted changes under crates/"
fi
say "run.sh: building the count example (pure ingest) in release"
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --quiet --release -p goroscope-ingest --example count)
count=$target/release/examples/count
goroscope="" goroscope_note=""
if [ -f "$root/crates/goroscope/Cargo.toml" ]; then
  say "run.sh: building goroscope in release"
  if (cd "$root" && CARGO_TARGET_DIR=$target cargo build --quiet --release -p goroscope); then
    if "$target/release/goroscope" analyze --help >/dev/null 2>&1; then
      goroscope=$target/release/goroscope
    else
      goroscope_note="goroscope has no analyze command in this build"
    fi
  else
    goroscope_note="goroscope did not build (see the cargo errors above)"
  fi
else
  goroscope_note="no goroscope CLI crate"
fi
[ -z "$goroscope_note" ] || say "run.sh: $goroscope_note: timing the count example only"
analyze_args=(--output json ${BENCH_ANALYZE_ARGS:-})
# Reference for the pprof forms: go tool pprof -raw (built into the Go cache on first use).
GOTOOLCHAIN=local "$go" tool pprof -h >/dev/null 2>&1 || true
pprof=$(GOTOOLCHAIN=local "$go" tool -n pprof 2>/dev/null || true)
[ -x "$pprof" ] || pprof=""
[ -n "$pprof" ] || say "run.sh: go tool pprof unavailable: no reference column for debug=1/proto"

# --- measuring -----------------------------------------------------------------------------------
# time_cmds NAME CMD... : mean seconds of each command, one line each, into $out/NAME.tsv.
# Every command is one string, split like a shell would (quotes work) but run without one;
# output is read through a pipe and dropped; a non-zero exit (goroscope's 1 = leaks found) is not a failure.
time_cmds() {
  local name=$1
  shift
  if [ $have_hyperfine = 1 ]; then
    # --output=pipe: GNU grep stops at the first match when its stdout is /dev/null, even with -c.
    hyperfine --shell=none --ignore-failure --output=pipe --warmup 1 --runs "$runs" --style basic \
      --export-csv "$out/$name.csv" "$@" >"$out/$name.hyperfine.txt" 2>&1 ||
      die "hyperfine failed for $name: see $out/$name.hyperfine.txt"
    # command,mean,stddev,median,user,system,min,max -> command, mean, stddev, min, user+system
    # (fields counted from the right: a command may hold a comma)
    tail -n +2 "$out/$name.csv" | awk -F, '{ printf "%s\t%.6f\t%.6f\t%.6f\t%.6f\n",
      $1, $(NF-6), $(NF-5), $(NF-1), $(NF-3) + $(NF-2) }' >"$out/$name.tsv"
  else
    # One warm-up, then $runs timed runs through a shell (which adds a millisecond or two).
    : >"$out/$name.tsv"
    local c i t0 t1
    for c in "$@"; do
      bash -c "$c" | cat >/dev/null || true
      : >"$out/.runs"
      for ((i = 0; i < runs; i++)); do
        t0=$(date +%s%N)
        if [ $have_time = 1 ]; then # CPU from GNU time (10 ms resolution), wall from date
          /usr/bin/time -f '%U %S' -o "$out/.cpu" bash -c "$c" | cat >/dev/null || true
        else
          echo "0 0" >"$out/.cpu"
          bash -c "$c" | cat >/dev/null || true
        fi
        t1=$(date +%s%N)
        echo "$(((t1 - t0) / 1000)) $(tail -n 1 "$out/.cpu")" |
          awk '{ printf "%.6f %s %s\n", $1 / 1e6, $2, $3 }' >>"$out/.runs"
      done
      awk -v c="$c" '$1 ~ /^[0-9.]+$/ { n++; w += $1; cpu += $2 + $3; if (min == "" || $1 < min) min = $1 }
        END { printf "%s\t%.6f\t0\t%.6f\t%.6f\n", c, w / n, min, cpu / n }' "$out/.runs" >>"$out/$name.tsv"
    done
  fi
}

# mean_of NAME ROW: the mean wall seconds of the ROW-th command (1-based) of a time_cmds result;
# cpu_of: its mean user+system CPU seconds (0 without hyperfine).
mean_of() { sed -n "${2}p" "$out/$1.tsv" | cut -f2; }
cpu_of() { sed -n "${2}p" "$out/$1.tsv" | cut -f5; }

# rss_kb CMD...: peak RSS in KiB of one run.
rss_kb() {
  if [ $have_time = 1 ]; then
    /usr/bin/time -f %M -o "$out/.rss" "$@" >/dev/null || true
    tail -n 1 "$out/.rss"
  else
    echo 0
  fi
}

# manifest_total N: the exact goroutine count the generator recorded.
manifest_total() {
  sed -n 's/^  "goroutines": \([0-9]*\),$/\1/p' "$data/goroutines-$1.manifest.json" | head -n 1
}

# json_total FILE: total_goroutines from goroscope's JSON output.
json_total() {
  grep -o '"total_goroutines"[[:space:]]*:[[:space:]]*[0-9]*' "$1" | head -n 1 | grep -o '[0-9]*$'
}

fail=0
check() { # check WHAT GOT WANT
  if [ "$2" = "$3" ]; then
    printf '%s\n' "- $1: $2 goroutines (= manifest)" >>"$out/checks.md"
  else
    printf '%s\n' "- $1: **$2 goroutines, manifest says $3**" >>"$out/checks.md"
    say "run.sh: COUNT MISMATCH: $1: got '$2', manifest $3"
    fail=1
  fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

: >"$out/checks.md"
{
  echo "| goroutines | size | wc -l | grep -c | ingest 1 thread | ingest (count) | analyze | ingest/grep | **analyze/grep** | analyze/ingest |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$out/debug2.md"
{
  echo "| goroutines | grep -c | ingest 1 thread | ingest (count) | analyze | ingest/grep | analyze/grep | analyze/ingest |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$out/debug2-cpu.md"
{
  echo "| goroutines | size | ingest RSS | analyze RSS | ingest RSS/size | **analyze RSS/size** |"
  echo "|---:|---:|---:|---:|---:|---:|"
} >"$out/debug2-rss.md"
{
  echo "| goroutines | form | size | go tool pprof -raw | ingest (count) | analyze | ingest RSS | analyze RSS |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|"
} >"$out/aggregated.md"

for n in "${sizes[@]}"; do
  want=$(manifest_total "$n")
  [ -n "$want" ] || die "no goroutine count in $data/goroutines-$n.manifest.json"
  f=$data/goroutines-$n.debug2.txt
  size=$(stat -c %s "$f")
  say "run.sh: debug=2, $n goroutines ($(mb "$size") MB), $runs runs each"

  check "debug=2 $n, count example" "$("$count" "$f")" "$want"
  cmds=("wc -l $f" "grep -c '^goroutine ' $f" "$count $f" "$count --threads 1 $f")
  if [ -n "$goroscope" ]; then
    "$goroscope" analyze "$f" "${analyze_args[@]}" >"$out/analyze-$n.json" || true
    check "debug=2 $n, goroscope analyze" "$(json_total "$out/analyze-$n.json")" "$want"
    cmds+=("$goroscope analyze $f ${analyze_args[*]}")
  fi
  time_cmds "debug2-$n" "${cmds[@]}"
  t_wc=$(mean_of "debug2-$n" 1)
  t_grep=$(mean_of "debug2-$n" 2) c_grep=$(cpu_of "debug2-$n" 2)
  t_count=$(mean_of "debug2-$n" 3) c_count=$(cpu_of "debug2-$n" 3)
  t_one=$(mean_of "debug2-$n" 4) c_one=$(cpu_of "debug2-$n" 4)
  rss_count=$(rss_kb "$count" "$f")
  t_an="" c_an="" rss_an=""
  if [ -n "$goroscope" ]; then
    t_an=$(mean_of "debug2-$n" 5) c_an=$(cpu_of "debug2-$n" 5)
    rss_an=$(rss_kb "$goroscope" analyze "$f" "${analyze_args[@]}")
  fi
  printf '| %s | %s MB | %s ms | %s ms | %s ms | %s ms | %s | %s | %s | %s |\n' \
    "$n" "$(mb "$size")" "$(ms "$t_wc")" "$(ms "$t_grep")" "$(ms "$t_one")" "$(ms "$t_count")" \
    "${t_an:+$(ms "$t_an") ms}" "$(ratio "$t_count" "$t_grep")" \
    "${t_an:+$(ratio "$t_an" "$t_grep")}" "${t_an:+$(ratio "$t_an" "$t_count")}" >>"$out/debug2.md"
  printf '| %s | %s ms | %s ms | %s ms | %s | %s | %s | %s |\n' \
    "$n" "$(ms "$c_grep")" "$(ms "$c_one")" "$(ms "$c_count")" "${c_an:+$(ms "$c_an") ms}" \
    "$(ratio "$c_count" "$c_grep")" "${c_an:+$(ratio "$c_an" "$c_grep")}" \
    "${c_an:+$(ratio "$c_an" "$c_count")}" >>"$out/debug2-cpu.md"
  printf '| %s | %s MB | %s MB | %s | %s | %s |\n' \
    "$n" "$(mb "$size")" "$(mb $((rss_count * 1024)))" "${rss_an:+$(mb $((rss_an * 1024))) MB}" \
    "$(ratio $((rss_count * 1024)) "$size")" "${rss_an:+$(ratio $((rss_an * 1024)) "$size")}" \
    >>"$out/debug2-rss.md"

  for form in debug1.txt pb.gz; do
    g=$data/goroutines-$n.$form
    gsize=$(stat -c %s "$g")
    check "$form $n, count example" "$("$count" "$g")" "$want"
    cmds=("$count $g")
    if [ -n "$goroscope" ]; then
      "$goroscope" analyze "$g" "${analyze_args[@]}" >"$out/analyze-$n-$form.json" || true
      check "$form $n, goroscope analyze" "$(json_total "$out/analyze-$n-$form.json")" "$want"
      cmds+=("$goroscope analyze $g ${analyze_args[*]}")
    fi
    [ -z "$pprof" ] || cmds+=("$pprof -raw $g")
    time_cmds "$form-$n" "${cmds[@]}"
    t_c=$(mean_of "$form-$n" 1)
    t_a="" r_a="" t_p=""
    [ -z "$pprof" ] || t_p=$(mean_of "$form-$n" "${#cmds[@]}")
    if [ -n "$goroscope" ]; then
      t_a=$(mean_of "$form-$n" 2)
      r_a=$(rss_kb "$goroscope" analyze "$g" "${analyze_args[@]}")
    fi
    printf '| %s | %s | %s kB | %s | %s ms | %s | %s MB | %s |\n' "$n" "${form%%.*}" "$((gsize / 1000))" \
      "${t_p:+$(ms "$t_p") ms}" "$(ms "$t_c")" "${t_a:+$(ms "$t_a") ms}" "$(mb $(($(rss_kb "$count" "$g") * 1024)))" \
      "${r_a:+$(mb $((r_a * 1024))) MB}" >>"$out/aggregated.md"
  done
done

{
  echo "# goroscope bench/run.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r);" \
    "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Source: $src_rev."
  echo "Mean of $runs runs after one warm-up (files in the page cache), outputs read through a pipe;"
  echo "RSS: one run, GNU time. Locale: LANG=${LANG:-} LC_ALL=${LC_ALL:-}."
  echo "count = \`crates/goroscope-ingest/examples/count.rs\` (read_input, print the total; all cores" \
    "unless '1 thread');" \
    "analyze = \`goroscope analyze FILE ${analyze_args[*]}\`."
  [ -z "$goroscope_note" ] || echo "goroscope analyze not timed: $goroscope_note."
  echo
  echo "## debug=2 text: wall clock (goal: analyze/grep <= 1.5; issue 3: analyze/ingest <= 1.2 at 1M)"
  echo
  cat "$out/debug2.md"
  echo
  echo "## debug=2 text: CPU time, user + system (less sensitive to a loaded machine)"
  echo
  cat "$out/debug2-cpu.md"
  echo
  echo "## debug=2 text: peak RSS (goal: RSS/size <= 0.25)"
  echo
  cat "$out/debug2-rss.md"
  echo
  echo "## debug=1 and protobuf (goal: milliseconds)"
  echo
  cat "$out/aggregated.md"
  echo
  echo "## Goroutine counts against the generator's manifest"
  echo
  cat "$out/checks.md"
} >"$out/summary.md"
cat "$out/summary.md"
say "run.sh: results in $out"
exit $fail
