"""The sample core bank's JSON API, and `run_corebank` which serves it with uvicorn.

    GET  /healthz                          {"status": "ok", "bank"} (no secret needed)
    POST /v1/accounts/lookup               {"account", "phone"?} -> the account's holder name,
                                           currency, status and whether `phone` is its phone
    POST /v1/postings                      {"posting_id", "kind": credit|debit, "account",
                                           "amount", "currency", "reference"} -> the posting
    GET  /v1/postings/{posting_id}         the stored posting, or 404 `posting_not_found`
    POST /v1/postings/{posting_id}/reverse the original after its compensating reversal (or its
                                           cancellation, if it was never posted)
    GET  /v1/journal?day=YYYY-MM-DD&after=SEQ&limit=N   the day's entries on the Bakong GL

Rules:
1. Every route but /healthz needs `Authorization: Bearer <api secret>`, compared in constant
   time (401 `unauthenticated`).
2. Bodies are bounded (`limits.corebank_body_bytes_max`, 413) and decoded strictly (400
   `bad_request`); errors are `{"error": {"code", "message"}}` with precise codes. No name or
   phone in a URL, a log line or an error.
3. A posting's answer is 201 when this request made it, 200 when it was there (a retry); a
   refusal is a stored posting too (`state: refused`, `code`). The same id with another
   request: 409 `posting_id_reused`.
4. The phone is compared by the bank and never sent back; the holder's name is sent for the
   caller to mask.
5. Fault switches (tests, docs/core-banking.md): the file `DIR/fault` is read on each posting.
   `die-after-commit`: the switch is removed, the posting is committed, and the process kills
   itself with SIGKILL before answering (one shot). `slow SECONDS`: wait that long first.
   `refuse`: store the posting refused (`refused`). `unavailable`: every authenticated route
   answers 503 at once (the core bank down).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import anyio.to_thread
import msgspec
from msgspec import Meta
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong import limits
from bakong.corebank import books
from bakong.corebank.books import CorebankProblem
from bakong.corebank.home import CorebankHome

__all__ = ["create_app", "run_corebank"]

log = logging.getLogger(__name__)

PostingId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
AccountNumber = Annotated[str, Meta(pattern=r"^[0-9]{6,20}$")]
Phone = Annotated[str, Meta(pattern=r"^\+[0-9]{8,15}$")]
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class Lookup(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    account: AccountNumber
    phone: Phone | None = None


class PostingBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    posting_id: PostingId
    kind: Literal["credit", "debit"]
    account: AccountNumber
    amount: Annotated[int, Meta(gt=0, le=limits.corebank_amount_max)]
    currency: Literal["KHR", "USD"]
    reference: Annotated[str, Meta(max_length=limits.corebank_reference_chars_max)] = ""


def _json(body: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status, media_type="application/json")


def _problem(error: CorebankProblem) -> Response:
    return _json({"error": {"code": error.code, "message": error.message}}, error.http_status)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Bank:
    def __init__(self, home: CorebankHome, engine: Engine) -> None:
        self.home = home
        self.engine = engine
        self.token = home.secret.hex().encode()

    async def db(self, function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: function(*args))

    def authenticate(self, request: Request) -> None:
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.token):
            raise CorebankProblem(401, "unauthenticated", "the API secret is missing or wrong")
        if self._fault() == "unavailable":
            raise CorebankProblem(503, "unavailable", "the core bank is unavailable")

    async def body(self, request: Request, kind: type[Any]) -> Any:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.corebank_body_bytes_max:
            raise CorebankProblem(413, "body_too_large", "the body is too large")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limits.corebank_body_bytes_max:
                raise CorebankProblem(413, "body_too_large", "the body is too large")
        try:
            return msgspec.json.decode(raw, type=kind, strict=True)
        except msgspec.ValidationError as error:
            raise CorebankProblem(400, "bad_request", str(error)) from None
        except msgspec.DecodeError:
            raise CorebankProblem(400, "bad_request", "the body is not valid JSON") from None

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok", "bank": self.home.bank})

    async def lookup(self, request: Request) -> Response:
        self.authenticate(request)
        body: Lookup = await self.body(request, Lookup)
        found = await self.db(books.find_account, self.engine, body.account)
        if found is None or found.kind != "deposit":
            raise CorebankProblem(404, "account_not_found", "no deposit account has this number")
        matches = body.phone is not None and found.phone is not None and hmac.compare_digest(
            body.phone.encode(), found.phone.encode()
        )
        return _json({
            "account": found.number, "holder_name": found.holder_name,
            "currency": found.currency, "status": found.status, "phone_matches": matches,
        })  # fmt: skip

    def _fault(self) -> str:
        try:
            return self.home.fault_file.read_text()[: limits.corebank_fault_chars_max].strip()
        except OSError:
            return ""

    async def post(self, request: Request) -> Response:
        self.authenticate(request)
        body: PostingBody = await self.body(request, PostingBody)
        fault = self._fault()
        if fault.startswith("slow "):
            delay = min(float(fault.split()[1]), limits.corebank_fault_slow_s_max)
            await asyncio.sleep(delay)
        dying = fault == "die-after-commit"
        if dying:
            self.home.fault_file.unlink(missing_ok=True)
        existed = await self.db(books.find_posting, self.engine, body.posting_id)
        request_ = books.PostingRequest(
            body.posting_id, body.kind, body.account, body.amount, body.currency, body.reference
        )
        posting = await self.db(_post, self.engine, request_, fault == "refuse")
        if dying:  # the worst moment: committed, and the caller never hears of it
            os.kill(os.getpid(), signal.SIGKILL)
        return _json(posting.view(), 200 if existed is not None else 201)

    async def status(self, request: Request) -> Response:
        self.authenticate(request)
        posting = await self.db(books.find_posting, self.engine, _posting_id(request))
        if posting is None:
            raise CorebankProblem(404, "posting_not_found", "no posting has this id")
        return _json(posting.view())

    async def reverse(self, request: Request) -> Response:
        self.authenticate(request)
        posting = await self.db(books.reverse, self.engine, _posting_id(request), _now_ms())
        return _json(posting.view())

    async def journal(self, request: Request) -> Response:
        self.authenticate(request)
        day = request.query_params.get("day", "")
        after, limit = request.query_params.get("after", "0"), request.query_params.get("limit")
        if not _DAY.match(day) or not after.isdigit() or not (limit or "1").isdigit():
            raise CorebankProblem(400, "bad_request", "day is YYYY-MM-DD; after, limit integers")
        count = min(int(limit or limits.corebank_journal_page_max),
                    limits.corebank_journal_page_max)  # fmt: skip
        try:
            entries = await self.db(books.journal, self.engine, day, int(after), max(count, 1))
        except ValueError:
            raise CorebankProblem(400, "bad_request", "day is not a date") from None
        more = len(entries) == count
        return _json({"day": day, "bank": self.home.bank, "entries": entries,
                      "next_after": entries[-1]["seq"] if more else None})  # fmt: skip


def _post(engine: Engine, request: books.PostingRequest, refuse: bool) -> books.Posting:
    return books.post(engine, request, _now_ms(), refuse=refuse)


def _posting_id(request: Request) -> str:
    posting_id = str(request.path_params["posting_id"])
    if not re.fullmatch(r"[A-Za-z0-9_.:~-]{1,72}", posting_id):
        raise CorebankProblem(400, "bad_request", "a posting id is up to 64 letters and digits")
    return posting_id


def _handle(handler: Callable[[Request], Awaitable[Response]]) -> Callable[..., Any]:
    async def handled(request: Request) -> Response:
        try:
            return await handler(request)
        except CorebankProblem as problem:
            return _problem(problem)

    return handled


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return _problem(CorebankProblem(error.status_code, code, str(error.detail)))


async def _internal(request: Request, error: Exception) -> Response:
    log.error("unhandled error", extra={"error": type(error).__name__})
    return _problem(CorebankProblem(500, "internal", "the core bank failed; try again"))


def create_app(home: CorebankHome, engine: Engine) -> Starlette:
    bank = _Bank(home, engine)
    routes = [
        Route("/healthz", _handle(bank.healthz), methods=["GET"]),
        Route("/v1/accounts/lookup", _handle(bank.lookup), methods=["POST"]),
        Route("/v1/postings", _handle(bank.post), methods=["POST"]),
        Route("/v1/postings/{posting_id}", _handle(bank.status), methods=["GET"]),
        Route("/v1/postings/{posting_id}/reverse", _handle(bank.reverse), methods=["POST"]),
        Route("/v1/journal", _handle(bank.journal), methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={
        HTTPException: _http_error, Exception: _internal,
    })  # fmt: skip


def run_corebank(home: CorebankHome, database: str | None, listen: str | None) -> int:
    """Serve the core bank of `home` until SIGTERM or SIGINT; prints `listening on URL`."""
    import uvicorn

    from bakong.gateway import db
    from bakong.node.home import parse_address

    engine = db.engine_for(database or home.database_url)
    books.create_schema(engine)
    host, port = parse_address(listen or home.config.corebank.listen)
    config = uvicorn.Config(create_app(home, engine), host=host, port=port, lifespan="off",
                            access_log=False, log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)

    async def serve() -> None:
        serving = asyncio.ensure_future(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(f"listening on http://{host}:{port}", flush=True)
        await serving

    asyncio.run(serve())
    engine.dispose()
    return 0 if server.started else 1

