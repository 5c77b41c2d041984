"""Rendering the console's pages: templates, messages, static files, forms and the session.

The console's pages follow the gateway's (`bakong.gateway.pages`, docs/pages.md): the same
strict Content-Security-Policy and headers (`PAGE_HEADERS`), English and Khmer catalogs with
every key in both, the `lang` cookie and its switch (`GET /lang`), static files indexed at
start and served with a content hash in the URL, no inline script or style. Unlike the
gateway's customer pages, they are rendered with their data on the server: the reader is
central bank staff signed in with an HttpOnly cookie, not a customer whose data must stay out
of a page's HTML, and the pages then work without any script.

Rules:
- The session cookie (`COOKIE`) is HttpOnly, SameSite=Strict, Secure over HTTPS, path `/`.
- Every form that changes something is a POST carrying the session's anti-forgery token
  (`csrf`); its answer is a redirect (303) to a page, with `?done=` or `?error=` and a code the
  page explains, so a reload never repeats an act and no answer is an error status a
  browser would report.
- A form body is bounded (`limits.console_body_bytes_max`, `limits.console_form_fields_max`)
  and read as `application/x-www-form-urlencoded`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from collections.abc import Mapping, Sequence
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qsl

import jinja2
import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.errors import ConfigError
from bakong.gateway.pages import i18n
from bakong.gateway.pages.assets import CONTENT_TYPES, VERSION_CHARS, StaticFile
from bakong.gateway.pages.render import LANGUAGE_NAMES, PAGE_HEADERS, switch_language
from bakong.gateway.problems import GatewayProblem, read_body
from bakong.ledger.assets import Asset, format_amount

__all__ = [
    "COOKIE",
    "environment",
    "messages",
    "page",
    "read_form",
    "redirect",
    "routes",
    "static_url",
]

COOKIE = "bakong_console"


@functools.cache
def messages(language: str) -> Mapping[str, str]:
    """The console's catalog in `language` (read once)."""
    assert language in i18n.LANGUAGES, language
    resource = importlib.resources.files(__package__).joinpath(
        "messages", f"console.{language}.json"
    )
    return msgspec.json.decode(resource.read_bytes(), type=dict[str, str])


def _walk(directory: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(directory.iterdir(), key=lambda item: item.name):
        if entry.is_dir():
            found.extend(_walk(entry, f"{prefix}{entry.name}/"))
        elif entry.is_file() and not entry.name.startswith("."):
            found.append((f"{prefix}{entry.name}", entry))
    return found


@functools.cache
def static_files() -> dict[str, StaticFile]:
    """The console's static files by path under `static/` (the gateway's assets rules)."""
    index: dict[str, StaticFile] = {}
    root = importlib.resources.files(__package__).joinpath("static")
    for path, entry in _walk(root, ""):
        content_type = CONTENT_TYPES.get("." + path.rpartition(".")[2])
        if content_type is None:
            continue
        body = entry.read_bytes()
        if len(body) > limits.page_static_file_bytes_max:
            raise ConfigError(f"static file {path} is larger than the pages allow")
        index[path] = StaticFile(body, content_type, hashlib.sha256(body).hexdigest())
    return index


def static_url(path: str) -> str:
    return f"/static/{path}?v={static_files()[path].digest[:VERSION_CHARS]}"


async def serve_static(request: Request) -> Response:
    """A static file of the console (its stylesheet)."""
    found = static_files().get(request.path_params["path"])
    headers = {"x-content-type-options": "nosniff"}
    if found is None:
        return Response(b"not found", 404, headers, media_type="text/plain")
    versioned = request.query_params.get("v") == found.digest[:VERSION_CHARS]
    headers["cache-control"] = (
        f"public, max-age={limits.page_static_cache_s}, immutable" if versioned else "no-cache"
    )
    headers["etag"] = found.etag
    return Response(found.body, headers=headers, media_type=found.content_type)


def _money(amount: int, asset: str) -> str:
    return format_amount(Asset(asset), amount)


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bakong.console.pages", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.globals["language_names"] = LANGUAGE_NAMES
    env.filters["money"] = _money
    return env


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
) -> Response:
    """`template` in the request's language, with `PAGE_HEADERS`."""
    language = i18n.language_of(request)
    texts = messages(language)
    url = request.url
    translate = i18n.translator(texts)

    def explain(code: str) -> str:
        key = f"error.{code}"
        return texts[key] if key in texts else translate("error.other", code=code)

    done = request.query_params.get("done", "")[:64]
    done_code, _, number = done.partition("-")
    done_key = f"console.done.{done_code}"
    done_text = translate(done_key, number=number) if done_key in texts else ""
    body = environment().get_template(template).render(
        done_text=done_text,
        lang=language, t=translate, explain=explain, path=url.path,
        here=url.path + (f"?{url.query}" if url.query else ""),
        error=request.query_params.get("error", "")[:64],
        **(context or {}),
    )  # fmt: skip
    return HTMLResponse(body, headers=PAGE_HEADERS)


def redirect(path: str, **query: str) -> Response:
    """A 303 to `path` (a path of this console, perhaps with a query) with `query` added."""
    suffix = "&".join(f"{name}={value}" for name, value in query.items())
    joint = "&" if "?" in path else "?"
    target = f"{path}{joint}{suffix}" if suffix else path
    return RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})


async def read_form(request: Request) -> dict[str, str]:
    """A bounded urlencoded form; 400 `bad_request` for another body."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise GatewayProblem(400, "bad_request", "a form is application/x-www-form-urlencoded")
    body = await read_body(request, limits.console_body_bytes_max)
    try:
        fields = parse_qsl(
            body.decode(), keep_blank_values=True, strict_parsing=False,
            max_num_fields=limits.console_form_fields_max,
        )  # fmt: skip
    except (UnicodeDecodeError, ValueError):
        raise GatewayProblem(400, "bad_request", "the form is malformed") from None
    return dict(fields)


def routes(extra: Sequence[BaseRoute] = ()) -> list[BaseRoute]:
    static_files()  # index at start: a bad file fails the start, not a request
    return [
        Route("/lang", switch_language, methods=["GET"], include_in_schema=False),
        Route("/static/{path:path}", serve_static, methods=["GET"], include_in_schema=False),
        *extra,
    ]
