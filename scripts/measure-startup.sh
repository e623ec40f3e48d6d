#!/usr/bin/env bash
# Cold start (process spawn → /readyz 200) and idle RSS of the release binary.
set -u
BIN=/work/main/target/release/weir
for i in 1 2 3 4 5; do
  d=$(mktemp -d); cd "$d"
  t0=$(date +%s%N)
  WEIR_LOG=warn $BIN serve --listen 127.0.0.1:18080 >/dev/null 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:18080/readyz >/dev/null; do sleep 0.005; done
  t1=$(date +%s%N)
  echo "run $i (first start, empty dir): $(( (t1 - t0) / 1000000 )) ms to ready"
  sleep 2
  echo "  idle RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2}') kB"
  kill -TERM $pid; wait $pid
  # warm restart on the existing database
  t0=$(date +%s%N)
  WEIR_LOG=warn $BIN serve --listen 127.0.0.1:18080 >/dev/null 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:18080/readyz >/dev/null; do sleep 0.005; done
  t1=$(date +%s%N)
  echo "  restart on existing data: $(( (t1 - t0) / 1000000 )) ms to ready"
  kill -TERM $pid; wait $pid
  cd /; rm -rf "$d"
done
