"""The gateway's server-rendered pages: the customer's wallet, the merchant's till, the officer's.

Each page family is a module exporting `routes(services) -> list[BaseRoute]` (`wallet`; the
till and the officer pages the same way); `routes` below assembles them with the language
switch and the static files, and `bakong.gateway.app` mounts it like any route module. How a
page is rendered and what every page carries: `pages.render`; the static files:
`pages.assets`; the languages: `pages.i18n`. The pages are shells that fetch their data from
the JSON API (`/v1/...`) in the browser, with the session's bearer token.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from bakong.gateway.pages import assets, kyc, officer, render, till, wallet
from bakong.gateway.service import GatewayServices

__all__ = ["routes"]


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [
        *render.routes(),
        *assets.routes(),
        *wallet.routes(services),
        *till.routes(services),
        *officer.routes(services),
        *kyc.routes(services),
    ]
