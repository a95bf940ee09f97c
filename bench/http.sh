#!/usr/bin/env bash
# HTTP on loopback against nginx (one core) returning a small 200 with keep-alive: requests/s
# of wrk -t1 -c50, of boomer's http example and of Locust's FastHttpUser (load on the other core).
#   bench/http.sh [SECONDS] [USERS]      (default 10 s, 50 users/connections)
source "$(dirname "$0")/common.sh"
secs="${1:-10}"; users="${2:-50}"
command -v nginx >/dev/null && command -v wrk >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >&2
}
build http
nginx_port=$((40000 + RANDOM % 10000))
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
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 "hello world\n"; }
  }
}
NGINX
taskset -c "$TARGET_CORE" nginx -c "$conf" -p "$out" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true' EXIT
sleep 0.5
url="http://127.0.0.1:$nginx_port"

wrk_rps=$(taskset -c "$LOAD_CORE" wrk -t1 -c"$users" -d"${secs}s" "$url/" | awk '/Requests\/sec/ {print $2}')

MASTER_ARGS="--host $url" master_run "$users" "$secs" http HTTP_PATHS=/
boomer_rps=$(csv_col "$out/run_stats.csv" Aggregated "Requests/s")
boomer_fail=$(csv_col "$out/run_stats.csv" Aggregated "Failure Count")

cat >"$out/fasthttp.py" <<PY
from locust import FastHttpUser, task
class FastUser(FastHttpUser):
    @task
    def index(self):
        self.client.get("/")
PY
port=$((20000 + RANDOM % 20000))
taskset -c "$LOAD_CORE" "$locust" -f "$out/fasthttp.py" --headless --only-summary -u "$users" \
  -r "$users" -t "${secs}s" --host "$url" --csv "$out/fast" >"$out/fast.log" 2>&1 || true
fast_rps=$(csv_col "$out/fast_stats.csv" Aggregated "Requests/s")

echo "# $0 $* ($(date -u +%F), nginx on core $TARGET_CORE, load on core $LOAD_CORE, $users connections/users)"
printf '| %-26s | %-10s | %-8s |\n' "load generator" "req/s" "vs wrk"
printf '|----------------------------|------------|----------|\n'
row() { printf '| %-26s | %10.0f | %7.1f%% |\n' "$1" "$2" "$(python3 -c "print(100*$2/$wrk_rps)")"; }
row "wrk -t1 -c$users" "$wrk_rps"
row "boomer http example" "$boomer_rps"
row "Locust FastHttpUser" "$fast_rps"
echo "boomer failures: $boomer_fail; boomer / FastHttpUser: $(python3 -c "print(round($boomer_rps/$fast_rps,1))")x"
