#!/bin/bash
# Ingest throughput while retention runs, vs without (PostgreSQL, release
# build, loopback). Seeds DAYS expired days of ROWS finished events each
# (~1 KB payloads, each with a provider event id and its key), starts one
# api-role instance and runs weir-loadgen `webhooks` in WINDOWS back-to-back
# windows of 5 s. After the first window a scheduler-role instance with a
# one-day window starts, and its first retention pass deletes the seeded
# days while the load goes on.
#   MODE=partitions  the seeded days are day partitions (dropped whole)
#   MODE=rows        the seeded rows sit in the default partition (deleted
#                    in 1,000-row batches: the SQLite / unpartitioned path)
#   MODE=none        the baseline: the scheduler starts too, with retention off
# Usage: scripts/measure-retention.sh partitions|rows|none [days] [rows_per_day] [windows]
set -euo pipefail
MODE=${1:?partitions, rows or none}; DAYS=${2:-5}; ROWS=${3:-100000}; WINDOWS=${4:-8}
cd "$(dirname "$0")/.."
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=bench-system-token-0123456789abcdef
export WEIR_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
export WEIR_RATE_LIMIT_PER_MINUTE=0
DB=weir_retention_$$
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -q)
"${PSQL[@]}" -c "CREATE DATABASE $DB" >/dev/null
export WEIR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
target/release/weir migrate >/dev/null

# The seed: one tenant, connector and receiver; DAYS days of finished events.
seed_start=$(date +%s)
"${PSQL[@]}" -d "$DB" <<SQL
INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES ('seed', 'seed', 'Seed', now(), now());
INSERT INTO connectors (id, tenant_id, code, name, connector_type, environment, config, created_at, updated_at)
  VALUES ('seed', 'seed', 'seed', 'Seed', 'webhook', 'development', '{}', now(), now());
INSERT INTO webhook_receivers (id, tenant_id, connector_id, receiver_key, event_type, auth_method, auth_options, created_at, updated_at)
  VALUES ('seed', 'seed', 'seed', 'seed', '*', 'none', '{}', now(), now());
SQL
for d in $(seq 2 $((DAYS + 1))); do
  day=$(date -u -d "$d days ago" +%Y-%m-%d)
  if [ "$MODE" != rows ]; then
    "${PSQL[@]}" -d "$DB" -c "CREATE TABLE webhook_events_p${day//-/} PARTITION OF webhook_events FOR VALUES FROM ('$day 00:00:00+00') TO ('$day 00:00:00+00'::timestamptz + interval '1 day')"
  fi
  "${PSQL[@]}" -d "$DB" <<SQL
INSERT INTO webhook_events (id, tenant_id, receiver_id, connector_id, event_type, provider_event_id, payload,
  payload_sha256, payload_size, processing_status, attempts, max_attempts, next_attempt_at, received_at, processed_at, updated_at)
SELECT gen_random_uuid()::text, 'seed', 'seed', 'seed', 'order.created', 'seed-$day-' || g,
  jsonb_build_object('id', g, 'pad', repeat('x', 1000)), repeat('0', 64), 1030, 'completed', 1, 3,
  t, t, t, t
FROM generate_series(1, $ROWS) g, LATERAL (SELECT '$day 00:00:00+00'::timestamptz + (g * interval '86399 seconds' / $ROWS) AS t) x;
INSERT INTO webhook_event_keys (receiver_id, provider_event_id, event_id, received_at)
SELECT receiver_id, provider_event_id, id, received_at FROM webhook_events
WHERE received_at >= '$day 00:00:00+00' AND received_at < '$day 00:00:00+00'::timestamptz + interval '1 day';
SQL
done
"${PSQL[@]}" -d "$DB" -c "VACUUM ANALYZE" -c "CHECKPOINT"
size=$("${PSQL[@]}" -d "$DB" -tAc "SELECT pg_size_pretty(pg_database_size('$DB'))")
echo "seeded $DAYS days x $ROWS events ($MODE) in $(( $(date +%s) - seed_start )) s; database $size"

WEIR_ROLE=api WEIR_EVENT_RETENTION_DAYS=0 WEIR_DATA_DIR=$(mktemp -d) \
  target/release/weir serve --listen 127.0.0.1:18201 > /tmp/retention-api.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18201/readyz >/dev/null && break; sleep 0.1; done

t0=$(date +%s.%N)
RATES=()
for w in $(seq 1 "$WINDOWS"); do
  if [ "$w" = 2 ]; then
    keep=1; [ "$MODE" = none ] && keep=0
    WEIR_LOG=info WEIR_ROLE=scheduler WEIR_EVENT_RETENTION_DAYS=$keep WEIR_DATA_DIR=$(mktemp -d) \
      target/release/weir serve --listen 127.0.0.1:18202 > /tmp/retention-scheduler.log 2>&1 &
    PIDS+=($!)
    echo "scheduler started at $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s"
  fi
  out=$(target/release/weir-loadgen webhooks --base http://127.0.0.1:18201 --duration-secs 5 2>&1)
  rps=$(grep -oE '202/s = [0-9]+' <<<"$out" | head -1 | grep -oE '[0-9]+$' || true)
  p99=$(grep -oE 'p99 [0-9.]+ ?ms' <<<"$out" | head -1 || true)
  echo "window $w ($(printf '%.0f' "$(echo "$(date +%s.%N) - $t0" | bc)") s): ${rps:-?} accepted/s ${p99}"
  [ "$w" -ge 2 ] && RATES+=("${rps:-0}")
done
printf '%s\n' "${RATES[@]}" | awk -v mode="$MODE" '{ s += $1; if (min == "" || $1 < min) min = $1 } END { printf "%s: windows 2-%d mean %.0f accepted/s, lowest %d\n", mode, NR + 1, s / NR, min }'
grep -E "retention pass done|partition dropped|retention failed" /tmp/retention-scheduler.log | sed -E 's/\x1b\[[0-9;]*m//g' | cut -c1-220 || true
left=$("${PSQL[@]}" -d "$DB" -tAc "SELECT COUNT(*) FROM webhook_events WHERE tenant_id = 'seed'")
echo "seeded events left: $left"
