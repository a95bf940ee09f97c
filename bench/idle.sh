#!/usr/bin/env bash
# Idle users: the worker's RSS with N users waiting `constant(1)` between no-op tasks,
# sampled once they are all spawned; per user = (RSS(N) - RSS(1)) / N.
#   bench/idle.sh [SECONDS]      (default 12 s per run)
source "$(dirname "$0")/common.sh"
secs="${1:-12}"
build bench_idle
rss_at() {
  local users=$1 port=$((20000 + RANDOM % 20000))
  taskset -c "$TARGET_CORE" "$locust" -f examples/locustfile.py --master \
    --master-bind-host 127.0.0.1 --master-bind-port "$port" --headless --only-summary \
    -u "$users" -r "$users" -t "${secs}s" --expect-workers 1 >"$out/master.log" 2>&1 &
  local master=$!
  taskset -c "$LOAD_CORE" target/release/examples/bench_idle --master-host 127.0.0.1 \
    --master-port "$port" -L warn >"$out/worker.log" 2>&1 &
  local worker=$!
  sleep $((secs - 2))
  awk '/VmRSS/ {print $2}' "/proc/$worker/status"
  wait "$master" || true
  wait "$worker" || true
}
base=$(rss_at 1)
echo "# $0 $* ($(date -u +%F), worker on core $LOAD_CORE)"
printf '| %-9s | %-10s | %-14s |\n' users "RSS (MiB)" "bytes per user"
printf '|-----------|------------|----------------|\n'
printf '| %9s | %10.1f | %14s |\n' 1 "$(python3 -c "print($base/1024)")" "-"
for users in ${USERS:-100000 1000000}; do
  kib=$(rss_at "$users")
  printf '| %9s | %10.1f | %14.0f |\n' "$users" "$(python3 -c "print($kib/1024)")" \
    "$(python3 -c "print(($kib-$base)*1024/$users)")"
done
