"""The gateway's ASGI app: `create_app(services)` assembles the route modules around a core.

Routes of its own (unauthenticated, like a node's):

    GET /healthz        {"status", "core_reachable", "last_height"}: 200 while the store
                        answers (the core may be down: the gateway still serves what it has),
                        503 when the store does not
    GET /metrics        Prometheus text: requests per route template, method and status;
                        events; the last applied height and submissions per state
    GET /openapi.json   the OpenAPI document of every route (`bakong.gateway.openapi`)

Rules:
- Every other route comes from a module listed in `ROUTE_MODULES`, each exporting
  `routes(services) -> list[BaseRoute]`. A module may also export
  `workers(services) -> list[Worker]`: long-running tasks (the webhook sender) started with
  the app and cancelled at shutdown, beside the projection and the resubmitter.
- A `GatewayProblem` anywhere below a handler becomes its JSON envelope
  (`bakong.gateway.problems`); an unexpected exception becomes 500 `internal` with no detail
  (it is logged with its type only: messages of foreign exceptions may quote input).
- Requests are counted per route template, never per path (paths may hold an account).
  Access logs are off: a query string may hold what must not be logged.
- `background=False` assembles the app without the projection, resubmitter and workers, for
  tests that drive them by hand.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bakong import limits
from bakong.gateway import db
from bakong.gateway.observe import Family, prometheus_text
from bakong.gateway.openapi import openapi_document
from bakong.gateway.problems import GatewayProblem, json_response, problem_response
from bakong.gateway.projection import projection_height, run_projection
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.submission import run_resubmitter

__all__ = ["ROUTE_MODULES", "create_app"]

log = logging.getLogger(__name__)

#: The modules whose `routes(services)` the app mounts (and `workers(services)` it runs).
ROUTE_MODULES: tuple[str, ...] = (
    "bakong.gateway.wallets",
    "bakong.gateway.officers",
    "bakong.gateway.officer_desk",
    "bakong.gateway.payments",
    "bakong.gateway.events",
    "bakong.gateway.parties",
    "bakong.gateway.merchants",
    "bakong.gateway.open_api",
    "bakong.gateway.pages",
    "bakong.gateway.ussd.service",
    "bakong.gateway.approvals",
    "bakong.gateway.claims",
    "bakong.gateway.claiming",
    "bakong.gateway.claim_inbox",
    "bakong.gateway.agents",
    "bakong.gateway.kyc.api",
    "bakong.gateway.corebanking.transfers",
    "bakong.gateway.corebanking.reconcile",
    "bakong.gateway.crossborder.payments",
)

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _health(services: GatewayServices) -> int:
    return projection_height(services.engine)


def _submission_counts(services: GatewayServices) -> dict[str, int]:
    submissions = db.submissions
    with services.engine.connect() as connection:
        rows = connection.execute(
            sa.select(submissions.c.state, sa.func.count()).group_by(submissions.c.state)
        ).all()
    return {str(state): int(count) for state, count in rows}


class _Own:
    """The app's own endpoints."""

    def __init__(self, services: GatewayServices, routes: Callable[[], list[BaseRoute]]) -> None:
        self.services = services
        self.routes = routes

    async def healthz(self, request: Request) -> Response:
        """Whether the store and the core answer, and the last height applied."""
        services = self.services
        try:
            height = await services.db(_health, services)
        except sa.exc.SQLAlchemyError:
            return json_response(
                {"status": "down", "core_reachable": None, "last_height": None}, 503
            )
        try:
            with anyio.fail_after(limits.gateway_health_timeout_s):
                reachable = await services.core.healthy()
        except (httpx.HTTPError, OSError, TimeoutError):
            reachable = False
        status = "ok" if reachable else "degraded"
        return json_response({"status": status, "core_reachable": reachable, "last_height": height})

    async def metrics(self, request: Request) -> Response:
        """Prometheus metrics (no personal data in any label)."""
        services = self.services
        height = await services.db(_health, services)
        counts = await services.db(_submission_counts, services)
        families: list[Family] = list(services.metrics.families())
        families.append(
            ("bakong_gateway_height_blocks", "gauge", "Last height applied to the projection",
             [("", float(height))])
        )  # fmt: skip
        families.append(
            ("bakong_gateway_submissions", "gauge", "Submissions per state",
             [(f'{{state="{state}"}}', float(count)) for state, count in sorted(counts.items())])
        )  # fmt: skip
        return PlainTextResponse(prometheus_text(families), media_type=METRICS_TYPE)

    async def openapi_json(self, request: Request) -> Response:
        """This document."""
        return json_response(openapi_document(self.routes()))


