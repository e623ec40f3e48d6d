#!/bin/bash
# Sync benchmarks on a fresh database (release build, loopback only):
# one inbound run of N records, then C configurations at once.
# Usage: scripts/measure-sync.sh pg|sqlite [records=100000] [configurations=200]
DB=$1; N=${2:-100000}; C=${3:-200}
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=bench-system-token-0123456789abcdef
if [ "$DB" = pg ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS weir_sync WITH (FORCE)" -c "CREATE DATABASE weir_sync" >/dev/null 2>&1
  export WEIR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/weir_sync
  [ -n "$PG_LOG_MS" ] && psql -h 127.0.0.1 -U postgres -qc "ALTER DATABASE weir_sync SET log_min_duration_statement = $PG_LOG_MS"
  # e.g. PG_PLAN_CACHE_MODE=force_custom_plan, to compare with the default plan cache (issue 18)
  [ -n "$PG_PLAN_CACHE_MODE" ] && psql -h 127.0.0.1 -U postgres -qc "ALTER DATABASE weir_sync SET plan_cache_mode = $PG_PLAN_CACHE_MODE"
else
  rm -rf /tmp/sync-sqlite; mkdir -p /tmp/sync-sqlite; export WEIR_DATA_DIR=/tmp/sync-sqlite
fi
BIN=$(dirname "$0")/../target/release
# WEIR_BENCH_BIN: another build of weir to measure (for an A/B).
${WEIR_BENCH_BIN:-$BIN/weir} serve --listen 127.0.0.1:18094 > /tmp/sync-server.log 2>&1 & P=$!
sleep 2
$BIN/weir-loadgen sync --base http://127.0.0.1:18094 --system-token $WEIR_SYSTEM_TOKEN \
  --records $N --page-size 100 --configurations $C --server-pid $P --export-errors ${E:-0}
kill -TERM $P; wait $P
