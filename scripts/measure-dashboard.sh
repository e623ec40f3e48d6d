#!/bin/bash
# Dashboard benchmark on a fresh database (release build, loopback only):
# 1,000 connectors, EVENTS events and RUNS runs in one tenant, rollups
# rebuilt from them, then GET /dashboard timed.
# Usage: scripts/measure-dashboard.sh pg|sqlite [events=5000000] [runs=200000]
DB=$1; EVENTS=${2:-5000000}; RUNS=${3:-200000}
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=bench-system-token-0123456789abcdef WEIR_WORKERS=0 WEIR_SYNC_CONCURRENCY=0 WEIR_SCHEDULER_INTERVAL_MS=0
# TOKEN=<admin token of an earlier run>: time again on that run's database.
if [ "$DB" = pg ]; then
  [ -z "$TOKEN" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS weir_dash WITH (FORCE)" -c "CREATE DATABASE weir_dash" >/dev/null 2>&1
  export WEIR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/weir_dash
  URL=$WEIR_DATABASE_URL
else
  [ -z "$TOKEN" ] && { rm -rf /tmp/dash-sqlite; mkdir -p /tmp/dash-sqlite; }
  export WEIR_DATA_DIR=/tmp/dash-sqlite
  URL="sqlite:///tmp/dash-sqlite/weir.db?mode=rwc"
fi
BIN=$(dirname "$0")/../target/release
$BIN/weir serve --listen 127.0.0.1:18095 > /tmp/dash-server.log 2>&1 & P=$!
sleep 2
if [ -z "$TOKEN" ]; then
  OUT=$($BIN/weir-loadgen dashboard seed --base http://127.0.0.1:18095 --database-url "$URL" --events $EVENTS --runs $RUNS)
  echo "$OUT" | grep -v admin_token
  TOKEN=$(echo "$OUT" | grep admin_token | python3 -c 'import json,sys; print(json.load(sys.stdin)["admin_token"])')
  echo "admin token (TOKEN=… to time again): $TOKEN"
  T0=$(date +%s.%N); $BIN/weir rollups rebuild; T1=$(date +%s.%N)
  python3 -c "print(f'rollups rebuilt in {$T1-$T0:.1f} s')"
  # This machine's PostgreSQL runs without autovacuum: analyse the generated rows once.
  [ "$DB" = pg ] && psql -h 127.0.0.1 -U postgres -d weir_dash -qc "ANALYZE"
fi
$BIN/weir-loadgen dashboard time --base http://127.0.0.1:18095 --admin-token "$TOKEN" --calls 200
kill -TERM $P; wait $P
