#!/usr/bin/env bash
# The open model's schedule under load: the arrival worker (tests/workers/arrivals.rs, one
# GET per iteration) standalone on the load core, against an HTTP/1.1 target on the other
# core that answers every request after 1 ms (bench/workers/delay_target.rs). For each
# rate: the per-second counts of what was served (the worker's --json num_reqs_per_sec,
# seconds 2 to SECONDS-1), their mean, min and max, the worst second's deviation from the
# rate, the dropped iterations, and the worker's CPU (user+sys over the run, % of one core).
#   bench/arrivals.sh [SECONDS] [RATES...]     (default 12 s; 5000 10000 20000 40000)
source "$(dirname "$0")/common.sh"
secs="${1:-12}"; shift || true
rates=("${@:-5000 10000 20000 40000}")
read -r -a rates <<<"${rates[*]}"
build bench_delay_target
cargo build --release --quiet --features http --example e2e_arrivals >&2
port=$(free_port)
taskset -c "$TARGET_CORE" target/release/examples/bench_delay_target "$port" 1 &
target=$!
trap 'kill $target 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
printf '| rate /s | mean /s | min /s | max /s | worst second | dropped | worker CPU |\n|---|---|---|---|---|---|---|\n'
for rate in "${rates[@]}"; do
  rm -f "$out"/arrivals.json "$out"/arrivals_failures.csv
  /usr/bin/time -f '%U %S' -o "$out/arrivals.time" taskset -c "$LOAD_CORE" \
    target/release/examples/e2e_arrivals --standalone --only-summary -L warn \
    -H "http://127.0.0.1:$port" -u 500 -r 100000 --arrival-rate "$rate" -t "${secs}s" \
    --json-file "$out/arrivals" --csv "$out/arrivals" >/dev/null 2>"$out/arrivals.log" || true
  python3 - "$out/arrivals.json" "$out/arrivals_failures.csv" "$out/arrivals.time" "$rate" "$secs" <<'PY'
import csv, json, sys
stats, failures, times, rate, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
hit = next(r for r in json.load(open(stats)) if r["name"] == "hit")
per = {int(k): v for k, v in hit["num_reqs_per_sec"].items()}
first = min(per)
seconds = [per.get(s, 0) for s in range(first + 2, first + secs - 1)]
mean = sum(seconds) / len(seconds)
worst = max(abs(n - rate) for n in seconds) / rate * 100
dropped = sum(int(r["Occurrences"]) for r in csv.DictReader(open(failures)) if r["Method"] == "arrival")
u, s = map(float, open(times).read().split()[-2:])
print(f"| {rate:.0f} | {mean:.1f} | {min(seconds)} | {max(seconds)} | {worst:.2f} % | {dropped} | {100 * (u + s) / secs:.0f} % |")
PY
done
