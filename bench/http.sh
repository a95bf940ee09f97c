#!/usr/bin/env bash
# HTTP on loopback against nginx (one core) returning a small 200 with keep-alive; the load
# generator on the other core. Each protocol's rows next to their reference, in one run:
#   HTTP/1.1         wrk -t1 -cN        | boomer http example | Locust FastHttpUser
#   HTTPS (1.1/TLS)  wrk -t1 -cN https  | boomer http example | Locust FastHttpUser
#   HTTP/2 over TLS  h2load -cN -m1 -t1 | boomer http example
# and each generator's CPU per request (its own user+system time over the run / requests), and
# nginx's (its processes' CPU ticks over the row / requests: a generator that makes nginx work
# harder per request shows there).
#   bench/http.sh [SECONDS] [USERS]      (default 10 s, 50 users/connections)
#   PROTOCOLS="http https h2" bench/http.sh   (a subset)
#   PERF=1 bench/http.sh                      (the worker under `perf record`: target/bench/perf-*.data)
#   REPEAT=3 bench/http.sh                    (each reference/boomer pair 3 times, back to
#                                              back: medians, and the pairs' ratio range)
source "$(dirname "$0")/common.sh"
secs="${1:-10}"; users="${2:-50}"
protocols="${PROTOCOLS:-http https h2}"
command -v nginx >/dev/null && command -v wrk >/dev/null && command -v h2load >/dev/null \
  && command -v openssl >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    nginx-light wrk nghttp2-client openssl >&2
}
build http
# A test CA (the worker trusts it with --ca-cert) and a certificate for 127.0.0.1 it signs.
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 2 -subj /CN=bench-ca -keyout "$out/ca.key" -out "$out/ca.pem" 2>/dev/null
openssl req $ec -subj /CN=127.0.0.1 -keyout "$out/key.pem" -out "$out/cert.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$out/cert.ext"
openssl x509 -req -in "$out/cert.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial \
  -days 2 -extfile "$out/cert.ext" -out "$out/cert.pem" 2>/dev/null
p_http=$(free_port); p_https=$(free_port); p_h2=$(free_port)
conf="$out/nginx.conf"
cat >"$conf" <<NGINX
worker_processes 1;
daemon off;
pid $out/nginx.pid;
error_log $out/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  ssl_certificate $out/cert.pem;
  ssl_certificate_key $out/key.pem;
  ssl_session_cache shared:SSL:10m;
  server { listen 127.0.0.1:$p_http; location / { return 200 "hello world\n"; } }
  server { listen 127.0.0.1:$p_https ssl; location / { return 200 "hello world\n"; } }
  server { listen 127.0.0.1:$p_h2 ssl http2; location / { return 200 "hello world\n"; } }
}
NGINX
taskset -c "$TARGET_CORE" nginx -c "$conf" -p "$out" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$p_h2") 2>/dev/null && break
  sleep 0.1
done

# nginx_ticks: CPU clock ticks (user + system) nginx's processes have used so far.
nginx_ticks() {
  local t=0 pid
  for pid in $nginx_pid $(pgrep -P "$nginx_pid" || true); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
# nginx_us TICKS_BEFORE REQUESTS: nginx's CPU per request since TICKS_BEFORE (µs).
nginx_us() { python3 -c "print(f'{($(nginx_ticks) - $1) * 1e6 / $(getconf CLK_TCK) / max($2, 1):.2f}')"; }

# cpu_us TIME_FILE REQUESTS: microseconds of CPU per request from /usr/bin/time's "%U %S".
cpu_us() { python3 -c "u,s=map(float,open('$1').read().replace(':',' ').split()[-2:]); print(f'{(u+s)*1e6/max($2,1):.2f}')"; }
rows=()
row() { rows+=("$(printf '| %-8s | %-26s | %10.0f | %7.1f%% | %8s | %8s |' "$1" "$2" "$3" \
  "$(python3 -c "print(100*$3/$4)")" "$5" "$ngx")"); }

# wrk_run URL: sets rps and cpu.
wrk_run() {
  local t0; t0=$(nginx_ticks)
  /usr/bin/time -o "$out/wrk.time" -f "%U %S" taskset -c "$LOAD_CORE" \
    wrk -t1 -c"$users" -d"${secs}s" "$1" >"$out/wrk.out"
  rps=$(awk '/Requests\/sec/ {print $2; exit}' "$out/wrk.out")
  local n; n=$(awk '/requests in/ {print $1; exit}' "$out/wrk.out")
  cpu=$(cpu_us "$out/wrk.time" "$n")
  ngx=$(nginx_us "$t0" "$n")
}

# boomer_run URL [worker flags]: sets rps, cpu and fail.
boomer_run() {
  local url=$1; shift
  local t0; t0=$(nginx_ticks)
  # All users at once (as wrk opens all its connections at once): a one-second ramp would
  # count in the master's Requests/s (requests / time since the start), as ~5 % of 10 s.
  local perf=""
  [ -n "${PERF:-}" ] && perf="perf record -q -e cpu-clock -F 2000 --call-graph dwarf,16384 -o $out/perf-$proto_tag.data"
  SPAWN_RATE=$((users * 100)) WORKER_WRAP="$perf /usr/bin/time -o $out/boomer.time -f %U:%S" \
    MASTER_WRAP="/usr/bin/time -o $out/master.time -f %U:%S" \
    WORKER_ARGS="$*" MASTER_ARGS="--host $url" master_run "$users" "$secs" http HTTP_PATHS=/
  rps=$(csv_col "$out/run_stats.csv" Aggregated "Requests/s")
  fail=$(csv_col "$out/run_stats.csv" Aggregated "Failure Count")
  local n; n=$(csv_col "$out/run_stats.csv" Aggregated "Request Count")
  cpu=$(cpu_us "$out/boomer.time" "$n")
  ngx=$(nginx_us "$t0" "$n")
  # The master shares nginx's core: what it took from nginx in this row.
  masters+=" $(python3 -c "u,s=map(float,open('$out/master.time').read().replace(':',' ').split()[-2:]); print(f'{u+s:.2f}s')")"
}

# fast_run URL: Locust's FastHttpUser, standalone; sets rps and cpu.
fast_run() {
  local t0; t0=$(nginx_ticks)
  cat >"$out/fasthttp.py" <<PY
from locust import FastHttpUser, task
class FastUser(FastHttpUser):
    insecure = True
    @task
    def index(self):
        self.client.get("/")
PY
  /usr/bin/time -o "$out/fast.time" -f "%U %S" taskset -c "$LOAD_CORE" "$locust" \
    -f "$out/fasthttp.py" --headless --only-summary -u "$users" -r "$((users * 100))" -t "${secs}s" \
    --host "$1" --csv "$out/fast" >"$out/fast.log" 2>&1 || true
  rps=$(csv_col "$out/fast_stats.csv" Aggregated "Requests/s")
  local n; n=$(csv_col "$out/fast_stats.csv" Aggregated "Request Count")
  cpu=$(cpu_us "$out/fast.time" "$n")
  ngx=$(nginx_us "$t0" "$n")
}

# h2load_run URL: sets rps, cpu and ngx.
h2load_run() {
  local t0; t0=$(nginx_ticks)
  /usr/bin/time -o "$out/h2load.time" -f "%U %S" taskset -c "$LOAD_CORE" \
    h2load -c"$users" -m1 -t1 -D "$secs" "$1/" >"$out/h2load.out" 2>&1
  rps=$(awk '/finished in/ {gsub(",", ""); print $4}' "$out/h2load.out")
  local n; n=$(awk '/^requests:/ {print $8}' "$out/h2load.out")
  cpu=$(cpu_us "$out/h2load.time" "$n")
  ngx=$(nginx_us "$t0" "$n")
}

# median V...: the median of numbers.
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }

