"""The merchant's till under `/till/...`: take a payment by dynamic KHQR, see the day's sales.

    /till/          sign in, then: an amount in riel or dollars -> the code full screen with
                    its countdown -> "paid" (amount, payer's bank) the moment the payment
                    commits, or "expired" with a new code
    /till/signin    the shop's handle (or the owner's phone) and PIN
    /till/sales     a day's sales with totals per currency; the store card (PNG, PDF)

Rules:
- The pages are shells, as the wallet's are (`pages.render`): `static/js/till.js` reads and
  writes through the JSON API (`/v1/merchant/...`, `/v1/events`) with the till's token in
  `sessionStorage` (`bakong.token.merchant`), so a page load holds nothing of the shop's.
- An amount becomes integer minor units from the typed decimal text (`api.js` `parseAmount`),
  never through a float; a code lives `limits.khqr_expiry_ms_default`, within KHQR's ten
  minutes.
- The till hears its payments on `/v1/events` (`khqr_paid` names the code); after a
  reconnect, or when the countdown ends, it asks where the code stands
  (`GET /v1/merchant/codes/{md5}`), so a payment made while the stream was down still shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from bakong import limits
from bakong.gateway.pages.render import page, page_route
from bakong.gateway.service import GatewayServices

__all__ = ["PAGES", "routes"]

FAMILIES = ("till",)

#: Each page: (path, template, what `till.js` does there).
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/till/", "till/charge.html", "charge"),
    ("/till/signin", "till/signin.html", "signin"),
    ("/till/sales", "till/sales.html", "sales"),
)


def _page(template: str, name: str) -> Callable[[Request], Awaitable[Response]]:
    context = {"page": name, "lifetime_ms": limits.khqr_expiry_ms_default}

    async def show(request: Request) -> Response:
        """A till page (HTML)."""
        return page(request, template, FAMILIES, context)

    return show


async def to_till(request: Request) -> Response:
    """The till, with its trailing slash."""
    return RedirectResponse("/till/", status_code=308)


def routes(services: GatewayServices) -> list[BaseRoute]:
    del services  # the pages need nothing of the gateway's: their script asks the API
    found: list[BaseRoute] = [page_route(path, _page(t, name)) for path, t, name in PAGES]
    return [*found, page_route("/till", to_till)]
