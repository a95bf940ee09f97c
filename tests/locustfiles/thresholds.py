# Fleet-wide thresholds, judged by the Locust master on the whole fleet's totals with
# Locust's own events: boomer's --threshold vocabulary ([NAME:]METRIC OP VALUE, e.g.
# "p95<300ms", "fail_ratio<1%", "GET /cart:avg<50ms", "rps>1000") as master flags.
#
#   locust -f thresholds.py --master --headless -u 100 -r 10 -t 10m \
#       --threshold "p95<300ms" --threshold "fail_ratio<1%" --threshold-abort
#
# Every second (after --threshold-grace seconds) a greenlet judges the master's totals; with
# --threshold-abort the first breach quits the test. At the end every threshold is judged on
# the final totals, printed, and the first that failed sets the exit code: 10 + its index
# (at most 99), as a standalone boomer run's. Copy everything below the user class into your
# own locustfile; the workers need nothing.
import logging
import re
import sys

import gevent
from locust import User, events, task
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, WorkerRunner
from locust.stats import StatsEntry


class RustUser(User):
    """Runs in the Rust worker; the master only counts it."""

    @task
    def work(self):
        pass  # runs in the Rust worker


SPEC = re.compile(
    r"^(?:(?P<name>.*):)?\s*(?P<metric>p\(?[0-9.]+\)?|avg|min|max|med|fail_ratio|fails|reqs|rps)"
    r"\s*(?P<op><=|>=|<|>)\s*(?P<value>[0-9.]+)\s*(?P<unit>ms|s|%)?\s*$"
)
OPS = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}


class Threshold:
    def __init__(self, spec):
        m = SPEC.match(spec)
        if not m:
            raise ValueError(f"invalid threshold {spec!r}: write [NAME:]METRIC OP VALUE, e.g. p95<300ms")
        self.spec, self.name, self.metric, self.op = spec, m["name"], m["metric"], m["op"]
        self.name = self.name.strip() if self.name else None
        unit = m["unit"] or ""
        self.limit = float(m["value"]) * {"s": 1000.0, "%": 0.01}.get(unit, 1.0)

    def value(self, stats):
        """The threshold's value on the master's stats; None while its row has no request."""
        if self.name is None:
            entry = stats.total
        else:
            entry = StatsEntry(stats, self.name, "")
            for e in list(stats.entries.values()):
                if self.name in (e.name, f"{e.method} {e.name}"):
                    entry.extend(e)
        if not entry.num_requests:
            return None
        if self.metric.startswith("p"):
            return float(entry.get_response_time_percentile(float(self.metric.strip("p()")) / 100))
        return float(
            {
                "avg": lambda: entry.avg_response_time,
                "min": lambda: entry.min_response_time or 0,
                "max": lambda: entry.max_response_time,
                "med": lambda: entry.median_response_time,
                "fail_ratio": lambda: entry.fail_ratio,
                "fails": lambda: entry.num_failures,
                "reqs": lambda: entry.num_requests,
                "rps": lambda: entry.total_rps,
            }[self.metric]()
        )

    def holds(self, value):
        return OPS[self.op](value, self.limit)


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--threshold", action="append", default=[], help="[NAME:]METRIC OP VALUE")
    parser.add_argument("--threshold-abort", action="store_true", help="quit at the first breach")
    parser.add_argument("--threshold-grace", type=float, default=0, help="seconds before an abort")


def thresholds(environment):
    return [Threshold(spec) for spec in environment.parsed_options.threshold]


@events.init.add_listener
def _(environment, **kwargs):
    try:
        thresholds(environment)  # a bad spec fails at start-up, not at the end
    except ValueError as e:
        logging.error(e)
        sys.exit(2)


@events.test_start.add_listener
def _(environment, **kwargs):
    if not isinstance(environment.runner, WorkerRunner) and environment.parsed_options.threshold_abort:
        gevent.spawn(watch, environment, thresholds(environment))


aborted_by = None  # the threshold that stopped the test: failed, whatever the end reads


def watch(environment, checks):
    global aborted_by
    gevent.sleep(environment.parsed_options.threshold_grace)
    while environment.runner.state not in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP):
        for t in checks:
            value = t.value(environment.runner.stats)
            if value is not None and not t.holds(value):
                logging.error(f"threshold {t.spec!r} breached: {value:g}; stopping the test (--threshold-abort)")
                aborted_by = t.spec
                environment.runner.quit()
                return
        gevent.sleep(1)


@events.quitting.add_listener
def _(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner):
        return
    first_failed = None
    for i, t in enumerate(thresholds(environment)):
        value = t.value(environment.runner.stats)
        # A row without requests fails (a misspelt name must not pass).
        passed = value is not None and t.holds(value) and t.spec != aborted_by
        shown = "no requests" if value is None else f"{value:g}"
        logging.info(f"threshold {t.spec!r}: {shown}: {'pass' if passed else 'FAIL'}")
        if not passed and first_failed is None:
            first_failed = i
    if first_failed is not None:
        environment.process_exit_code = 10 + min(first_failed, 89)
