"""The link's HTTP app: the gateways' API, the foreign switches' ISO routes, and its tasks.

    GET  /v1/link/key                   the link's gateway key (gateways sign to it)
    POST /v1/link/quotes                a firm quote for a foreign QR   (`outbound`)
    POST /v1/link/payments              pay a quote, idempotent on the end-to-end id
    GET  /v1/link/payments/{e2e}        a payment's status
    POST /iso/lookup, /iso/pacs008, /iso/camt056, GET /iso/pacs002/{e2e}   (`inbound`)

Errors: the gateways' routes answer `{"error": {"code", "message"}}` as a gateway does; the
ISO routes answer a signed `IsoError {code, message}`. With `background` (the default) the
lifespan makes sure the corridors' accounts exist, then runs the stream follower and the
worker that drives unfinished payments every `limits.link_sweep_s` (and after each block).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong import limits
from bakong.client import ApiError
from bakong.crossborder import inbound, outbound
from bakong.crossborder.callers import GatewayCallers
from bakong.crossborder.follower import run_follower
from bakong.crossborder.ledger import ensure_accounts
from bakong.crossborder.messages import IsoProblem
from bakong.crossborder.service import LinkServices
from bakong.gateway.problems import GatewayProblem, json_response, problem_response

__all__ = ["create_app", "run_worker"]

log = logging.getLogger(__name__)


async def run_worker(services: LinkServices) -> None:
    """Drive unfinished payments for ever (a restart's recovery included)."""
    while True:
        try:
            await outbound.sweep(services)
            await inbound.sweep(services)
        except Exception:  # the worker outlives any one round's trouble
            log.exception("a sweep of the link's payments failed")
        await services.wait_progress(limits.link_sweep_s)


async def _start(services: LinkServices) -> None:
    while True:
        try:
            await ensure_accounts(services)
            return
        except (ApiError, httpx.TransportError) as error:
            log.warning("the core is not reachable yet", extra={"error": type(error).__name__})
            await asyncio.sleep(limits.client_reconnect_delay_s_max)


def create_app(services: LinkServices, *, background: bool = True) -> Starlette:
    callers = GatewayCallers(services)

    def gateway_route(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(services, callers, request)
            except GatewayProblem as problem:
                return problem_response(problem)

        return endpoint

    def iso_route(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(services, request)
            except IsoProblem as problem:
                return inbound.iso_response(services, problem.error(), problem.http_status)
            except GatewayProblem as problem:  # a body too large
                error = IsoProblem(problem.http_status, problem.code, problem.message)
                return inbound.iso_response(services, error.error(), problem.http_status)

        return endpoint

    async def key(request: Request) -> Response:
        return json_response({"participant": services.participant,
                              "gateway_key": services.gateway_key.public_key.hex()})  # fmt: skip

    routes = [
        Route("/v1/link/key", key, methods=["GET"]),
        Route("/v1/link/quotes", gateway_route(outbound.quote_route), methods=["POST"]),
        Route("/v1/link/payments", gateway_route(outbound.pay_route), methods=["POST"]),
        Route("/v1/link/payments/{end_to_end_id}", gateway_route(outbound.status_route),
              methods=["GET"]),  # fmt: skip
    ]
    routes += [Route(path, iso_route(handler), methods=[method])
               for path, handler, method in inbound.routes_table()]  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if background:
            await _start(services)
            tasks = [
                asyncio.create_task(run_follower(
                    services.engine, services.core, services.genesis, services.is_link_account,
                    services.announce)),
                asyncio.create_task(run_worker(services)),
            ]  # fmt: skip
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.aclose()

    return Starlette(routes=routes, lifespan=lifespan)
