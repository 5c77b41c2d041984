"""The gateway's OpenAPI 3.1 document, built from its mounted routes and their msgspec types.

Rules:
- Every mounted `Route` appears, with its methods. Its summary is the first line of the
  endpoint's docstring; its request and response bodies are the msgspec types a route
  module declared with `describe(endpoint, body=..., response=...)`, converted by msgspec's
  own JSON Schema generator, so the document cannot drift from what the handlers decode.
- Errors share one schema: `{"error": {"code", "message"}}` (`bakong.gateway.problems`).
- Routes are described, never executed, to build it: the document costs nothing at start-up.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.routing import BaseRoute, Route

__all__ = ["describe", "openapi_document"]


@dataclass(frozen=True)
class _Description:
    body: Any | None
    response: Any | None


_described: dict[Any, _Description] = {}

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

E = Any


def describe(endpoint: E, *, body: Any | None = None, response: Any | None = None) -> E:
    """Declare the msgspec types of `endpoint`'s request body and 200 answer; returns it."""
    _described[_key(endpoint)] = _Description(body, response)
    return endpoint


def _key(endpoint: Callable[..., Any]) -> Any:
    # A bound method is a new object at each attribute access; its function is stable.
    return getattr(endpoint, "__func__", endpoint)


def _summary(endpoint: Callable[..., Any]) -> str:
    doc = inspect.getdoc(endpoint) or ""
    return doc.splitlines()[0] if doc else ""


def _operation(route: Route, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    description = _described.get(_key(route.endpoint), _Description(None, None))
    operation: dict[str, Any] = {
        "summary": _summary(route.endpoint),
        "responses": {
            "200": {"description": "OK"},
            "default": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if description.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[description.body]}},
        }
    if description.response is not None:
        content = {"application/json": {"schema": refs[description.response]}}
        operation["responses"]["200"]["content"] = content
    return operation


def openapi_document(routes: Sequence[BaseRoute], title: str = "bakong gateway") -> dict[str, Any]:
    """The OpenAPI document of `routes`."""
    http_routes = [r for r in routes if isinstance(r, Route) and r.include_in_schema]
    types = sorted(
        {
            kind
            for route in http_routes
            for description in [_described.get(_key(route.endpoint))]
            if description is not None
            for kind in (description.body, description.response)
            if kind is not None
        },
        key=repr,
    )
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in http_routes:
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                paths.setdefault(route.path, {})[method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"schemas": {**components, "Error": _ERROR_SCHEMA}},
    }
