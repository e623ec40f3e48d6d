#!/bin/bash
# End-to-end processing run on a fresh database (release build, loopback).
# Usage: scripts/measure-e2e.sh pg|sqlite [weir-loadgen webhooks args...]
# WEIR_BENCH_BIN: another build of weir to measure (for an A/B).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${WEIR_BENCH_BIN:-$ROOT/target/release/weir}
DB=$1; shift
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=bench-system-token-0123456789abcdef
# WEIR_BENCH_POSTGRES: another loopback PostgreSQL server (e.g. a profiling instance).
PG=${WEIR_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
if [ "$DB" = pg ]; then
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS weir_e2e WITH (FORCE)" -c "CREATE DATABASE weir_e2e" >/dev/null 2>&1
  export WEIR_DATABASE_URL=$PG/weir_e2e
else
  rm -rf /tmp/e2e-sqlite; mkdir -p /tmp/e2e-sqlite; export WEIR_DATA_DIR=/tmp/e2e-sqlite
fi
"$BIN" serve --listen 127.0.0.1:18093 > /tmp/e2e-server.log 2>&1 & P=$!
sleep 2
"$ROOT/target/release/weir-loadgen" webhooks --base http://127.0.0.1:18093 --system-token $WEIR_SYSTEM_TOKEN --process "$@" 2>&1 | tail -3
kill -TERM $P; wait $P
