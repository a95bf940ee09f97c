#!/usr/bin/env bash
# Record-only through a real master: users run a task that only records a sample; the
# master's Aggregated Requests/s is what it accepted. Master on one core, worker on the other.
#   bench/record.sh [SECONDS]        (default 10 s per user count)
#   BASE=DIR bench/record.sh         (also the bench_record of DIR/target/release, a baseline
#                                     build, before each row of this one: same run, same load)
source "$(dirname "$0")/common.sh"
secs="${1:-10}"
build bench_record
echo "# $0 $* ($(date -u +%F), $(nproc) cores, master on core $TARGET_CORE, worker on core $LOAD_CORE)"
printf '| %-8s | %-10s | %-14s | %-12s |\n' users build "records/s" "total"
printf '|----------|------------|----------------|--------------|\n'
row() {
  local users=$1 build=$2 dir=$3
  EXAMPLES_DIR="$dir" master_run "$users" "$secs" bench_record
  rps=$(csv_col "$out/run_stats.csv" Aggregated "Requests/s")
  total=$(csv_col "$out/run_stats.csv" Aggregated "Request Count")
  printf '| %8s | %-10s | %14.0f | %12s |\n' "$users" "$build" "$rps" "$total"
}
for users in ${USERS:-1 100 10000 100000}; do
  if [ -n "${BASE:-}" ]; then row "$users" base "$BASE/target/release/examples"; fi
  row "$users" this target/release/examples
done
