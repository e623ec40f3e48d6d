#!/bin/bash
# Ingest benchmark (issue 18): a fresh release server on a fresh database,
# a bearer receiver with default settings, and wrk -t2 -c64 posting a 1 KB
# JSON body for the given seconds (loopback only). The last line is the
# result: accepted/s, p50/p99/max, and stored vs acknowledged (wrk drops the
# answers of the requests still in flight when it stops, so stored may
# exceed acknowledged by at most the 64 connections).
#
# Usage: scripts/bench-ingest.sh [postgres|sqlite] [seconds=20]
# (The connector rate limit is lifted with WEIR_RATE_LIMIT_PER_MINUTE=0; all
# else is default: WEIR_SQLITE_SYNCHRONOUS=full, processing in the background.)
# Needs: cargo build --release -p weir; wrk (installed from Debian if missing).
set -euo pipefail
DB=${1:-postgres}; SECS=${2:-20}
# The PostgreSQL server (a loopback one; e.g. a profiling instance on another port).
PG=${WEIR_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# WEIR_BENCH_BIN: another build of weir to measure (e.g. a copy of the previous one, for an A/B).
BIN=${WEIR_BENCH_BIN:-$ROOT/target/release/weir}
PORT=18095
SYSTEM=bench-system-token-0123456789abcdef
WORK=$(mktemp -d /tmp/bench-ingest.XXXXXX)
[ -x "$BIN" ] || { echo "build first: cargo build --release -p weir" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# The per-connector rate limit (100/min by default) is lifted: it is what is measured against.
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=$SYSTEM WEIR_DATA_DIR=$WORK/data WEIR_RATE_LIMIT_PER_MINUTE=0
case "$DB" in
  postgres)
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS weir_ingest WITH (FORCE)" -c "CREATE DATABASE weir_ingest" >/dev/null 2>&1
    export WEIR_DATABASE_URL=$PG/weir_ingest ;;
  sqlite) unset WEIR_DATABASE_URL || true ;;
  *) echo "usage: $0 [postgres|sqlite] [seconds]" >&2; exit 2 ;;
esac

"$BIN" serve --listen 127.0.0.1:$PORT > "$WORK/server.log" 2>&1 & SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
BASE=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done

api() { curl -sf -X "$1" "$BASE$2" -H "authorization: Bearer $3" -H 'content-type: application/json' ${4:+-d "$4"}; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['data']['$1'])"; }
TENANT=$(api POST /api/v1/system/tenants $SYSTEM '{"slug":"bench","name":"Bench"}' | field id)
ADMIN=$(api POST /api/v1/system/tenants/$TENANT/tokens $SYSTEM '{"name":"bench","role":"admin"}' | field token)
CONNECTOR=$(api POST /api/v1/integration/connectors "$ADMIN" \
  '{"code":"shop","name":"Shop","type":"webhook","environment":"development"}' | field id)
RECEIVER=$(api POST /api/v1/integration/connectors/$CONNECTOR/webhook-receivers "$ADMIN" \
  '{"event_type":"order.created","auth":{"method":"bearer"}}')
URL=$(echo "$RECEIVER" | field receiver_url)
SECRET=$(echo "$RECEIVER" | field secret)

# A 1 KB JSON body; the answers wrk saw, counted per status.
PAD=$(python3 -c "print('x' * 960)")
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"type":"order.created","id":"o-1","pad":"$PAD"}'
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $SECRET"
local counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) accepted = 0 end
function response(status, headers, body) if status == 202 then accepted = accepted + 1 end end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("accepted") end
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f %d\n", n, summary.requests, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.status))
end
LUA
# CPU over the run, in clock ticks: the server, every postgres process, and wrk (bash's `time`).
ticks() { awk -v pid="$SERVER" '$1 == pid {w += $14 + $15} $2 == "(postgres)" {p += $14 + $15} END {print w + 0, p + 0}' /proc/[0-9]*/stat 2>/dev/null; }
read -r W0 P0 < <(ticks)
TIMEFORMAT='%U %S'
{ time wrk -t2 -c"${WEIR_BENCH_CONNECTIONS:-64}" -d"${SECS}s" --latency -s "$WORK/post.lua" "$BASE$URL" > "$WORK/wrk.out"; } 2> "$WORK/wrk.time"
read -r W1 P1 < <(ticks)
HZ=$(getconf CLK_TCK)
CPU=$(python3 -c "
u, s = map(float, open('$WORK/wrk.time').read().split()[-2:])
pct = lambda t: round(100 * t / $SECS)
print(f'CPU (% of one core): weir {pct(($W1 - $W0) / $HZ)}, postgres {pct(($P1 - $P0) / $HZ)}, wrk {pct(u + s)}')")
read -r _ ACKED REQUESTS P50 P99 MAX NON2XX < <(grep '^RESULT' "$WORK/wrk.out")
RSS=$(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)
STORED=$(api GET "/api/v1/integration/webhook-events?per_page=1" "$ADMIN" | python3 -c "import json,sys; print(json.load(sys.stdin)['meta']['total'])")
# Where the time went: the writer's commits, and how far processing kept up.
curl -sf "$BASE/metrics" > "$WORK/metrics" || true
WRITER=$(python3 - "$WORK/metrics" <<'PY'
import re, sys
m = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith('#'): continue
    k, _, v = line.rpartition(' ')
    m[k] = float(v)
get = lambda k: sum(v for key, v in m.items() if key.split('{')[0] == k)
commits = get('weir_ingest_batch_size_count') or 1
done = sum(v for k, v in m.items() if k.startswith('weir_event_attempts_total') and 'completed' in k)
print(f"writer: {int(commits)} commits, mean batch {get('weir_ingest_batch_size_sum') / commits:.1f}, "
      f"mean commit {1000 * get('weir_ingest_commit_seconds_sum') / commits:.2f} ms; events processed meanwhile {int(done)}")
PY
)
RATE=$(python3 -c "print(round($ACKED / $SECS))")
echo "$WRITER"
echo "$CPU"
echo "ingest $DB ${SECS}s wrk -t2 -c64 1 KB bearer: accepted/s $RATE; p50 ${P50} ms p99 ${P99} ms max ${MAX} ms;" \
  "non-2xx $NON2XX; peak RSS $((RSS / 1024)) MB; stored $STORED vs acknowledged $ACKED (in flight at stop: $((STORED - ACKED)))"
