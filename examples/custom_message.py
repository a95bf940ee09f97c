# Master side of examples/custom_message.rs: at test start, sends every worker a
# `user_defined` message with a JSON body (and `user_map` with a plain dict, which
# boomer receives intact), and logs the `acknowledge_users` replies.
#   locust -f examples/custom_message.py --master --headless -u 2 -r 2 -t 10s
#   cargo run --release --example custom_message
import json
import logging

from locust import User, events
from locust.runners import MasterRunner


class RustUser(User):
    pass


def on_acknowledge(environment, msg, **_kwargs):
    logging.info("acknowledge_users from %s: %s", msg.node_id, msg.data)


@events.init.add_listener
def on_locust_init(environment, **_kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("acknowledge_users", on_acknowledge)


@events.test_start.add_listener
def on_test_start(environment, **_kwargs):
    if not isinstance(environment.runner, MasterRunner):
        return
    for i, worker in enumerate(environment.runner.clients):
        body = {"worker": i, "users": [f"user{n}" for n in range(3)]}
        environment.runner.send_message("user_defined", json.dumps(body), worker)
        environment.runner.send_message("user_map", {"worker": i, "tags": ["a", "b"]}, worker)
