#!/usr/bin/env bash
# API fuzzing against the contract: Schemathesis generates requests from
# GET /api/v1/openapi.json and checks every answer against the same
# document (no 5xx, documented status codes, content types and schemas).
#
#   scripts/schemathesis.sh [max-examples] [seconds]
#
# max-examples: test cases per operation and phase (default 30).
# seconds: wall-clock bound for the Schemathesis passes together (default
# 240); a pass cut by it counts as a failure.
#
# What it does: a virtual environment with the pinned Schemathesis
# (target/schemathesis-venv, from scripts/schemathesis-requirements.txt),
# a debug build of `weir`, then — in a network namespace of its own with
# only loopback, so nothing the fuzzer makes the server call (connection
# tests, syncs, destinations at generated URLs) can leave the machine —
# the real server on 127.0.0.1 with a temporary SQLite database, a tenant,
# an admin token and a few seeded objects (two connectors, a receiver, a
# mapping, sync configurations, a run, an event, a change request, a
# record) whose ids the fuzzer is given for the `{id}` path parameters
# half of the time, plus a second tenant whose receiver takes the fuzzed
# deliveries. Two passes: every tenant operation with the admin token, and
# the system API (`/api/v1/system/…`) with the system token. Excluded:
# `GET /api/v1/integration/stream` (Server-Sent Events: the answer never
# ends). The seed is fixed, so a run is reproducible.
#
# Environment: WEIR_SCHEMATHESIS_SEED (another seed), WEIR_SCHEMATHESIS_CHECKS
# (another check list, e.g. `all`), WEIR_SCHEMATHESIS_ARGS (more options).
# Reports, each pass's output and the server log: target/schemathesis/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAX_EXAMPLES=${1:-30}
BUDGET=${2:-240}
SEED=${WEIR_SCHEMATHESIS_SEED:-20260512}
VENV=$ROOT/target/schemathesis-venv
REQUIREMENTS=$ROOT/scripts/schemathesis-requirements.txt
OUT=$ROOT/target/schemathesis
BIN=$ROOT/target/debug/weir

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- outside
if [ "${WEIR_SCHEMATHESIS_INNER:-}" != 1 ]; then
  case "$MAX_EXAMPLES$BUDGET" in *[!0-9]*) echo "usage: $0 [max-examples] [seconds]" >&2; exit 2 ;; esac
  want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
  if [ ! -x "$VENV/bin/schemathesis" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    log "virtual environment $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" >"$VENV/.requirements.sha256"
  fi
  log "$("$VENV/bin/schemathesis" --version)"
  log "cargo build -p weir"
  (cd "$ROOT" && cargo build --quiet -p weir)
  mkdir -p "$OUT"
  export WEIR_SCHEMATHESIS_INNER=1
  if command -v ip >/dev/null && unshare --net true 2>/dev/null; then
    exec unshare --net env WEIR_SCHEMATHESIS_NETNS=1 bash "$0" "$MAX_EXAMPLES" "$BUDGET"
  fi
  log "warning: cannot create a network namespace; outbound calls go to a dead loopback proxy instead"
fi

# ----------------------------------------------------------------- inside
if [ "${WEIR_SCHEMATHESIS_NETNS:-}" = 1 ]; then
  ip link set lo up
fi
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  [ -f "$WORK/server.log" ] && cp "$WORK/server.log" "$OUT/server.log"
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
SYSTEM_TOKEN=weir_schemathesis_system_token_0123456789
# Any 32 bytes: the database is new and thrown away afterwards.
MASTER_KEY=$(head -c 32 /dev/urandom | base64)

log "weir serve on $BASE (data in $WORK)"
# Outbound requests go to a proxy on a loopback port nobody listens on: a
# second guard besides the namespace.
env $(compgen -e | grep '^WEIR_SCHEMATHESIS_' | sed 's/^/-u /') HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 NO_PROXY= \
  WEIR_DATA_DIR="$WORK" WEIR_SYSTEM_TOKEN="$SYSTEM_TOKEN" WEIR_MASTER_KEY="$MASTER_KEY" \
  WEIR_RATE_LIMIT_PER_MINUTE=0 WEIR_LOG=warn WEIR_SYNC_RETRY_BACKOFF=10ms,10ms WEIR_RETRY_BACKOFF=10ms,10ms \
  "$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "the server exited" >&2; exit 1; }
  sleep 0.1
done
curl -sf "$BASE/readyz" >/dev/null

# call METHOD PATH TOKEN [JSON] → the body; fails unless 2xx.
call() {
  local args=(-sS --fail-with-body -X "$1" "$BASE$2" -H "Authorization: Bearer $3")
  [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data "$4")
  curl "${args[@]}"
}

log "seeding"
TENANT=$(call POST /api/v1/system/tenants "$SYSTEM_TOKEN" '{"slug": "fuzz", "name": "Fuzz"}' | jq -r .data.id)
ADMIN=$(call POST "/api/v1/system/tenants/$TENANT/tokens" "$SYSTEM_TOKEN" '{"name": "schemathesis", "role": "admin"}' | jq -r .data.token)
VIEWER_ID=$(call POST "/api/v1/system/tenants/$TENANT/tokens" "$SYSTEM_TOKEN" '{"name": "viewer", "role": "viewer"}' | jq -r .data.id)
I=/api/v1/integration
RECEIVER_SECRET=receiver-secret-0123456789abcdef
HTTP_CONNECTOR=$(call POST $I/connectors "$ADMIN" '{"code": "partner", "name": "Partner API", "type": "http",
  "environment": "development",
  "config": {"base_url": "http://127.0.0.1:9/api", "health_path": "/health", "timeout_ms": 1000, "auth": {"type": "bearer"}},
  "credentials": {"token": "partner-secret"}}' | jq -r .data.id)
HOOK_CONNECTOR=$(call POST $I/connectors "$ADMIN" '{"code": "shop", "name": "Shop", "type": "webhook"}' | jq -r .data.id)
RECEIVER_JSON=$(call POST "$I/connectors/$HOOK_CONNECTOR/webhook-receivers" "$ADMIN" \
  "{\"event_type\": \"*\", \"auth\": {\"method\": \"bearer\"}, \"secret\": \"$RECEIVER_SECRET\"}")
RECEIVER=$(jq -r .data.id <<<"$RECEIVER_JSON")
RECEIVER_KEY=$(jq -r '.data.receiver_url | split("/") | last' <<<"$RECEIVER_JSON")
MAPPING=$(call POST $I/field-mappings "$ADMIN" '{"name": "Orders", "entity_type": "order", "key": "external_id",
  "rules": [{"source": "data.id", "target": "external_id", "transforms": [{"op": "to_string"}], "required": true},
            {"source": "data.total", "target": "total"}]}' | jq -r .data.id)
HOOK_SYNC=$(call POST $I/sync-configurations "$ADMIN" "{\"connector_id\": \"$HOOK_CONNECTOR\", \"name\": \"Orders in\",
  \"direction\": \"inbound\", \"entity_type\": \"order\", \"field_mapping_id\": \"$MAPPING\", \"trigger\": \"webhook\",
  \"event_types\": [\"*\"]}" | jq -r .data.id)
PULL_SYNC=$(call POST $I/sync-configurations "$ADMIN" "{\"connector_id\": \"$HTTP_CONNECTOR\", \"name\": \"Orders pull\",
  \"direction\": \"inbound\", \"entity_type\": \"order\", \"field_mapping_id\": \"$MAPPING\", \"trigger\": \"manual\",
  \"source\": {\"path\": \"/orders\", \"records_path\": \"data\"}}" | jq -r .data.id)
RUN=$(call POST "$I/sync-configurations/$PULL_SYNC/execute" "$ADMIN" | jq -r .data.sync_history_id)
curl -sS --fail-with-body -X POST "$BASE$I/webhooks/shop/receive/$RECEIVER_KEY" \
  -H "Authorization: Bearer $RECEIVER_SECRET" -H 'Content-Type: application/json' \
  --data '{"id": "evt_1", "type": "order.created", "data": {"id": 42, "total": 9.5}}' >/dev/null
CHANGE=$(call PATCH "$I/connectors/$HOOK_CONNECTOR" "$ADMIN" '{"environment": "staging"}' | jq -r .data.change_request.id)
# The receive endpoint's target lives in a second tenant, out of the admin
# pass's reach: the fuzzer deletes what it finds, and deliveries need a
# receiver that stays.
INTAKE=$(call POST /api/v1/system/tenants "$SYSTEM_TOKEN" '{"slug": "intake", "name": "Intake"}' | jq -r .data.id)
INTAKE_ADMIN=$(call POST "/api/v1/system/tenants/$INTAKE/tokens" "$SYSTEM_TOKEN" '{"name": "seed", "role": "admin"}' | jq -r .data.token)
INTAKE_CONNECTOR=$(call POST $I/connectors "$INTAKE_ADMIN" '{"code": "intake", "name": "Intake", "type": "webhook"}' | jq -r .data.id)
INTAKE_KEY=$(call POST "$I/connectors/$INTAKE_CONNECTOR/webhook-receivers" "$INTAKE_ADMIN" \
  "{\"event_type\": \"*\", \"auth\": {\"method\": \"bearer\"}, \"secret\": \"$RECEIVER_SECRET\"}" \
  | jq -r '.data.receiver_url | split("/") | last')
INTAKE_MAPPING=$(call POST $I/field-mappings "$INTAKE_ADMIN" '{"name": "Any", "entity_type": "thing", "key": "external_id",
  "rules": [{"source": "id", "target": "external_id", "transforms": [{"op": "to_string"}], "required": true}]}' | jq -r .data.id)
call POST $I/sync-configurations "$INTAKE_ADMIN" "{\"connector_id\": \"$INTAKE_CONNECTOR\", \"name\": \"Things\",
  \"direction\": \"inbound\", \"entity_type\": \"thing\", \"field_mapping_id\": \"$INTAKE_MAPPING\", \"trigger\": \"webhook\",
  \"event_types\": [\"*\"]}" >/dev/null
for _ in $(seq 1 100); do
  EVENT=$(call GET "$I/webhook-events" "$ADMIN" | jq -r '.data[0].id // empty')
  RECORDS=$(call GET "$I/records?entity_type=order" "$ADMIN" | jq -r '.meta.total')
  [ -n "$EVENT" ] && [ "$RECORDS" != 0 ] && break
  sleep 0.1
done
log "tenant $TENANT, connectors $HTTP_CONNECTOR $HOOK_CONNECTOR, receiver $RECEIVER, mapping $MAPPING,"
log "syncs $HOOK_SYNC $PULL_SYNC, run $RUN, event ${EVENT:-none}, change request $CHANGE, records $RECORDS"

# Each pass's token comes from WEIR_SCHEMATHESIS_BEARER; the receive
# endpoint gets the intake receiver's secret instead, so deliveries get past
# authentication to the body checks. Seeded ids stand in for `{id}` half of
# the time (the rest are generated), except in DELETEs, so the seeds last
# (Schemathesis still deletes some: it reuses ids from list answers).
cat >"$WORK/schemathesis.toml" <<EOF
headers = { Authorization = "Bearer \${WEIR_SCHEMATHESIS_BEARER}" }

[dictionaries]
connectors = { values = ["$HTTP_CONNECTOR", "$HOOK_CONNECTOR"] }
connector_codes = { values = ["intake"] }
receivers = { values = ["$RECEIVER"] }
receiver_keys = { values = ["$INTAKE_KEY"] }
events = { values = ["${EVENT:-$RECEIVER}"] }
mappings = { values = ["$MAPPING"] }
syncs = { values = ["$HOOK_SYNC", "$PULL_SYNC"] }
runs = { values = ["$RUN"] }
changes = { values = ["$CHANGE"] }
entity_types = { values = ["order"] }
external_ids = { values = ["42"] }
tenants = { values = ["$TENANT"] }
tokens = { values = ["$VIEWER_ID"] }

[[operations]]
include-path-regex = "^/api/v1/integration/connectors/"
exclude-method = "DELETE"
parameters = { "path.id" = { dictionary = "connectors", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/webhook-receivers/"
exclude-method = "DELETE"
parameters = { "path.id" = { dictionary = "receivers", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/webhooks/"
exclude-method = "DELETE"
headers = { Authorization = "Bearer $RECEIVER_SECRET" }
parameters = { "path.connector_code" = { dictionary = "connector_codes", probability = 0.5 }, "path.receiver_key" = { dictionary = "receiver_keys", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/webhook-events/"
exclude-method = "DELETE"
parameters = { "path.id" = { dictionary = "events", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/field-mappings/"
exclude-method = "DELETE"
parameters = { "path.id" = { dictionary = "mappings", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/sync-configurations/"
exclude-method = "DELETE"
parameters = { "path.id" = { dictionary = "syncs", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/sync-histories/"
exclude-method = "DELETE"
parameters = { "path.id" = { dictionary = "runs", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/change-requests/"
exclude-method = "DELETE"
parameters = { "path.id" = { dictionary = "changes", probability = 0.5 } }
[[operations]]
include-path-regex = "^/api/v1/integration/records/"
exclude-method = "DELETE"
parameters = { "path.entity_type" = { dictionary = "entity_types", probability = 0.5 }, "path.external_id" = { dictionary = "external_ids", probability = 0.5 } }
# A deleted (deactivated) user or service account stays readable, with
# its deactivated_at: the audit trail names it, and docs/users.md documents
# it. So the stateful "deleted resource still available" check (ST301) does
# not apply to their DELETEs; the other phases still fuzz them.
[[operations]]
include-name-regex = "^DELETE /api/v1/(service-accounts|users)/"
phases.stateful.enabled = false
[[operations]]
include-path-regex = "^/api/v1/system/tenants/"
exclude-method = "DELETE"
parameters = { "path.tenant_id" = { dictionary = "tenants", probability = 0.5 }, "path.token_id" = { dictionary = "tokens", probability = 0.5 } }
EOF

CHECKS=${WEIR_SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth,use_after_free,ensure_resource_availability}
DEADLINE=$(( $(date +%s) + BUDGET ))
FAILED=0
TOTALS=$WORK/totals

# pass NAME TOKEN FILTER-ARGS…: one Schemathesis run; its output goes to
# the terminal and to $OUT/NAME.log, its JUnit report to $OUT/NAME.junit.xml.
pass() {
  local name=$1 token=$2; shift 2
  local left=$(( DEADLINE - $(date +%s) ))
  rm -f "$OUT/$name.log" "$OUT/$name.junit.xml"
  if [ "$left" -le 0 ]; then
    echo "pass $name: no time left of the $BUDGET s budget" >&2
    FAILED=1
    return
  fi
  log "pass $name: up to $MAX_EXAMPLES examples per operation and phase, seed $SEED, at most $left s"
  local rc=0
  # shellcheck disable=SC2086 # WEIR_SCHEMATHESIS_ARGS is a list of options
  WEIR_SCHEMATHESIS_BEARER=$token timeout --signal=INT --kill-after=15 "$left" \
    "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/api/v1/openapi.json" \
      --checks "$CHECKS" \
      --max-examples "$MAX_EXAMPLES" \
      --seed "$SEED" \
      --generation-database none \
      --workers 1 \
      --request-timeout 35 \
      --no-color \
      --report junit --report-junit-path "$OUT/$name.junit.xml" \
      ${WEIR_SCHEMATHESIS_ARGS:-} "$@" 2>&1 | tee "$OUT/$name.log" || rc=${PIPESTATUS[0]}
  case $rc in
    0) ;;
    124 | 137) echo "pass $name: cut by the wall-clock bound" >&2; FAILED=1 ;;
    *) FAILED=1 ;;
  esac
  summarize "$name"
}

# Operations and failures from the JUnit report, test cases from the
# output's summary; adds them to $TOTALS.
summarize() {
  python3 - "$OUT/$1.junit.xml" "$OUT/$1.log" "$1" "$TOTALS" <<'PY'
import os, re, sys
import xml.etree.ElementTree as ET
xml, log, name, totals = sys.argv[1:]
ops, failing = 0, []
if os.path.exists(xml):
    for case in ET.parse(xml).getroot().iter("testcase"):
        if case.get("name") != "Stateful tests":
            ops += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failing.append(case.get("name"))
m = re.search(r"^\s*(\d+) generated", open(log).read(), re.M) if os.path.exists(log) else None
cases = int(m.group(1)) if m else 0
print(f"pass {name}: {ops} operations, {cases} test cases, {len(failing)} failing"
      + "".join(f"\n  FAIL {n}" for n in failing))
with open(totals, "a") as f:
    f.write(f"{ops} {cases} {len(failing)}\n")
PY
}

pass admin "$ADMIN" \
  --exclude-path-regex '^/api/v1/system/' \
  --exclude-path /api/v1/integration/stream
pass system "$SYSTEM_TOKEN" \
  --include-path-regex '^/api/v1/system/'

if kill -0 "$SERVER_PID" 2>/dev/null; then :; else echo "the server died during the run" >&2; FAILED=1; fi
if grep -q 'handler panicked' "$WORK/server.log"; then
  echo "the server log shows a panic" >&2
  FAILED=1
fi
read -r OPS CASES FAILURES < <(awk '{o += $1; c += $2; f += $3} END {print o + 0, c + 0, f + 0}' "$TOTALS" 2>/dev/null || echo 0 0 0)
SUMMARY="$OPS operations, $CASES test cases (max-examples $MAX_EXAMPLES, seed $SEED), $FAILURES failing"
if [ "$FAILED" = 0 ]; then
  echo "schemathesis: passed: $SUMMARY"
else
  echo "schemathesis: FAILED: $SUMMARY (reports and logs in $OUT)"
fi
exit "$FAILED"
