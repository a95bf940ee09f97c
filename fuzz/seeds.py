"""Writes the seed corpus of the fuzz targets: master messages packed by the pinned
Locust's own msgpack (locust.rpc.protocol.Message.serialize), and ZMTP byte streams.

    .venv/locust-2.47.0/bin/python fuzz/seeds.py
"""
import os
import struct

from locust.rpc.protocol import Message

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = "host_0123456789abcdef0123456789abcdef"


def write(target, name, data):
    with open(os.path.join(HERE, "corpus", target, name), "wb") as f:
        f.write(data)


def msg(kind, data):
    return Message(kind, data, NODE).serialize()


def nested(n):
    v = 0
    for _ in range(n):
        v = [v]
    return v


spawn = {
    "timestamp": 1795888084.7012,
    "user_classes_count": {"RustUser": 3, "Other": 0},
    "host": "http://127.0.0.1:8080",
    "stop_timeout": 0.0,
    "parsed_options": {"spawn_rate": 2.5, "num_users": 3, "tags": None, "my_arg": "x"},
}
write("decode", "spawn", msg("spawn", spawn))
write("decode", "spawn-huge-counts", msg("spawn", dict(spawn, user_classes_count={"A": 3_000_000_000, "B": 3_000_000_000})))
write("decode", "spawn-nan", msg("spawn", dict(spawn, timestamp=float("nan"), stop_timeout=float("inf"))))
write("decode", "update-user-class", msg("update_user_class", {"user_class_name": "RustUser", "weight": 3, "tasks": ["a"]}))
write("decode", "custom-nested-30", msg("user_defined", nested(30)))
write("decode", "custom-nested-1023", msg("user_defined", nested(1023)))
write("decode", "custom-datetime", msg("user_defined", {"__datetime__": True, "as_str": "20260101T00:00:00.000000"}))
write("decode", "custom-mixed", msg("user_defined", {"b": b"\x00\xff", "f": 1.5, "i": -2**63, "u": 2**64 - 1, "l": [None, True, "s" * 300]}))


def frame(body, more=False, command=False, announce=None):
    flags = (1 if more else 0) | (4 if command else 0)
    n = len(body) if announce is None else announce
    head = bytes([flags | 2]) + struct.pack(">Q", n) if n > 255 else bytes([flags, n])
    return head + body


greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
ready = frame(b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 6) + b"ROUTER", command=True)
quit_ = msg("quit", None)
write("zmtp", "quit", greeting + ready + frame(quit_))
write("zmtp", "multipart", greeting + ready + frame(b"a" * 100, more=True) + frame(b"b" * 100, more=True) + frame(b"c" * 100))
write("zmtp", "long-frame", greeting + ready + frame(b"x" * 280))
write("zmtp", "announces-4gib", greeting + ready + frame(b"x" * 16, announce=4 << 30))
write("zmtp", "announces-2p45", greeting + ready + frame(b"", announce=1 << 45))
