"""The bank officer's pages under `/officer/...`: customers, webhook deliveries, the actions log.

    /officer/           find a customer by phone, handle or account ID; their wallet, KYC tier
                        and status; raise the tier (reason, documents checked), freeze and
                        unfreeze (reason), reset the PIN (identity checked)
    /officer/signin     the officer's name and password
    /officer/webhooks   every merchant's webhook deliveries
    /officer/actions    what officers did, newest first

Rules:
- The pages are shells, as the wallet's are (`pages.render`): `static/js/officer.js` does
  everything through the JSON API (`/v1/officer/...`) with the officer's token in
  `sessionStorage` (`bakong.token.officer`). A customer is searched for in a request body,
  never in a URL; every look and every change is recorded by the API with the officer's name.
- The tiers offered are the ledger's personal tiers (basic, partial, full), each with the
  daily limit the chain's policy gives it at this bank, so the officer sees what a change
  allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from bakong.gateway.pages.render import page, page_route
from bakong.gateway.service import GatewayServices
from bakong.ledger.assets import Asset
from bakong.ledger.policy import DEFAULT_POLICY, daily_limit
from bakong.ledger.records import KycTier

__all__ = ["PAGES", "routes", "tiers"]

FAMILIES = ("officer",)
PERSONAL_TIERS = (KycTier.basic, KycTier.partial, KycTier.full)

#: Each page: (path, template, what `officer.js` does there).
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/officer/", "officer/customers.html", "customers"),
    ("/officer/signin", "officer/signin.html", "signin"),
    ("/officer/webhooks", "officer/webhooks.html", "webhooks"),
    ("/officer/actions", "officer/actions.html", "actions"),
)


def tiers(services: GatewayServices) -> list[dict[str, Any]]:
    """The personal tiers with their daily limits at this bank, in minor units."""
    policy = services.genesis.limits or DEFAULT_POLICY
    return [
        {
            "tier": int(tier),
            "name": tier.name,
            "limits": {
                asset.value: daily_limit(policy, services.participant, tier, asset.index)
                for asset in (Asset.KHR, Asset.USD)
            },
        }
        for tier in PERSONAL_TIERS
    ]


def _page(
    services: GatewayServices, template: str, name: str
) -> Callable[[Request], Awaitable[Response]]:
    context = {"page": name, "tiers": tiers(services)}

    async def show(request: Request) -> Response:
        """An officer page (HTML)."""
        return page(request, template, FAMILIES, context)

    return show


async def to_desk(request: Request) -> Response:
    """The officer's desk, with its trailing slash."""
    return RedirectResponse("/officer/", status_code=308)


def routes(services: GatewayServices) -> list[BaseRoute]:
    found: list[BaseRoute] = [
        page_route(path, _page(services, template, name)) for path, template, name in PAGES
    ]
    return [*found, page_route("/officer", to_desk)]
