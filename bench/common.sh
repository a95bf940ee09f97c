# Shared by the bench/*.sh scripts: paths, core pinning, a Locust master run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# The target (master, nginx) on one core, the load generator on the other.
TARGET_CORE="${TARGET_CORE:-0}"
LOAD_CORE="${LOAD_CORE:-1}"
locust="$(scripts/install-locust)"
out="$root/target/bench"
mkdir -p "$out"

build() {
  cargo build --release --quiet --example "$@" >&2
}

# master_run USERS SECONDS WORKER_EXAMPLE [worker env...]: a headless master on the target
# core and one worker on the load core; leaves the master's CSV in $out/run_*.csv.
master_run() {
  local users=$1 secs=$2 example=$3; shift 3
  local port=$((20000 + RANDOM % 20000))
  rm -f "$out"/run_*.csv
  taskset -c "$TARGET_CORE" "$locust" -f examples/locustfile.py --master \
    --master-bind-host 127.0.0.1 --master-bind-port "$port" --headless --only-summary \
    -u "$users" -r "$users" -t "${secs}s" --expect-workers 1 --expect-workers-max-wait 30 \
    --csv "$out/run" --exit-code-on-error 0 ${MASTER_ARGS:-} >"$out/master.log" 2>&1 &
  local master=$!
  env "$@" taskset -c "$LOAD_CORE" "target/release/examples/$example" \
    --master-host 127.0.0.1 --master-port "$port" -L warn >"$out/worker.log" 2>&1 &
  worker_pid=$!
  wait "$master" || true
  wait "$worker_pid" || true
}

# csv_col FILE NAME COLUMN: a column of the row named NAME.
csv_col() {
  python3 - "$@" <<'PY'
import csv, sys
path, name, col = sys.argv[1:]
for row in csv.DictReader(open(path)):
    if row["Name"] == name:
        print(row[col]); break
PY
}
