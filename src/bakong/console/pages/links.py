"""The links page: each cross-border link account's liquidity per asset, its positions per
Phnom Penh day, its volumes as a corridor and the payments that failed (`console.links`).

    GET /links
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.console import links
from bakong.console.home import ConsoleServices
from bakong.console.pages.render import page
from bakong.console.pages.views import Handler, Signed, page_context, signed_page

__all__ = ["routes"]


async def _links(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    figures = await services.db(links.links, services.engine, services.clock_ms())
    context = page_context(signed, figures=figures, days=limits.console_links_days,
                           failed_max=limits.console_links_failed_max)  # fmt: skip
    return page(request, "links.html", context)


def routes(services: ConsoleServices) -> list[BaseRoute]:
    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(services, request)

        return endpoint

    return [Route("/links", bound(signed_page(_links)), methods=["GET"])]
