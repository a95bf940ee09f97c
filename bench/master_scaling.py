"""How many boomer workers one Locust master can take: N workers replayed from one process.

Each replayed worker is a ZeroMQ DEALER that does what a boomer worker does on the wire
(docs/protocol.md): `client_ready`, then a `heartbeat` every second and a `stats` report
every 3 s, staggered over the workers as real ones drift apart. A report carries NAMES
entries of the shape boomer sends at full rate (BUCKETS response-time buckets each, three
per-second keys) and five error rows, and the Aggregated total; its cost to the master
does not depend on how many requests the numbers stand for.

Measured per run, over a steady window after every worker is registered:
- the master's CPU (utime + stime of its process, percent of one core: a Locust master is
  one Python thread);
- the master's lag: the time from a worker's heartbeat to the master's reply (masters
  since 2.19 answer each heartbeat as they read it, so this is how far behind its input
  queue it runs); a master past its core's capacity falls further behind for ever;
- what the master shows: the workers its web API lists as not `missing`, and how long that
  API took to answer.

    python master_scaling.py --locust PATH --names 100 --workers 250 500 700 [--seconds 20]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import json

import msgpack
import zmq


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pack(kind, data, node_id):
    return msgpack.packb((kind, data, node_id), use_bin_type=True)


def entry(name, method, now, buckets):
    """A StatsEntry map as boomer's worker sends it (docs/protocol.md §6.2)."""
    response_times = {b: 1000 + b for b in bucket_keys(buckets)}
    n = sum(response_times.values())
    sec = int(now)
    return {
        "name": name,
        "method": method,
        "last_request_timestamp": now,
        "start_time": now - 3.0,
        "num_requests": n,
        "num_none_requests": 0,
        "num_failures": 3,
        "total_response_time": 123456.789,
        "max_response_time": 980,
        "min_response_time": 0.25,
        "total_content_length": n * 512,
        "response_times": response_times,
        "num_reqs_per_sec": {sec - 2: n // 3, sec - 1: n // 3, sec: n - 2 * (n // 3)},
        "num_fail_per_sec": {sec - 1: 3},
    }


def bucket_keys(count):
    """Locust's buckets from 0 ms upwards: 1 ms apart below 100, then 10 ms, then 100 ms."""
    keys, k = [], 0
    while len(keys) < count:
        keys.append(k)
        k += 1 if k < 100 else 10 if k < 1000 else 100
    return keys


def report(names, buckets, now, users):
    entries = [entry(f"/api/item/{i}", "GET", now, buckets) for i in range(names)]
    total = entry("Aggregated", "", now, buckets)
    errors = {
        f"key{i}": {
            "name": f"/api/item/{i}",
            "method": "GET",
            "error": "HTTPError('500 Server Error: Internal Server Error for url: /api')",
            "occurrences": 3,
        }
        for i in range(min(names, 5))
    }
    return {
        "stats": entries,
        "stats_total": total,
        "errors": errors,
        "user_classes_count": {"Idle": users},
        "user_count": users,
    }


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def web_workers(web_port):
    start = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/stats/requests", timeout=10) as r:
            body = json.load(r)
        took = time.monotonic() - start
        alive = sum(1 for w in body.get("workers", []) if w.get("state") != "missing")
        return alive, took
    except Exception:  # the master did not answer in 10 s
        return None, time.monotonic() - start


def run(locust, names, workers, seconds, buckets, master_core, load_core):
    master_port, web_port = free_port(), free_port()
    locustfile = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "locustfile.py")
    master = subprocess.Popen(
        ["taskset", "-c", str(master_core), locust, "-f", locustfile, "--master",
         "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
         "--web-host", "127.0.0.1", "--web-port", str(web_port), "-L", "ERROR"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.sched_setaffinity(0, {load_core})
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, workers + 64)
    try:
        return measure(ctx, master, master_port, web_port, names, workers, seconds, buckets)
    finally:
        master.terminate()
        try:
            master.wait(timeout=10)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
        ctx.destroy(linger=0)


def measure(ctx, master, master_port, web_port, names, workers, seconds, buckets):
    # The master's ROUTER must be listening before the DEALERs say client_ready.
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", master_port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the master did not start")
            time.sleep(0.1)
    socks, ids = [], []
    poller = zmq.Poller()
    for i in range(workers):
        s = ctx.socket(zmq.DEALER)
        node_id = f"replay-{i}_{os.getpid()}"
        s.setsockopt(zmq.IDENTITY, node_id.encode())
        s.setsockopt(zmq.LINGER, 0)
        s.connect(f"tcp://127.0.0.1:{master_port}")
        s.send(pack("client_ready", -1, node_id))
        socks.append(s)
        ids.append(node_id)
        poller.register(s, zmq.POLLIN)
    acked, sent_at, lags = set(), {}, []
    deadline = time.monotonic() + 60
    while len(acked) < workers and time.monotonic() < deadline:
        for s, _ in poller.poll(100):
            kind = msgpack.unpackb(s.recv(), raw=False, strict_map_key=False)[0]
            if kind == "ack":
                acked.add(s)
    if len(acked) < workers:
        raise SystemExit(f"only {len(acked)} of {workers} workers acked")
    # One report body per worker, packed once: the master's work per report is the same
    # whatever the numbers say; the timestamps stay within a few seconds of now.
    now = time.time()
    body = report(names, buckets, now, 10)
    reports = [pack("stats", body, node_id) for node_id in ids]
    heartbeat = [pack("heartbeat", {"state": "running", "current_cpu_usage": 50.0,
                                    "current_memory_usage": 50_000_000}, node_id) for node_id in ids]
    index = {s: i for i, s in enumerate(socks)}
    warmup = 6.0
    start = time.monotonic()
    end = start + warmup + seconds
    next_beat = [start + i / workers for i in range(workers)]
    next_report = [start + 3.0 * i / workers for i in range(workers)]
    cpu0 = window_start = None
    sent_reports = 0
    while True:
        t = time.monotonic()
        if cpu0 is None and t >= start + warmup:
            cpu0, window_start, sent_reports, lags = cpu_seconds(master.pid), t, 0, []
        if t >= end:
            break
        for i in range(workers):
            if next_beat[i] <= t:
                socks[i].send(heartbeat[i], zmq.NOBLOCK)
                sent_at.setdefault(i, []).append(t)
                next_beat[i] += 1.0
            if next_report[i] <= t:
                socks[i].send(reports[i], zmq.NOBLOCK)
                next_report[i] += 3.0
                sent_reports += 1
        wait_ms = max(0, min(min(next_beat), min(next_report), end) - time.monotonic()) * 1000
        for s, _ in poller.poll(max(1, int(wait_ms))):
            while True:
                try:
                    raw = s.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if msgpack.unpackb(raw, raw=False, strict_map_key=False)[0] == "heartbeat":
                    queue = sent_at.get(index[s])
                    if queue:
                        lags.append(time.monotonic() - queue.pop(0))
    elapsed = time.monotonic() - window_start
    cpu = (cpu_seconds(master.pid) - cpu0) / elapsed * 100
    # Heartbeats the master never answered count as lagging by their age.
    t = time.monotonic()
    unanswered = [t - sent for queue in sent_at.values() for sent in queue]
    alive, web_s = web_workers(web_port)
    all_lags = sorted(lags + unanswered) or [0.0]
    return {
        "reports_per_s": sent_reports / elapsed,
        "cpu": cpu,
        "lag_p50_ms": statistics.median(all_lags) * 1000,
        "lag_max_ms": all_lags[-1] * 1000,
        "alive": alive,
        "web_ms": web_s * 1000,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--locust", required=True)
    p.add_argument("--names", type=int, default=100)
    p.add_argument("--buckets", type=int, default=40)
    p.add_argument("--workers", type=int, nargs="+", required=True)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--master-core", type=int, default=0)
    p.add_argument("--load-core", type=int, default=1)
    a = p.parse_args()
    for n in a.workers:
        r = run(a.locust, a.names, n, a.seconds, a.buckets, a.master_core, a.load_core)
        alive = "no answer" if r["alive"] is None else f"{r['alive']}/{n}"
        print(f"| {a.names:5} | {n:7} | {r['reports_per_s']:9.0f} | {r['reports_per_s'] * (a.names + 1):9.0f} "
              f"| {r['cpu']:8.0f} | {r['lag_p50_ms']:9.1f} | {r['lag_max_ms']:9.0f} | {alive:>11} "
              f"| {r['web_ms']:8.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
