# The master's locustfile for the open-model fleet test (tests/arrivals.rs): the class the
# Rust workers run (tests/workers/arrivals.rs), and boomer's arrival rate as a custom
# argument, which the web UI shows and every spawn message carries in parsed_options.
from locust import User, events, task


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--arrival-rate", default="", help="boomer: iterations per second for the whole fleet (or stages: 0, 30s:400, 5m:400)")


class Arrivals(User):
    @task
    def hit(self):
        pass
