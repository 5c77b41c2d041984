"""`bakong node run`: one validator process, its peer links and its HTTP API on one loop.

One process at a time runs a home (`bakong.homelock`): a second one exits 2 before it opens
the store or signs anything. The process runs uvloop. It starts the validator (store,
transport, consensus), then serves the API with uvicorn on the same loop: requests signed for
the node's key, the replay window kept in `DIR/seen_requests/` (`bakong.node.seen_requests`).
It runs until SIGTERM or SIGINT; then it stops the API, closes the links and the store, and
exits 0. A failure of the consensus host stops the loop and the process exits non-zero: an
invariant broken is never run past.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
from collections.abc import Generator
from pathlib import Path

import uvicorn
import uvloop

from bakong import limits
from bakong.homelock import holding
from bakong.node.api import create_app
from bakong.node.home import load_home, parse_address
from bakong.node.runtime import Validator
from bakong.node.seen_requests import PersistedSeenRequests, this_boot

__all__ = ["run_node"]

log = logging.getLogger(__name__)


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: the node owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _freeze_startup_heap() -> None:
    """Keep what start-up built out of the cyclic collector's walks, and collect the young
    generation less often. Measured under load: every validator's full collections took
    130-700 ms, on the event loop, and all four validators ran theirs in the same second
    (they allocate alike, block by block), so the chain stalled for that long."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(limits.node_gc_young_objects, *gc.get_threshold()[1:])


def _clock_ms() -> int:
    return time.time_ns() // 1_000_000


async def _serve(home_path: Path) -> int:
    home = load_home(home_path)
    validator = Validator(home)
    await validator.start()
    seen = PersistedSeenRequests(home.path / "seen_requests", _clock_ms(), this_boot())
    host, port = parse_address(home.config.node.api_listen)
    app = create_app(validator, clock_ms=_clock_ms, node_key=home.key.public_key, seen=seen)
    _freeze_startup_heap()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        ws="websockets-sansio",
        # The stream is msgpack full of hashes and signatures, which do not compress: deflate
        # cost the node serving the central bank's stream 8 % of its CPU under load.
        ws_per_message_deflate=False,
    )
    server = _ApiServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    api = asyncio.ensure_future(server.serve())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([api, stopped], return_when=asyncio.FIRST_COMPLETED)
    log.info("stopping")
    server.should_exit = True
    await api
    seen.close()
    await validator.close()
    return 0 if stop.is_set() else 1


def run_node(home_path: Path) -> int:
    """Run one validator until it is told to stop; the process exit status."""
    with holding(home_path, f"the validator home {home_path}"):
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            handlers=[
                logging.FileHandler(home_path / "node.log"), logging.StreamHandler(sys.stderr)
            ],
        )
        try:
            return uvloop.run(_serve(home_path))
        except RuntimeError as error:  # the loop was stopped by a failed host step
            log.critical("stopped: %s", error)
            return 70
