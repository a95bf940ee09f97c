#!/usr/bin/env bash
# A Locust master's capacity in boomer workers: N replayed workers (bench/master_scaling.py)
# report to one master on its own core, 100 names and then 10 names per report.
#   bench/master-scaling.sh [SECONDS]      (default 20 s of steady window per run)
# WORKERS_100 / WORKERS_10 override the worker counts tried.
source "$(dirname "$0")/common.sh"
secs="${1:-20}"
python="$(dirname "$locust")/python"
echo "# $0 $* ($(date -u +%F), Locust $("$locust" --version 2>&1 | awk '{print $2}'), master on core $TARGET_CORE)"
printf '| names | workers | reports/s | entries/s | master CPU %% | lag p50 ms | lag max ms | not missing | web API ms |\n'
printf '|------:|--------:|----------:|----------:|-------------:|-----------:|-----------:|------------:|-----------:|\n'
"$python" bench/master_scaling.py --locust "$locust" --names 100 --seconds "$secs" \
  --master-core "$TARGET_CORE" --load-core "$LOAD_CORE" --workers ${WORKERS_100:-100 300 500 700 900}
"$python" bench/master_scaling.py --locust "$locust" --names 10 --seconds "$secs" \
  --master-core "$TARGET_CORE" --load-core "$LOAD_CORE" --workers ${WORKERS_10:-1000 2000 3000 4000 5000}
