"""A real uvicorn server on loopback for tests: an ASGI app served from a thread.

`serve(app)` starts uvicorn on 127.0.0.1 with a port the kernel picks, waits until it listens,
yields its base URL and stops it on exit. With `certfile`/`keyfile` it serves HTTPS, for
clients (such as bakong-khqr) that only speak HTTPS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

STARTUP_WAIT_S = 10.0


@contextmanager
def serve(app: Any, *, certfile: str | None = None, keyfile: str | None = None,
          port: int = 0) -> Iterator[str]:
    """`port` 0 lets the kernel pick one; a caller that must name its URL in advance passes
    one it reserved."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if certfile else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_WAIT_S)
