# The master side of examples/users.rs: the same two classes, weights 3:1. The master
# hands out users per class name, so these names must match the Rust structs'
# (#[boomer::user] names a class after its struct; `name = "..."` picks another).
#   locust -f examples/users.py --master
#   cargo run --release --example users
from locust import User, between, constant_throughput, task


class Shopper(User):
    """Runs in the Rust worker; the master only counts it."""

    weight = 3
    wait_time = between(0.1, 0.3)

    @task
    def in_rust(self):
        """Never runs: a class without tasks makes the master warn."""


class Admin(User):
    """Runs in the Rust worker; the master only counts it."""

    weight = 1
    wait_time = constant_throughput(2.0)

    @task
    def in_rust(self):
        """Never runs: a class without tasks makes the master warn."""
