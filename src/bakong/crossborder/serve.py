"""`bakong link run`: one link's process, served by uvicorn.

It loads the home (`crossborder.home`), opens the store (SQLite in the home unless a
`postgresql://` URL is given) and migrates it, assembles the app with its stream follower
and worker, and serves plain HTTP on the home's `listen` address. Once it listens it prints
one line to stdout, `{"url": URL, "participant": CODE}` with `--json` (else `listening on
URL`), so a parent process knows where to send requests. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Generator
from pathlib import Path

import uvicorn

from bakong.crossborder import store
from bakong.crossborder.app import create_app
from bakong.crossborder.home import load_home
from bakong.crossborder.service import LinkServices
from bakong.gateway.observe import configure_logging
from bakong.node.home import parse_address

__all__ = ["run_link"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve(home_path: Path, database: str | None, as_json: bool) -> int:
    home = await asyncio.to_thread(load_home, home_path)  # it may ask the core (blocking)
    engine = store.engine_for(database or home.database_url)
    await asyncio.to_thread(store.migrate, engine)
    services = LinkServices.from_home(home, engine)
    host, port = parse_address(home.config.link.listen)
    config = uvicorn.Config(create_app(services), host=host, port=port, lifespan="on",
                            access_log=False, log_config=None)  # fmt: skip
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
    serving = asyncio.ensure_future(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        bound_host, bound_port = server.servers[0].sockets[0].getsockname()[:2]
        url = f"http://{bound_host}:{bound_port}"
        line = json.dumps({"url": url, "participant": home.participant}) if as_json else (
            f"listening on {url}")  # fmt: skip
        print(line, flush=True)
    await serving
    engine.dispose()
    return 0 if server.started else 1


def run_link(home: Path, database: str | None = None, as_json: bool = False) -> int:
    """Run one link until SIGTERM or SIGINT; the process exit status."""
    configure_logging()
    try:
        return asyncio.run(_serve(home, database, as_json))
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
