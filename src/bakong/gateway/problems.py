"""How the gateway refuses a request, and how it reads and writes JSON bodies.

Rules:
- A refusal is `GatewayProblem(status, code, message)`, raised anywhere below a handler and
  rendered by the app as `{"error": {"code", "message"}}` with that HTTP status. The code is a
  stable snake_case string a program branches on; the message is for a person. A refusal may
  add facts a program shows in its own words (`details`, beside code and message): the
  attempts left before a lockout, when a lock ends.
- Neither may carry personal data (a phone, a name, a PIN, a code, a token): say which field
  is wrong, never what it held. msgspec's validation messages name the path (`$.phone`), not
  the value, which is why they may be passed on.
- A body is read up to its bound and no further (413 `body_too_large`), then decoded strictly
  into a msgspec Struct: unknown fields, wrong types and values outside the Struct's
  `Meta` constraints are 400 `bad_request`.
- Answers are JSON encoded by msgspec; integers stay integers (minor units).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from bakong.errors import RemoteError

__all__ = ["GatewayProblem", "json_response", "problem_response", "read_body", "read_json"]

T = TypeVar("T")

JSON_TYPE = "application/json"


class GatewayProblem(RemoteError):
    """The gateway refuses a request: an HTTP status, a stable code and a message."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code, message)
        self.http_status = status
        self.details = details or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`body` (structs, dicts, lists, ints, strings) as a JSON response."""
    return Response(msgspec.json.encode(body), status, headers, media_type=JSON_TYPE)


def problem_response(problem: GatewayProblem) -> Response:
    """The error envelope of `problem`."""
    envelope = {"error": {**problem.details, "code": problem.code, "message": problem.message}}
    return json_response(envelope, problem.http_status)


async def read_body(request: Request, bytes_max: int) -> bytes:
    """The request body, refused once it grows past `bytes_max` (before it is all read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > bytes_max:
        raise GatewayProblem(413, "body_too_large", f"the body is limited to {bytes_max} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > bytes_max:
            raise GatewayProblem(413, "body_too_large", f"the body is limited to {bytes_max} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, kind: type[T], bytes_max: int) -> T:
    """The body decoded strictly as `kind` (a msgspec Struct), or 400 `bad_request`."""
    body = await read_body(request, bytes_max)
    try:
        return msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as error:
        raise GatewayProblem(400, "bad_request", str(error)) from None
    except msgspec.DecodeError:
        raise GatewayProblem(400, "bad_request", "the body is not valid JSON") from None
