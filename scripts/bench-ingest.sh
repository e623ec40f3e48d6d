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
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/release/weir
PORT=18095
SYSTEM=bench-system-token-0123456789abcdef
WORK=$(mktemp -d /tmp/bench-ingest.XXXXXX)
[ -x "$BIN" ] || { echo "build first: cargo build --release -p weir" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# The per-connector rate limit (100/min by default) is lifted: it is what is measured against.
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=$SYSTEM WEIR_DATA_DIR=$WORK/data WEIR_RATE_LIMIT_PER_MINUTE=0
case "$DB" in
  postgres)
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS weir_ingest WITH (FORCE)" -c "CREATE DATABASE weir_ingest" >/dev/null 2>&1
    export WEIR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/weir_ingest ;;
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
wrk -t2 -c64 -d"${SECS}s" --latency -s "$WORK/post.lua" "$BASE$URL" > "$WORK/wrk.out"
read -r _ ACKED REQUESTS P50 P99 MAX NON2XX < <(grep '^RESULT' "$WORK/wrk.out")
RSS=$(awk '/VmHWM/ {print $2}' /proc/$SERVER/status)
STORED=$(api GET "/api/v1/integration/webhook-events?per_page=1" "$ADMIN" | python3 -c "import json,sys; print(json.load(sys.stdin)['meta']['total'])")
RATE=$(python3 -c "print(round($ACKED / $SECS))")
echo "ingest $DB ${SECS}s wrk -t2 -c64 1 KB bearer: accepted/s $RATE; p50 ${P50} ms p99 ${P99} ms max ${MAX} ms;" \
  "non-2xx $NON2XX; peak RSS $((RSS / 1024)) MB; stored $STORED vs acknowledged $ACKED (in flight at stop: $((STORED - ACKED)))"
