#!/usr/bin/env bash
# Scale benchmark of `goroscope watch`: one watcher follows N simulated services (default 1000)
# at 15 s, found through a Prometheus file-SD file. Reports the watcher's CPU (cores), peak
# resident memory and the history file's growth per day, measured over whole compaction cycles.
#
#   bench/watch-scale.sh                 # 1000 targets, 32 minutes
#   N=200 MINUTES=17 bench/watch-scale.sh
#
# Needs a release build (cargo build --release -p goroscope) and Go (scripts/install-go.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
MINUTES=${MINUTES:-32}
EVERY=${EVERY:-15s}
GO=$(ls -d .toolchains/go-*/bin/go | sort -V | tail -1)
OUT=$(mktemp -d /tmp/goroscope-watch-scale.XXXXXX)
BIN=target/release/goroscope
[ -x "$BIN" ] || { echo "build first: cargo build --release -p goroscope" >&2; exit 2; }

GOTOOLCHAIN=local GOFLAGS= GOPROXY=off GOCACHE="$PWD/fixtures/build/.gocache" GOPATH="$PWD/fixtures/build/.gopath" \
  "$GO" -C fixtures/go build -o "$OUT/watch_fleet" ./watch_fleet

cleanup() { kill "${WPID:-}" "${FPID:-}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

FLEET_N=$N FLEET_SD="$OUT/fleet.json" "$OUT/watch_fleet" > "$OUT/fleet.out" 2>&1 &
FPID=$!
for _ in $(seq 600); do grep -q READY "$OUT/fleet.out" && break; sleep 0.1; done
grep -q READY "$OUT/fleet.out" || { echo "fleet did not start" >&2; cat "$OUT/fleet.out" >&2; exit 2; }

"$BIN" watch --file-sd "$OUT/fleet.json" --every "$EVERY" --db "$OUT/history.db" \
  --listen 127.0.0.1:0 --no-stdout-alerts > "$OUT/watch.out" 2> "$OUT/watch.err" &
WPID=$!
TICK=$(getconf CLK_TCK)
cpu() { awk -v t="$TICK" '{ i = index($0, ") "); split(substr($0, i + 2), f, " "); print (f[12] + f[13]) / t }' /proc/$1/stat; }
rss() { awk '/VmRSS/ { print $2 * 1024 }' /proc/$1/status; }
dbsize() { du -cb "$OUT"/history.db* 2>/dev/null | tail -1 | cut -f1; }

echo "time_s,watcher_cpu_s,watcher_rss,fleet_cpu_s,db_bytes" > "$OUT/samples.csv"
START=$(date +%s)
END=$((START + MINUTES * 60))
while [ "$(date +%s)" -lt "$END" ]; do
  kill -0 "$WPID" 2>/dev/null || { echo "watcher died" >&2; cat "$OUT/watch.err" >&2; exit 1; }
  echo "$(( $(date +%s) - START )),$(cpu $WPID),$(rss $WPID),$(cpu $FPID),$(dbsize)" >> "$OUT/samples.csv"
  sleep 15
done
ADDR=$(grep -o 'http://127.0.0.1:[0-9]*/' "$OUT/watch.err" | head -1)
curl -s "${ADDR}metrics" > "$OUT/metrics.txt" || true
POLLS=$(awk '/^goroscope_scrapes_total/ { s += $2 } END { print s + 0 }' "$OUT/metrics.txt")
ERRS=$(awk '/^goroscope_scrape_errors_total/ { s += $2 } END { print s + 0 }' "$OUT/metrics.txt")
UP=$(awk '/^goroscope_target_up/ { s += $2 } END { print s + 0 }' "$OUT/metrics.txt")
python3 - "$OUT/samples.csv" "$N" "$POLLS" "$ERRS" "$UP" <<'PY'
import csv, sys
rows = [tuple(float(x) for x in r.values()) for r in csv.DictReader(open(sys.argv[1]))]
n, polls, errs, up = sys.argv[2:6]
# Steady state: after the first 16 minutes (one 60-poll compaction cycle at 15 s) when the run
# is long enough; else after 2 minutes.
warm = 16 * 60 if rows[-1][0] >= 31 * 60 else 120
s = [r for r in rows if r[0] >= warm]
a, b = s[0], s[-1]
dt = b[0] - a[0]
cores = (b[1] - a[1]) / dt
fleet = (b[3] - a[3]) / dt
peak = max(r[2] for r in rows)
growth = (b[4] - a[4]) / dt * 86400
print(f"targets={n} polls={polls} errors={errs} up={up}")
print(f"steady window {a[0]:.0f}-{b[0]:.0f} s: watcher {cores:.3f} cores (fleet simulator {fleet:.3f}), peak RSS {peak/2**20:.1f} MiB")
print(f"history: {b[4]/2**20:.1f} MiB at the end, growth {growth/2**20:.1f} MiB/day over the window")
PY
echo "samples: $OUT/samples.csv"
