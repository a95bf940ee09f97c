#!/usr/bin/env bash
# A light and an idle worker's own CPU, through a real master: "idle" is connected with no
# users, "light" runs 50 users recording 500 records/s (bench/workers/light.rs). The CPU
# is the worker's time on a CPU (the sum of /proc/PID/task/*/schedstat, in ns) from the
# 3rd second to 2 s before the end, as a percent of one core; wakeups are its context
# switches per second over the same window.
#   bench/light.sh [SECONDS] [REPEAT]          (default 20 s, 3 runs each, median shown)
#   BASE_BIN=path/to/bench_light bench/light.sh   adds a row for another build
source "$(dirname "$0")/common.sh"
secs="${1:-20}"
repeat="${2:-3}"
build bench_light

oncpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{n += $1} END {print n}'; }
switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n}'
}

# one BIN USERS: prints "cpu_percent wakeups_per_s records_per_s" for one run.
one() {
  local bin=$1 users=$2 port; port=$(free_port)
  rm -f "$out"/run_*.csv
  taskset -c "$TARGET_CORE" "$locust" -f examples/locustfile.py --master \
    --master-bind-host 127.0.0.1 --master-bind-port "$port" --headless --only-summary \
    -u "$users" -r "$((users > 0 ? users : 1))" -t "${secs}s" --expect-workers 1 --expect-workers-max-wait 30 \
    --csv "$out/run" --exit-code-on-error 0 >"$out/master.log" 2>&1 &
  local master=$!
  taskset -c "$LOAD_CORE" "$bin" --master-host 127.0.0.1 --master-port "$port" -L warn \
    >"$out/worker.log" 2>&1 &
  local worker=$!
  # The run starts when the master has its worker: from then on, a fixed window.
  for _ in $(seq 300); do grep -qs "reported as ready" "$out/master.log" && break; sleep 0.1; done
  sleep 3
  local t0 s0 t1 s1 start end
  t0=$(oncpu_ns "$worker"); s0=$(switches "$worker"); start=$(date +%s.%N)
  sleep $((secs - 5))
  t1=$(oncpu_ns "$worker"); s1=$(switches "$worker"); end=$(date +%s.%N)
  wait "$master" || true
  for _ in $(seq 100); do kill -0 "$worker" 2>/dev/null || break; sleep 0.1; done
  kill "$worker" 2>/dev/null || true
  wait "$worker" 2>/dev/null || true
  local rps; rps=$(csv_col "$out/run_stats.csv" Aggregated "Requests/s" 2>/dev/null || true)
  python3 -c "
w = $end - $start
print('%.3f %.0f %.0f' % (($t1 - $t0) / 1e9 / w * 100, ($s1 - $s0) / w, float('${rps:-0}' or 0)))"
}

median() { sort -n | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}'; }

echo "# $0 $* ($(date -u +%F), worker on core $LOAD_CORE, master on core $TARGET_CORE)"
printf '| %-22s | %-5s | %-10s | %-12s | %-10s |\n' build load "records/s" "CPU % core" "wakeups/s"
printf '|------------------------|-------|------------|--------------|------------|\n'
builds="this=target/release/examples/bench_light"
[ -n "${BASE_BIN:-}" ] && builds="base=$BASE_BIN $builds"
for load in idle:0 light:50; do
  for b in $builds; do
    name=${b%%=*} bin=${b#*=}
    runs=$(for _ in $(seq "$repeat"); do one "$bin" "${load#*:}"; done)
    cpu=$(echo "$runs" | awk '{print $1}' | median)
    wake=$(echo "$runs" | awk '{print $2}' | median)
    rps=$(echo "$runs" | awk '{print $3}' | median)
    printf '| %-22s | %-5s | %10s | %12s | %10s |\n' "$name" "${load%%:*}" "$rps" "$cpu" "$wake"
  done
done
