"""The pages' static files (CSS, JS, icons, fonts) under `/static/...`, from `pages/static/`.

Rules:
- The files are indexed once, at start: every regular file below `static/` whose suffix has a
  content type in `CONTENT_TYPES`, read into memory with its SHA-256. A request is answered
  only from that index, looked up by the exact relative path, so no path (`..`, `%2e%2e`,
  an absolute path, a symlink added later) can reach anything else, and a directory is never
  listed: anything not in the index is 404.
- Each file is bounded (`limits.page_static_file_bytes_max`) and so is their number
  (`limits.page_static_files_max`): start-up fails on a file too large rather than serving it.
- Caching: `static_url(path)` gives `/static/<path>?v=<hash prefix>`. A request carrying the
  current hash is cached for a year (`immutable`: that URL never changes content); any other
  request (a module imported by a relative URL) is `no-cache`, revalidated by its ETag, so a
  new release is seen at once. Every answer is `nosniff` with an explicit content type.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.errors import ConfigError

__all__ = ["CONTENT_TYPES", "StaticFile", "static_files", "routes", "static_url"]

CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
VERSION_CHARS = 12  # of the hex SHA-256 in a versioned URL: 48 bits tell releases apart


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    digest: str  # hex SHA-256 of the body

    @property
    def etag(self) -> str:
        return f'"{self.digest[:32]}"'


def _walk(directory: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(directory.iterdir(), key=lambda item: item.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found.extend(_walk(entry, f"{prefix}{entry.name}/"))
        elif entry.is_file():
            found.append((f"{prefix}{entry.name}", entry))
    return found


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def _index() -> dict[str, StaticFile]:
    root = importlib.resources.files(__package__).joinpath("static")
    index: dict[str, StaticFile] = {}
    for path, entry in _walk(root, ""):
        content_type = CONTENT_TYPES.get(_suffix(path))
        if content_type is None:
            continue
        body = entry.read_bytes()
        if len(body) > limits.page_static_file_bytes_max:
            raise ConfigError(f"static file {path} is larger than the pages allow")
        index[path] = StaticFile(body, content_type, hashlib.sha256(body).hexdigest())
    if len(index) > limits.page_static_files_max:
        raise ConfigError("there are more static files than the pages allow")
    return index


@functools.cache
def static_files() -> dict[str, StaticFile]:
    """The index of static files, by path relative to `static/` (built on first use)."""
    return _index()


def static_url(path: str) -> str:
    """The URL of a static file, versioned by its content (KeyError for an unknown file)."""
    return f"/static/{path}?v={static_files()[path].digest[:VERSION_CHARS]}"


def _answer(found: StaticFile, request: Request) -> Response:
    versioned = request.query_params.get("v") == found.digest[:VERSION_CHARS]
    cache = f"public, max-age={limits.page_static_cache_s}, immutable" if versioned else "no-cache"
    headers = {
        "cache-control": cache,
        "etag": found.etag,
        "x-content-type-options": "nosniff",
    }
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.body, headers=headers, media_type=found.content_type)


async def serve_static(request: Request) -> Response:
    """A static file of the pages (CSS, JS, icons)."""
    found = static_files().get(request.path_params["path"])
    if found is None:
        return Response(
            b"not found", 404, {"x-content-type-options": "nosniff"}, media_type="text/plain"
        )
    return _answer(found, request)


def routes() -> list[BaseRoute]:
    static_files()  # index at start: a bad file fails the start, not a request
    return [Route("/static/{path:path}", serve_static, methods=["GET"], include_in_schema=False)]
