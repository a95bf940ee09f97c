# The master side of a boomer worker: a locustfile that only names the user class.
#   locust -f examples/locustfile.py --master
# then start the worker: cargo run --release --example events
from locust import User


class RustUser(User):
    """Users of this class run in the Rust worker; the master only counts them."""
