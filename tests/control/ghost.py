# Master side of tests/control.rs: examples/users.py's classes, plus one the Rust worker
# (examples/users.rs) does not have.
from locust import User, task


class Shopper(User):
    weight = 3

    @task
    def in_rust(self):
        """Runs in the Rust worker."""


class Admin(User):
    weight = 1

    @task
    def in_rust(self):
        """Runs in the Rust worker."""


class Ghost(User):
    fixed_count = 1

    @task
    def in_rust(self):
        """The Rust worker has no such class."""
