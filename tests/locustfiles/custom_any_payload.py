# Master side of tests/custom_message.rs: at test start, sends the worker `user_defined`
# messages whose payloads are not the body examples/custom_message.rs knows (a JSON body
# with other fields, a dict, a list, an int, data nested 31 (dicts), 200 (lists) and
# 1023 (dicts: the deepest msgpack-python packs) levels deep), one
# `user_defined` of the example's own body, and logs each `acknowledge_users` reply.
import json
import logging

from locust import User, events
from locust.runners import MasterRunner


class RustUser(User):
    pass


def nested(n):
    v = "deep"
    for _ in range(n):
        v = {"level": v} if n % 2 else [v]
    return v


PAYLOADS = [
    json.dumps({"id": 7, "name": "other", "users": "not a list", "extra": {"a": [1, 2]}}),
    {"id": 7, "name": "a dict"},
    [1, "two", None],
    42,
    nested(31),
    nested(200),
    nested(1023),
    json.dumps({"worker": 0, "users": ["u0", "u1"]}),
]


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
    for worker in environment.runner.clients:
        for payload in PAYLOADS:
            environment.runner.send_message("user_defined", payload, worker)
    logging.info("sent %d user_defined messages", len(PAYLOADS))
