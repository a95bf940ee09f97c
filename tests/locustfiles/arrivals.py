# A master's locustfile for boomer's open model (tests/arrivals.rs), as the worker's
# `--print-locustfile` writes it: the class the Rust worker runs (tests/workers/arrivals.rs)
# and the fleet's arrival rate as a custom argument, which the web UI shows and every
# spawn message carries in parsed_options.
from locust import User, events, task


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--arrival-rate", default="", help="iterations per second for the whole fleet, or stages: 0, 30s:400, 5m:400 (CLASS=RATE for one class)")


class Arrivals(User):
    @task
    def hit(self):
        pass
