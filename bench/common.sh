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
  local port; port=$(free_port)
  rm -f "$out"/run_*.csv
  taskset -c "$TARGET_CORE" ${MASTER_WRAP:-} "$locust" -f examples/locustfile.py --master \
    --master-bind-host 127.0.0.1 --master-bind-port "$port" --headless --only-summary \
    -u "$users" -r "${SPAWN_RATE:-$users}" -t "${secs}s" --expect-workers 1 --expect-workers-max-wait 30 \
    --csv "$out/run" --exit-code-on-error 0 ${MASTER_ARGS:-} >"$out/master.log" 2>&1 &
  local master=$!
  # WORKER_WRAP / MASTER_WRAP (e.g. /usr/bin/time ...) run the worker / master; WORKER_ARGS are
  # more flags; EXAMPLES_DIR is where the worker's binary is (another build, for a baseline).
  env "$@" taskset -c "$LOAD_CORE" ${WORKER_WRAP:-} "${EXAMPLES_DIR:-target/release/examples}/$example" \
    --master-host 127.0.0.1 --master-port "$port" -L warn ${WORKER_ARGS:-} >"$out/worker.log" 2>&1 &
  worker_pid=$!
  wait "$master" || true
  # A master that never started (or died) leaves the worker waiting for it: bounded.
  for _ in $(seq 100); do kill -0 "$worker_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$worker_pid" 2>/dev/null || true
  wait "$worker_pid" || true
}

# free_port: a TCP port nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
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
