"""Rendering a page: the Jinja2 environment, the headers every page carries, the language switch.

Rules:
- Templates live in `pages/templates/`; every one extends `base.html` (language attribute,
  viewport, manifest, stylesheet, skip link, header with the language switch, `<main>`, and
  the page's messages as a JSON block for its script). Autoescaping is on for every template.
- A page is a shell: it never carries a customer's data. The page's script fetches that from
  the JSON API with the session's bearer token (kept in `sessionStorage`), so a page load
  without a session shows nothing private, and no personal data reaches a URL or a cache.
- Every page answer carries `PAGE_HEADERS`: the strict Content-Security-Policy (scripts,
  styles and connections from this origin only; no inline script or style; no framing),
  `nosniff`, `no-referrer` and `no-store`.
- `GET /lang?to=km&next=/wallet/send` sets the `lang` cookie and returns to `next`, which
  must be a path of this gateway (`/` then not `/` or `\\`): the switch is a plain link that
  works without JS, and it cannot send anyone to another site.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.gateway.pages import i18n
from bakong.gateway.pages.assets import static_url

__all__ = ["CSP", "PAGE_HEADERS", "environment", "page", "page_route", "routes", "safe_next"]

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
LANGUAGE_NAMES = {"en": "English", "km": "ខ្មែរ"}


@functools.cache
def environment() -> jinja2.Environment:
    """The pages' Jinja2 environment (autoescaped, strict about undefined names)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bakong.gateway.pages", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.globals["language_names"] = LANGUAGE_NAMES
    return env


def safe_next(value: str | None) -> str:
    """`value` when it is a path of this gateway, else `/`."""
    if (
        not value
        or len(value) > limits.page_next_chars_max
        or not value.startswith("/")
        or value[1:2] in ("/", "\\")
        or any(ord(char) < 0x20 or char == "\\" for char in value)
    ):
        return "/"
    return value


def page(
    request: Request,
    template: str,
    families: Sequence[str],
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> Response:
    """`template` rendered in the request's language with the messages of `families` (and
    `common`), as an HTML answer with `PAGE_HEADERS`."""
    language = i18n.language_of(request)
    texts = i18n.messages(["common", *families], language)
    url = request.url
    body = environment().get_template(template).render(
        lang=language,
        t=i18n.translator(texts),
        messages=texts,
        path=url.path,
        here=url.path + (f"?{url.query}" if url.query else ""),
        **(context or {}),
    )  # fmt: skip
    return HTMLResponse(body, status, headers=PAGE_HEADERS)


def page_route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
    """A GET route of a page: left out of the OpenAPI document, which describes the JSON API."""
    return Route(path, endpoint, methods=["GET"], include_in_schema=False)


async def switch_language(request: Request) -> Response:
    """Set the page language (cookie `lang`) and return to the page the person was on."""
    asked = request.query_params.get("to", "")
    target = safe_next(request.query_params.get("next"))
    answer = RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})
    if asked in i18n.LANGUAGES:
        answer.set_cookie(
            i18n.COOKIE, asked, max_age=limits.page_lang_cookie_s, path="/", samesite="lax",
            secure=request.url.scheme == "https",
        )  # fmt: skip
    return answer


def routes() -> list[BaseRoute]:
    return [page_route("/lang", switch_language)]
