"""The pages of onboarding by ID card and selfie (issue 18): the customer's "Verify my identity"
and the officer's queue of ID checks.

    /wallet/verify   photos of both sides of the ID card (chosen or taken), selfie frames from
                     the camera with the challenge (blink), and the submission's status
    /officer/kyc     the submissions waiting for an officer: the images, the fields read and
                     their checks, the face distance against the threshold, the liveness
                     result, the wallet's own name and birth date; approve or reject with a
                     reason

Rules:
- Shells like every page (`pages.render`): `static/js/kyc-verify.js` and `kyc-officer.js`
  call the JSON API (`/v1/kyc/...`, `/v1/officer/kyc/...`, `bakong.gateway.kyc.api`) with the
  session's token; nothing personal is in the page or a URL. The images reach the officer's
  page as `data:` URLs inside the API's answer (the CSP allows `img-src data:`).
- The card photos and selfie frames are scaled down in the browser before they are sent
  (a card side to 1,600 px, a frame to 640 px, JPEG), well inside the API's bounds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bakong import limits
from bakong.gateway.pages.officer import tiers
from bakong.gateway.pages.render import page, page_route
from bakong.gateway.service import GatewayServices

__all__ = ["routes"]


def _page(
    template: str, families: tuple[str, ...], context: dict[str, object]
) -> Callable[[Request], Awaitable[Response]]:
    async def show(request: Request) -> Response:
        """A KYC page (HTML)."""
        return page(request, template, families, context)

    return show


def routes(services: GatewayServices) -> list[BaseRoute]:
    partial = next(tier for tier in tiers(services) if tier["name"] == "partial")
    verify = {
        "script": "kyc-verify.js",
        "frames": limits.kyc_selfie_frames_max,
        "limit_khr": partial["limits"]["KHR"],
        "limit_usd": partial["limits"]["USD"],
    }
    return [
        page_route("/wallet/verify", _page("kyc/verify.html", ("wallet", "kyc"), verify)),
        page_route("/officer/kyc", _page("kyc/queue.html", ("officer", "kyc"), {})),
    ]
