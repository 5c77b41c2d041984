"""`bakong console run`: the central bank's console process, served by uvicorn.

It loads the home (`console.home`), opens the store (SQLite in the home unless a
`postgresql://` URL is given) and migrates it, assembles the app with its follower, and serves
plain HTTP on the home's `listen` address (or `--host`/`--port`), HTTPS when given a
certificate and its key. Once it listens it prints one line, `listening on URL` (with
`--json`, `{"url": URL}`); logs go to stderr as JSON lines. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import uvloop

from bakong import limits
from bakong.console import store
from bakong.console.app import create_app
from bakong.console.home import load_home, services_from_home
from bakong.errors import ConfigError
from bakong.gateway.observe import configure_logging
from bakong.node.home import parse_address

__all__ = ["RunOptions", "run_console"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    home: Path
    database: str | None = None
    host: str | None = None
    port: int | None = None
    cert: Path | None = None
    key: Path | None = None
    as_json: bool = False


class _Server(uvicorn.Server):
    """uvicorn with the signals handled here: a SIGTERM is a clean exit (0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def stop(self) -> None:
        self.should_exit = True


async def _serve(options: RunOptions) -> int:
    home = load_home(options.home)
    if (options.cert is None) != (options.key is None):
        raise ConfigError("HTTPS needs both --cert and --key")
    engine = store.engine_for(options.database or home.database_url)
    await asyncio.to_thread(store.migrate, engine)
    services = services_from_home(home, engine)
    services.secure_cookies = options.cert is not None
    host, port = parse_address(home.config.console.listen)
    config = uvicorn.Config(
        create_app(services),
        host=options.host or host,
        port=port if options.port is None else options.port,
        ssl_certfile=None if options.cert is None else str(options.cert),
        ssl_keyfile=None if options.key is None else str(options.key),
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(limits.gateway_shutdown_s),
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.stop)
    serving = asyncio.ensure_future(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        bound_host, bound_port = server.servers[0].sockets[0].getsockname()[:2]
        url = f"{'https' if options.cert else 'http'}://{bound_host}:{bound_port}"
        print(json.dumps({"url": url}) if options.as_json else f"listening on {url}", flush=True)
        log.info("console started")
    await serving
    engine.dispose()
    return 0 if server.started else 1


def run_console(options: RunOptions) -> int:
    """Run the console until SIGTERM or SIGINT; the process exit status."""
    configure_logging()
    try:
        return uvloop.run(_serve(options))
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
