"""`bakong gateway run`: one participant's gateway process, served by uvicorn.

It loads the home (`bakong.gateway.home`), opens the store (SQLite in the home unless a
`postgresql://` URL is given) and migrates it to the newest schema, assembles the app with its
projection and resubmitter, and serves it: HTTPS when given a certificate and its key, plain
HTTP otherwise (for local use). Once it listens it prints one line to stdout, `listening on
URL` (with `--json`, `{"url": URL, "participant": CODE}`), so a parent process knows where
to send requests; logs go to stderr as JSON lines. SIGTERM or SIGINT stops it: requests in
flight get `limits.gateway_shutdown_s`, background tasks are cancelled, the store is closed.
uvicorn's access log stays off: a query string may carry what must not be logged.
`--print-sms` (a gateway on one's own machine, as the local demo runs) prints each text
message to stdout instead of leaving it in the outbox (`sms.PrintedSms`); it is refused unless
the gateway listens on a loopback address.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
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
from bakong.errors import ConfigError
from bakong.gateway import db, sms
from bakong.gateway.app import create_app
from bakong.gateway.home import load_home
from bakong.gateway.observe import configure_logging
from bakong.gateway.service import services_from_home
from bakong.node.home import parse_address

__all__ = ["RunOptions", "run_gateway"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    home: Path
    participant: str | None = None  # checked against the home's, when given
    database: str | None = None
    host: str | None = None
    port: int | None = None
    cert: Path | None = None
    key: Path | None = None
    as_json: bool = False
    print_sms: bool = False  # local use only: texts go to stdout (refused off loopback)


class _Server(uvicorn.Server):
    """uvicorn with the process's signals handled here: a SIGTERM is a clean exit (0), where
    uvicorn would raise the signal again once it has shut down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def stop(self) -> None:
        self.should_exit = True


def _announce(server: uvicorn.Server, options: RunOptions, participant: str) -> None:
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    scheme = "https" if options.cert else "http"
    url = f"{scheme}://{host}:{port}"
    if options.as_json:
        print(json.dumps({"url": url, "participant": participant}), flush=True)
    else:
        print(f"listening on {url}", flush=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def _freeze_startup_heap() -> None:
    """Keep what start-up built (modules, the app, the schema) out of the cyclic collector's
    walks: it lives as long as the process, yet a full collection would visit its ~100,000
    objects again and again (about a tenth of a busy gateway's CPU, by perf). The young
    generation is collected less often too: each request allocates a few thousand objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(limits.gateway_gc_young_objects, *gc.get_threshold()[1:])


async def _serve(options: RunOptions) -> int:
    home = load_home(options.home)
    participant = home.config.gateway.participant
    if options.participant is not None and options.participant != participant:
        raise ConfigError(f"{options.home} is the gateway of {participant}")
    if (options.cert is None) != (options.key is None):
        raise ConfigError("HTTPS needs both --cert and --key")
    engine = db.engine_for(options.database or home.database_url)
    await asyncio.to_thread(db.migrate, engine)
    services = services_from_home(home, engine)
    host, port = parse_address(home.config.gateway.listen)
    if options.print_sms:
        if not _is_loopback(options.host or host):
            raise ConfigError("--print-sms is only for a gateway that listens on loopback")
        services.sms_provider = sms.PrintedSms()
    app = create_app(services)
    _freeze_startup_heap()
    config = uvicorn.Config(
        app,
        host=options.host or host,
        port=port if options.port is None else options.port,
        ssl_certfile=None if options.cert is None else str(options.cert),
        ssl_keyfile=None if options.key is None else str(options.key),
        lifespan="on",
        access_log=False,
        log_config=None,  # our JSON lines, not uvicorn's format
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
        _announce(server, options, participant)
        log.info("gateway started", extra={"participant": participant})
    await serving
    await services.aclose()
    gc.unfreeze()  # what start-up built is collected at exit like the rest (extensions check)
    return 0 if server.started else 1


def run_gateway(options: RunOptions) -> int:
    """Run one gateway until SIGTERM or SIGINT; the process exit status."""
    configure_logging()
    try:
        return uvloop.run(_serve(options))
    except KeyboardInterrupt:
        return 0
    except OSError as error:  # the port is taken, a certificate cannot be read
        print(f"error: {error}", file=sys.stderr)
        return 2