# pairs PROTO REF_LABEL REF_CMD BOOMER_CMD...: REPEAT times the reference then boomer, back to
# back; a row each with the medians, boomer's "vs ref" the median of the pairs' ratios (and
# their range when REPEAT > 1).
pairs() {
  local proto=$1 label=$2 ref_cmd=$3; shift 3
  proto_tag=${proto//\//}
  local r_rps=() r_cpu=() r_ngx=() b_rps=() b_cpu=() b_ngx=() ratios=() i
  for i in $(seq "$repeat"); do
    $ref_cmd; r_rps+=("$rps"); r_cpu+=("$cpu"); r_ngx+=("$ngx")
    boomer_run "$@"; b_rps+=("$rps"); b_cpu+=("$cpu"); b_ngx+=("$ngx")
    failures+=" $proto:$fail"
    ratios+=("$(python3 -c "print(${b_rps[-1]}/${r_rps[-1]})")")
  done
  local ref; ref=$(median "${r_rps[@]}")
  cpu=$(median "${r_cpu[@]}"); ngx=$(median "${r_ngx[@]}")
  row "$proto" "$label" "$ref" "$ref" "$cpu"
  local ratio; ratio=$(median "${ratios[@]}")
  cpu=$(median "${b_cpu[@]}"); ngx=$(median "${b_ngx[@]}")
  row "$proto" "boomer http example" "$(python3 -c "print($ratio*$ref)")" "$ref" "$cpu"
  if [ "$repeat" -gt 1 ]; then
    spread+=("$proto: boomer/ref per pair $(python3 -c "import sys; r=sorted(map(float, sys.argv[1:])); print(' '.join(f'{x:.2f}' for x in r))" "${ratios[@]}") (median $ratio)")
  fi
  last_ref=$ref
}

failures=""; masters=""; spread=()
repeat="${REPEAT:-1}"
for proto in $protocols; do
  case $proto in
    http)
      url="http://127.0.0.1:$p_http"
      pairs HTTP/1.1 "wrk -t1 -c$users" "wrk_run $url/" "$url"
      fast_run "$url"; row HTTP/1.1 "Locust FastHttpUser" "$rps" "$last_ref" "$cpu" ;;
    https)
      url="https://127.0.0.1:$p_https"
      pairs HTTPS "wrk -t1 -c$users" "wrk_run $url/" "$url" --ca-cert "$out/ca.pem"
      fast_run "$url"; row HTTPS "Locust FastHttpUser" "$rps" "$last_ref" "$cpu" ;;
    h2)
      url="https://127.0.0.1:$p_h2"
      pairs HTTP/2 "h2load -c$users -m1 -t1" "h2load_run $url" "$url" --ca-cert "$out/ca.pem" ;;
  esac
done

echo "# $0 $* ($(date -u +%F), REPEAT=$repeat, nginx on core $TARGET_CORE, load on core $LOAD_CORE, $users connections/users, ${secs}s each)"
printf '| %-8s | %-26s | %-10s | %-8s | %-8s | %-8s |\n' protocol "load generator" "req/s" "vs ref" \
  "CPU µs/req" "nginx µs/req"
printf '|----------|----------------------------|------------|----------|----------|----------|\n'
printf '%s\n' "${rows[@]}"
[ "${#spread[@]}" -gt 0 ] && printf '%s\n' "${spread[@]}"
echo "boomer failures:$failures"
echo "master CPU in the boomer rows (on nginx's core):$masters"
