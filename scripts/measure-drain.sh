#!/bin/bash
# Processing capacity: ingest N events with no workers, then time the drain
# with W workers of batch B (release build, loopback only, bounded).
# Usage: scripts/measure-drain.sh pg|sqlite [N=20000] [W=2] [B=64]
# PAST_PARTITIONS=30 (pg): also create day partitions for the 30 past days,
# as a database at the default 30-day retention has (about 38 in all).
DB=$1; N=${2:-20000}; W=${3:-2}; B=${4:-64}
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=bench-system-token-0123456789abcdef
if [ "$DB" = pg ]; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS weir_drain WITH (FORCE)" -c "CREATE DATABASE weir_drain" >/dev/null
  export WEIR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/weir_drain
  count() { psql -h 127.0.0.1 -U postgres -d weir_drain -Atc "select count(*) from webhook_events where processing_status='completed'"; }
else
  rm -rf /tmp/drain-sqlite; mkdir -p /tmp/drain-sqlite; export WEIR_DATA_DIR=/tmp/drain-sqlite
  count() { python3 -c "import sqlite3;print(sqlite3.connect('/tmp/drain-sqlite/weir.db').execute(\"select count(*) from webhook_events where processing_status='completed'\").fetchone()[0])"; }
fi
/work/main/target/release/weir serve --listen 127.0.0.1:18092 --workers 0 > /tmp/drain-server1.log 2>&1 & P=$!
sleep 2
if [ "$DB" = pg ] && [ -n "${PAST_PARTITIONS:-}" ]; then
  for d in $(seq 1 "$PAST_PARTITIONS"); do
    day=$(date -u -d "$d days ago" +%Y-%m-%d)
    psql -h 127.0.0.1 -U postgres -d weir_drain -qc "CREATE TABLE webhook_events_p${day//-/} PARTITION OF webhook_events FOR VALUES FROM ('$day 00:00:00+00') TO ('$day 00:00:00+00'::timestamptz + interval '1 day')"
  done
  echo "partitions: $(psql -h 127.0.0.1 -U postgres -d weir_drain -Atc "select count(*) from pg_inherits where inhparent = 'webhook_events'::regclass")"
fi
/work/main/target/release/weir-loadgen webhooks --base http://127.0.0.1:18092 --system-token $WEIR_SYSTEM_TOKEN --process --concurrency 64 --count $N --duration-secs 120 > /tmp/drain-loadgen.log 2>&1 & L=$!
for i in $(seq 1 240); do grep -q MATCH /tmp/drain-loadgen.log && break; sleep 0.5; done
kill $L; kill -TERM $P; wait $P
head -1 /tmp/drain-loadgen.log
T0=$(date +%s.%N)
/work/main/target/release/weir serve --listen 127.0.0.1:18092 --workers $W --worker-batch $B > /tmp/drain-server2.log 2>&1 & P=$!
for i in $(seq 1 1200); do C=$(count); [ "$C" -ge "$N" ] && break; sleep 0.25; done
T1=$(date +%s.%N)
kill -TERM $P; wait $P
python3 -c "print(f'drain $DB: {$N} events, workers=$W batch=$B: {($T1-$T0):.1f} s = {$N/($T1-$T0):.0f} events/s (includes ~1 s start-up)')"
