#!/bin/bash
# Ingest throughput with N api-role instances on one PostgreSQL database
# (release build, loopback). Each instance gets its own weir-loadgen
# (`webhooks`, 64 senders, its own tenant); the figures are summed. CPU
# seconds of the instances and the machine's busy share over the run show
# where the bottleneck sits. No workers run (ingest only).
# Usage: scripts/measure-scaleout.sh N [seconds]
set -euo pipefail
N=${1:?number of api instances}; SECS=${2:-15}
cd "$(dirname "$0")/.."
export WEIR_LOG=warn WEIR_SYSTEM_TOKEN=bench-system-token-0123456789abcdef
export WEIR_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
export WEIR_RATE_LIMIT_PER_MINUTE=0 WEIR_ROLE=api
DB=weir_scaleout_$$
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" >/dev/null
export WEIR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# Migrate once, then start the instances.
target/release/weir migrate >/dev/null
for i in $(seq 1 "$N"); do
  WEIR_DATA_DIR=$(mktemp -d) target/release/weir serve --listen 127.0.0.1:$((18100 + i)) > /tmp/scaleout-$i.log 2>&1 &
  PIDS+=($!)
done
for i in $(seq 1 "$N"); do
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$((18100 + i))/readyz >/dev/null && break; sleep 0.1; done
done
busy() { # machine-wide busy and total jiffies
  awk '/^cpu / { idle = $5 + $6; t = 0; for (i = 2; i <= NF; i++) t += $i; print t - idle, t }' /proc/stat
}
weir_cpu() { # CPU seconds (user+system) of the weir instances
  local s=0; for p in "${PIDS[@]}"; do s=$((s + $(awk '{ print $14 + $15 }' /proc/"$p"/stat))); done
  echo "$s / $(getconf CLK_TCK)" | bc -l
}
read -r b0 t0 < <(busy); w0=$(weir_cpu)
OUT=()
for i in $(seq 1 "$N"); do
  f=$(mktemp); OUT+=("$f")
  target/release/weir-loadgen webhooks --base http://127.0.0.1:$((18100 + i)) --duration-secs "$SECS" > "$f" 2>&1 &
done
start=$(date +%s.%N)
wait $(jobs -p | grep -v -x -F -f <(printf '%s\n' "${PIDS[@]}")) 2>/dev/null || true
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
read -r b1 t1 < <(busy); w1=$(weir_cpu)
total=0
for f in "${OUT[@]}"; do
  # The report line: "…; 202/s = N; p50 …"
  rps=$(grep -oE '202/s = [0-9]+' "$f" | head -1 | grep -oE '[0-9]+$' || true)
  echo "instance: ${rps:-?} accepted/s — $(grep -m1 -iE 'stored' "$f" || true)"
  total=$(echo "$total + ${rps:-0}" | bc)
done
echo "instances: $N; total accepted: $total req/s over ${SECS} s"
printf 'machine CPU busy: %.0f %% of 2 cores; the weir instances used %.1f of %.1f core-seconds (PostgreSQL and the load generators the rest)\n' \
  "$(echo "100 * ($b1 - $b0) / ($t1 - $t0)" | bc -l)" "$(echo "$w1 - $w0" | bc -l)" "$(echo "2 * $elapsed" | bc -l)"