def _template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The route template a request matched (`/v1/parties/{account_id}`), or `unrouted`."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "unrouted"))
    return "unrouted"


class _CountRequests:
    """ASGI middleware: count each HTTP answer by route template, method and status."""

    def __init__(self, app: ASGIApp, services: GatewayServices, routes: Sequence[BaseRoute]):
        self.app = app
        self.services = services
        self.routes = routes
        self._templates: dict[object, str] | None = None  # built at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router left the matched route's endpoint in the scope: its template is one
            # look-up away, where matching every route again would cost each request more.
            template = self._by_endpoint().get(scope.get("endpoint"))
            if template is None:
                template = _template(self.routes, scope)
            self.services.metrics.count_request(template, scope["method"], status[0])

    def _by_endpoint(self) -> dict[object, str]:
        """Each route's template by its endpoint (one serving two templates is left out)."""
        if self._templates is None:
            paths: dict[object, set[str]] = {}
            for route in self.routes:
                if isinstance(route, Route):
                    paths.setdefault(route.endpoint, set()).add(route.path)
            self._templates = {e: p.pop() for e, p in paths.items() if len(p) == 1}
        return self._templates


async def _problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, GatewayProblem)
    return problem_response(error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return problem_response(GatewayProblem(error.status_code, code, str(error.detail)))


async def _internal(request: Request, error: Exception) -> Response:
    log.error("unhandled error", extra={"error": type(error).__name__})
    return problem_response(GatewayProblem(500, "internal", "the gateway failed; try again"))


def _modules(names: Sequence[str]) -> list[Any]:
    return [importlib.import_module(name) for name in names]


def _background(services: GatewayServices, modules: Sequence[Any]) -> list[Worker]:
    workers: list[Worker] = [
        lambda: run_projection(services),
        lambda: run_resubmitter(services),
    ]
    for module in modules:
        if hasattr(module, "workers"):
            workers.extend(module.workers(services))
    return workers + list(services.workers)


def create_app(
    services: GatewayServices,
    *,
    route_modules: Sequence[str] = ROUTE_MODULES,
    background: bool = True,
) -> Starlette:
    """The gateway app over `services`, mounting `route_modules` (see the module rules)."""
    modules = _modules(route_modules)
    mounted: list[BaseRoute] = []
    own = _Own(services, lambda: mounted)
    mounted.extend(
        [
            Route("/healthz", own.healthz, methods=["GET"]),
            Route("/metrics", own.metrics, methods=["GET"]),
            Route("/openapi.json", own.openapi_json, methods=["GET"]),
        ]
    )
    for module in modules:
        mounted.extend(module.routes(services))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        workers = _background(services, modules) if background else []
        tasks = [asyncio.ensure_future(work()) for work in workers]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if background:  # the core client's connections belong to this event loop
                await services.core.aclose()

    app = Starlette(
        routes=mounted,
        lifespan=lifespan,
        exception_handlers={
            GatewayProblem: _problem,
            HTTPException: _http_error,
            Exception: _internal,
        },
    )
    app.add_middleware(_CountRequests, services=services, routes=mounted)
    app.state.services = services
    return app
