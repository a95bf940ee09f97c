# A shop's customer for Locust: the same scenario as examples/shop.rs, for comparison, or
# as the master of the Rust worker (the class names match):
#   locust -f examples/shop.py --host http://127.0.0.1:8080
#   locust -f examples/shop.py --master  # then: cargo run --release --example shop -- --master-host 127.0.0.1
import random

from locust import HttpUser, between, task

CATEGORIES = ["books", "games", "music"]


class Shopper(HttpUser):
    wait_time = between(0.1, 0.5)

    def on_start(self):
        login = {"username": f"user{random.randrange(10**6)}", "password": "secret"}
        resp = self.client.post("/login", json=login)
        self.client.headers["Authorization"] = f"Bearer {resp.json()['token']}"

    def on_stop(self):
        self.client.post("/logout")

    @task(4)
    def browse(self):
        # Without name=, Locust names each request by its path and query string.
        params = {"page": random.randint(1, 3), "category": random.choice(CATEGORIES)}
        self.client.get("/products", params=params, name="/products")

    @task(3)
    def view_product(self):
        path = f"/products/{random.randint(1, 90)}"
        with self.client.get(path, name="/products/[id]", catch_response=True) as resp:
            if resp.ok and "price" not in resp.json():
                resp.failure("no price")

    @task(2)
    def add_to_cart(self):
        self.client.post("/cart", json={"product_id": random.randint(1, 90), "quantity": 1})

    @task
    def view_cart(self):
        self.client.get("/cart")
