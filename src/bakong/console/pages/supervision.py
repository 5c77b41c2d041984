"""The supervision page: the last hour's rate of payments per minute (a chart drawn as SVG on
the server, and its table), the approval rate, and the declines by result code per
participant (`console.supervision`).

    GET /supervision
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong.console import supervision
from bakong.console.home import ConsoleServices
from bakong.console.pages.render import page
from bakong.console.pages.views import Handler, Signed, page_context, signed_page

__all__ = ["routes"]

#: The chart's drawing box (SVG user units): one bar per minute, the peak at full height.
CHART_WIDTH, CHART_HEIGHT, BAR_STEP = 600, 120, 10


def bars(figures: supervision.Supervision) -> list[tuple[int, int, int, int]]:
    """(x, approved bar's y and height, declined bar's height) of each minute, oldest left."""
    peak = max(figures.peak, 1)
    drawn = []
    for index, (_, approved, declined) in enumerate(figures.per_minute):
        approved_height = approved * CHART_HEIGHT // peak
        declined_height = declined * CHART_HEIGHT // peak
        drawn.append((index * BAR_STEP, CHART_HEIGHT - approved_height, approved_height,
                      declined_height))  # fmt: skip
    return drawn


async def _supervision(services: ConsoleServices, request: Request, signed: Signed) -> Response:
    figures = await services.db(supervision.supervision, services.engine, services.clock_ms())
    context = page_context(
        signed, figures=figures, bars=bars(figures), chart=(CHART_WIDTH, CHART_HEIGHT),
        bar_width=BAR_STEP - 2,
    )  # fmt: skip
    return page(request, "supervision.html", context)


def routes(services: ConsoleServices) -> list[BaseRoute]:
    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(services, request)

        return endpoint

    return [Route("/supervision", bound(signed_page(_supervision)), methods=["GET"])]
