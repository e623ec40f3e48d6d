#!/bin/bash
# Soak benchmark (not in CI): MINUTES of mixed load — signed webhooks into
# records, a manual inbound sync every few seconds, dashboard and event list
# reads — against a release server on a fresh PostgreSQL database
# (postgres://postgres@127.0.0.1:5432, trust auth; dropped at the end).
# Prints a line per 10 s sample and a summary; exits non-zero if the soak
# failed (unexpected answers, RSS growth or lag over the limits).
# Usage: scripts/soak.sh [minutes=10] [weir-loadgen soak flags...]
#   e.g. scripts/soak.sh 10 --webhook-rate 100
set -u
MINUTES=${1:-10}; shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/release
DB=weir_soak_$$
DATA=$(mktemp -d /tmp/weir-soak.XXXXXX)
LOG=$DATA/server.log
P=

cleanup() {
  if [ -n "$P" ]; then kill -TERM "$P" 2>/dev/null; wait "$P" 2>/dev/null; fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$DATA"
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --release -q -p weir -p weir-loadgen) || exit 1
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" >/dev/null || exit 1

export WEIR_LOG=warn WEIR_DATA_DIR=$DATA
export WEIR_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
export WEIR_SYSTEM_TOKEN=soak-system-token-0123456789abcdef
export WEIR_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT

"$BIN/weir" serve --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 & P=$!
for _ in $(seq 1 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" >/dev/null || { echo "server did not become ready:"; cat "$LOG"; exit 1; }
echo "server pid $P on $BASE, database $DB, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

"$BIN/weir-loadgen" soak --base "$BASE" --minutes "$MINUTES" --server-pid "$P" "$@"
RC=$?
echo "server log: $(grep -c . "$LOG") lines at warn or above$(grep -q . "$LOG" && echo '; first ones:')"
head -5 "$LOG"
exit $RC
