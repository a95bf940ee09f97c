# The mixed-fleet test (tests/e2e_http.rs): the master's locustfile and the Python worker's.
# The Rust worker (tests/workers/fleet.rs) runs the same class with the same requests.
import os

from locust import HttpUser, constant, task

CLOSED = os.environ.get("FLEET_CLOSED_PORT", "1")


class FleetUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def faults(self):
        self.client.get("/missing")
        self.client.get("/slow", timeout=0.2)
        self.client.get(f"http://127.0.0.1:{CLOSED}/refused")
