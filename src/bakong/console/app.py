"""The console's ASGI app: `create_app(services)` mounts the pages around the follower.

    GET /healthz   {"status", "last_height", "following"}: 200 while the store answers,
                   503 when it does not (unauthenticated, like a node's; no data in it)

The rest are the pages (`console.pages`). Background work, started with the app and cancelled
at shutdown: the follower (`follower.run_follower`) and, once, the sending again of approved
commands a previous run stored but may not have sent (`proposals.resume_signed`), and the
monitor (`monitor.run_monitor`: alerts and low balances). A
`GatewayProblem` below a handler becomes its JSON envelope; an unexpected exception a 500
`internal` without detail (logged with its type only). Access logs are off.
`background=False` assembles the app without them, for tests that drive them by hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong.console import pages
from bakong.console.follower import run_follower, stored_height
from bakong.console.home import ConsoleServices
from bakong.console.monitor import run_monitor
from bakong.console.proposals import resume_signed
from bakong.gateway.problems import GatewayProblem, json_response, problem_response

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def _problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, GatewayProblem)
    return problem_response(error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return problem_response(GatewayProblem(error.status_code, code, str(error.detail)))


async def _internal(request: Request, error: Exception) -> Response:
    log.error("unhandled error", extra={"error": type(error).__name__})
    return problem_response(GatewayProblem(500, "internal", "the console failed; try again"))


def create_app(services: ConsoleServices, *, background: bool = True) -> Starlette:
    """The console app over `services` (module docstring)."""

    async def healthz(request: Request) -> Response:
        try:
            height = await services.db(stored_height, services.engine)
        except sa.exc.SQLAlchemyError:
            return json_response({"status": "down", "last_height": None, "following": None}, 503)
        body = {"status": "ok", "last_height": height, "following": services.following}
        return json_response(body)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = []
        if background:
            tasks = [
                asyncio.ensure_future(run_follower(services)),
                asyncio.ensure_future(resume_signed(services)),
                asyncio.ensure_future(run_monitor(services)),
            ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if background:  # the node client's connections belong to this event loop
                await services.node.aclose()

    routes = [Route("/healthz", healthz, methods=["GET"]), *pages.routes(services)]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            GatewayProblem: _problem,
            HTTPException: _http_error,
            Exception: _internal,
        },
    )
    app.state.services = services
    return app
