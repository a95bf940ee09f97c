# examples/locustfile.py's class, and a line on the master's stdout at each
# `spawning_complete` (fired once the workers' reported user count is the target).
from locust import User, events, task


class RustUser(User):
    weight = 1

    @task(1)
    def work(self):
        pass  # runs in the Rust worker


@events.spawning_complete.add_listener
def _spawning_complete(user_count, **kwargs):
    print(f"SPAWNING_COMPLETE {user_count}", flush=True)
