"""The customer's web wallet under `/wallet/...`: the pages, each a shell its script fills in.

    /wallet/                       home: KHR and USD balances, recent activity, live updates
    /wallet/signup                 phone -> code -> handle, name, birth date, PIN twice
    /wallet/signin                 phone and PIN
    /wallet/send                   to a handle, an account ID or a phone; preview; PIN
    /wallet/scan                   a KHQR from the camera or a photo; the same confirm step
                                   (a foreign shop's code: the link's quote, then the PIN)
    /wallet/qr                     my static KHQR, or a one-time code for an amount
    /wallet/history                payments, filtered by direction, currency and day; paged
    /wallet/receipt/{tx_hash}      one payment's receipt
    /wallet/claim                  claim money sent to my phone before I had a wallet (the
                                   bank and the code from the text); what this bank holds
    /wallet/sent/{claim_id}        money I sent to a phone with no wallet: waiting, claimed
                                   or returned, with its dates
    /wallet/bank                   my bank account at this bank: link it, move money to it
                                   and from it with the PIN, each transfer's state and reason
    /wallet/manifest.webmanifest   the installable web app's manifest

Rules:
- The pages hold no customer data: each page's script (`static/js/wallet-*.js`) reads it
  from the JSON API with the session token in `sessionStorage` and sends a person without
  one to sign in. So these routes need no session, and a page load without one shows nothing.
- Only the receipts take a path parameter: a transaction hash (64 hex digits) or a claim's
  id (its random id in hex), neither personal; anything else there is 404 before a template
  is rendered. No page takes a claim code or a phone in its URL.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from bakong import limits
from bakong.gateway.pages.assets import static_files
from bakong.gateway.pages.render import page, page_route
from bakong.gateway.service import GatewayServices

__all__ = ["PAGES", "routes"]

FAMILIES = ("wallet",)
MANIFEST = "manifest.webmanifest"
_TX_HASH = re.compile(r"^[0-9a-f]{64}$")
_CLAIM_ID = re.compile(rf"^[0-9a-f]{{{2 * limits.claim_id_bytes}}}$")

#: Each page: (path, template, the page's script under `static/js/`).
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/wallet/", "wallet/home.html", "wallet-home.js"),
    ("/wallet/signup", "wallet/signup.html", "wallet-signup.js"),
    ("/wallet/signin", "wallet/signin.html", "wallet-signin.js"),
    ("/wallet/send", "wallet/send.html", "wallet-send.js"),
    ("/wallet/scan", "wallet/scan.html", "wallet-scan.js"),
    ("/wallet/qr", "wallet/qr.html", "wallet-qr.js"),
    ("/wallet/history", "wallet/history.html", "wallet-history.js"),
    ("/wallet/claim", "wallet/claim.html", "wallet-claim.js"),
    ("/wallet/bank", "wallet/bank.html", "wallet-bank.js"),
)


def _page(
    services: GatewayServices, template: str, script: str
) -> Callable[[Request], Awaitable[Response]]:
    context = {
        "script": script,
        "participant": services.participant,
        "lockout_minutes": limits.pin_lockout_ms // 60_000,
        "claim_period_ms": services.config.claims.period_ms,
    }

    async def show(request: Request) -> Response:
        """A wallet page (HTML)."""
        return page(request, template, FAMILIES, context)

    return show


async def receipt(request: Request) -> Response:
    """A payment's receipt page (HTML)."""
    tx_hash = request.path_params["tx_hash"]
    if not _TX_HASH.match(tx_hash):
        return page(request, "wallet/missing.html", FAMILIES, {"script": None}, status=404)
    context = {"script": "wallet-receipt.js", "tx_hash": tx_hash}
    return page(request, "wallet/receipt.html", FAMILIES, context)


async def sent_claim(request: Request) -> Response:
    """The page of money sent to a phone with no wallet (HTML)."""
    claim_id = request.path_params["claim_id"]
    if not _CLAIM_ID.match(claim_id):
        return page(request, "wallet/missing.html", FAMILIES, {"script": None}, status=404)
    context = {"script": "wallet-sent.js", "claim_id": claim_id}
    return page(request, "wallet/sent.html", FAMILIES, context)


async def manifest(request: Request) -> Response:
    """The wallet's web app manifest."""
    found = static_files()[MANIFEST]
    headers = {"cache-control": "no-cache", "x-content-type-options": "nosniff"}
    return Response(found.body, headers=headers, media_type=found.content_type)


async def to_home(request: Request) -> Response:
    """The wallet's home, with its trailing slash."""
    return RedirectResponse("/wallet/", status_code=308)


def routes(services: GatewayServices) -> list[BaseRoute]:
    found: list[BaseRoute] = [
        page_route(path, _page(services, template, script)) for path, template, script in PAGES
    ]
    return [
        *found,
        page_route("/wallet", to_home),
        page_route("/wallet/receipt/{tx_hash}", receipt),
        page_route("/wallet/sent/{claim_id}", sent_claim),
        page_route(f"/wallet/{MANIFEST}", manifest),
    ]
