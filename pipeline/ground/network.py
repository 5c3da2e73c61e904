"""Whether something listens: how commands wait for the broker, the store or the worker to come up."""

from __future__ import annotations

import socket


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
