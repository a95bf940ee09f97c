# The master's side of the boomer worker events: its user classes, as the master
# must know them (names, weights, fixed counts, tags). Written by
# `events --print-locustfile`; the tasks run in the Rust worker, not here.
#   locust -f locustfile.py --master
from locust import User, tag, task


class RustUser(User):
    """The worker's tasks that take no user state: any class name the master
    sends reaches them."""

    weight = 1

    @task(1)
    def work(self):
        pass  # work: runs in the Rust worker
