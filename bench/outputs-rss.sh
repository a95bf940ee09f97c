#!/usr/bin/env bash
# The outputs thread's memory over a long standalone run: the e2e_names worker (100 names,
# 10 users, ~1,000 records/s) with --csv, its RSS sampled every STEP seconds.
#   bench/outputs-rss.sh [BINARY] [RUN_TIME_S] [STEP_S]
set -euo pipefail
bin=${1:-target/debug/examples/e2e_names}
run=${2:-600}
step=${3:-30}
dir=$(mktemp -d)
NAMES=100 NAMES_FAIL=1 "$bin" --standalone -u 10 -r 100 -t "${run}s" --only-summary \
    --csv "$dir/run" >"$dir/out.log" 2>&1 &
pid=$!
echo "seconds rss_kib"
t=0
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$t $rss"
    sleep "$step"
    t=$((t + step))
done
wait "$pid" || true
rm -rf "$dir"
