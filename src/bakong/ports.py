"""Loopback ports for the local services this process configures (the demo, tests, benchmarks).

`loopback_port()` binds port 0 and keeps that socket bound (SO_REUSEADDR, never listening) while
this process lives, so that no other process is given the port while the service that will
listen on it starts up. Linux lets a socket with SO_REUSEADDR (every server here binds that
way: uvicorn's and asyncio's servers, PostgreSQL) listen beside a bound socket that is not
listening, and refuses everyone else's bind, including another process's search for a free
port. Choosing a port and letting it go at once, as before, left a window of about a second
in which a test running in parallel could be given the same port, and one service's health
check was answered by another's.

At most `limits.loopback_ports_held_max` are held; the oldest is let go first, long after its
service has bound it; the rest when this process exits.
"""

from __future__ import annotations

import atexit
import socket
import threading
from collections import deque

from bakong import limits

__all__ = ["loopback_port"]

_held: deque[socket.socket] = deque()
_lock = threading.Lock()


def loopback_port() -> int:
    """A port on 127.0.0.1 that no other process is given while this one lives (docstring)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    port: int = holder.getsockname()[1]
    with _lock:
        _held.append(holder)
        while len(_held) > limits.loopback_ports_held_max:
            _held.popleft().close()
    return port


@atexit.register
def _let_go() -> None:
    with _lock:
        while _held:
            _held.popleft().close()
