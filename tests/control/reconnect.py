# Master side of tests/control.rs: one class for the Rust worker, and a web route that
# makes the master send `reconnect` to every worker (as it does after a corrupt frame).
from locust import User, events, task
from locust.rpc import Message
from locust.runners import MasterRunner


class RustUser(User):
    @task
    def in_rust(self):
        """Runs in the Rust worker."""


@events.init.add_listener
def add_reconnect_route(environment, **_kwargs):
    if environment.web_ui is None or not isinstance(environment.runner, MasterRunner):
        return

    @environment.web_ui.app.route("/reconnect-workers", methods=["POST"])
    def reconnect_workers():
        for client_id in list(environment.runner.clients.keys()):
            environment.runner.server.send_to_client(Message("reconnect", None, client_id))
        return "ok"
