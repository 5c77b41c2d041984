"""A foreign switch simulator's HTTP API, and `run_switch` which serves it with uvicorn.

The switch side of the link protocol (`bakong.crossborder.messages`), every request signed by
the link's key and every answer (errors too) signed by the switch's:

    POST /iso/lookup              Lookup  -> LookupAnswer   a code of one of this family's schemes
    POST /iso/pacs008             Pacs008 -> Pacs002        credit a merchant from the nostro
    GET  /iso/pacs002/{e2e}                -> Pacs002        the stored status
    POST /iso/camt056             Camt056 -> Camt029        recall (books, rule 4)
    GET  /iso/statement/{day}              -> Statement      the nostro's entries of that day

The simulator's own API (tests, the demo), with `Authorization: Bearer <sim.secret>`; errors
are `{"code", "message"}`:

    GET  /sim/merchants                     each merchant with its static QR code
    GET  /sim/merchants/{id}/qr?amount=N    a code for N minor units (the scheme's real QR)
    GET  /sim/balances                      every account's balance
    POST /sim/wallets/{id}/pay-khqr         {qr, amount?}: a wallet here pays a KHQR through
                                            the link (`outbound`)
    GET  /sim/payments/{e2e}                a payment, asking the link again while pending

Faults (tests, docs/foreign-switches.md): the file `DIR/fault` is read on each pacs.008.
`slow N`: wait N seconds first. `timeout [N]`: the payment is stored `ACSP` (a status query
says so), then nothing for N seconds (default 300: longer than any caller waits), then it is
settled unless a recall closed it meanwhile. `refuse`: refuse it (`RJCT`, `AG01`).
`crash-after-credit`: the switch is removed, the credit committed, and the process kills itself
with SIGKILL before answering (one shot). At start, payments left `ACSP` are settled.
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
from typing import Any

import anyio.to_thread
import msgspec
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong import limits
from bakong.crossborder.messages import (
    Camt056,
    IsoProblem,
    Lookup,
    LookupAnswer,
    Pacs008,
    decode,
    encode,
    get_signed_bytes,
    sign_body,
    verify_body,
)
from bakong.foreignsim import books, outbound
from bakong.foreignsim.books import SwitchProblem
from bakong.foreignsim.families import from_minor, make_qr, payee_key, to_minor
from bakong.foreignsim.home import SimHome
from bakong.khqr.foreign import parse

__all__ = ["create_app", "run_switch"]

log = logging.getLogger(__name__)

_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,34}$")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _json(body: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status, media_type="application/json")


async def _read(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.iso_body_bytes_max:
        raise IsoProblem(413, "body_too_large", "the body is too large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limits.iso_body_bytes_max:
            raise IsoProblem(413, "body_too_large", "the body is too large")
    return raw


def _path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not _ID.match(value):
        raise IsoProblem(400, "bad_request", f"{name} is an ISO id (up to 35 characters)")
    return value


class _Switch:
    def __init__(self, home: SimHome, engine: Engine) -> None:
        self.home = home
        self.engine = engine
        self.family = home.family
        self.token = home.secret.hex().encode()

    async def db(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))

    def signed(self, message: msgspec.Struct, status: int = 200) -> Response:
        body = encode(message)
        headers = sign_body(self.home.key, body)
        return Response(body, status, headers=headers, media_type="application/json")

    async def verified(self, request: Request, kind: type[Any] | None) -> Any:
        """The decoded body (a POST) after its signature by the link is checked; for a GET the
        signature covers `GET <path>`."""
        if kind is None:
            signed = get_signed_bytes(request.url.path)
            verify_body([self.home.link_key], request.headers, signed)
            return None
        raw = await _read(request)
        verify_body([self.home.link_key], request.headers, raw)
        return decode(raw, kind)

    def fault(self) -> str:
        try:
            text = self.home.fault_file.read_text()[: limits.foreignsim_fault_chars_max]
        except OSError:
            return ""
        return text.strip()

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok", "family": self.family.name, "switch": self.family.switch})

    async def lookup(self, request: Request) -> Response:
        message: Lookup = await self.verified(request, Lookup)
        parsed = parse(message.qr)
        if parsed.scheme not in self.family.schemes or parsed.crc_valid is False:
            raise IsoProblem(
                422,
                "scheme_not_served",
                f"this switch serves {', '.join(self.family.schemes)} codes",
            )
        if parsed.currency is not None and parsed.currency != self.family.numeric:
            raise IsoProblem(422, "currency_not_served", "the code's currency is not served")
        key = payee_key(parsed)
        merchant = (
            None if key is None else await self.db(books.find_merchant_by_key, self.engine, key)
        )
        if merchant is None:
            raise IsoProblem(404, "merchant_not_found", "no merchant here has this code")
        amount = None
        if parsed.amount is not None:
            amount = to_minor(parsed.amount, self.family.exponent)
            if amount is None:
                raise IsoProblem(422, "amount_invalid", "the code's amount is not payable")
        return self.signed(
            LookupAnswer(
                parsed.scheme,
                merchant.id,
                merchant.name,
                merchant.city,
                self.family.country,
                self.family.currency,
                amount,
            )
        )

    async def pacs008(self, request: Request) -> Response:
        message: Pacs008 = await self.verified(request, Pacs008)
        fault = self.fault()
        stored, _ = await self.db(books.receive, self.engine, message, _now_ms())
        if fault.startswith(("slow", "timeout")):
            await asyncio.sleep(_fault_seconds(fault))
        dying = fault == "crash-after-credit"
        if dying:
            self.home.fault_file.unlink(missing_ok=True)
        settled = await self.db(
            books.settle,
            self.engine,
            stored.end_to_end_id,
            self.family.currency,
            _now_ms(),
            refuse=fault == "refuse",
        )
        if dying and settled.status == books.ACCC:  # committed, and the link never hears of it
            os.kill(os.getpid(), signal.SIGKILL)
        return self.signed(settled.pacs002())

    async def status(self, request: Request) -> Response:
        await self.verified(request, None)
        found = await self.db(books.payment, self.engine, _path_id(request, "e2e"))
        if found is None or found.direction != "in":  # an id a recall closed answers RJCT
            raise IsoProblem(404, "payment_not_found", "no payment has this end-to-end id")
        return self.signed(found.pacs002())

    async def camt056(self, request: Request) -> Response:
        message: Camt056 = await self.verified(request, Camt056)
        return self.signed(
            await self.db(books.recall, self.engine, message.end_to_end_id, _now_ms())
        )

    async def statement(self, request: Request) -> Response:
        await self.verified(request, None)
        day = str(request.path_params["day"])
        if not _DAY.match(day):
            raise IsoProblem(400, "bad_request", "the day is YYYY-MM-DD")
        try:
            found = await self.db(
                books.statement, self.engine, day, self.family.switch, self.family.currency
            )
        except ValueError:
            raise IsoProblem(400, "bad_request", "the day is not a date") from None
        return self.signed(found)

    def authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.token):
            raise SwitchProblem(401, "unauthenticated", "the simulator's secret is missing")

    async def merchants(self, request: Request) -> Response:
        self.authenticate(request)
        found = await self.db(books.list_accounts, self.engine, "merchant")
        return _json({"merchants": [self.merchant_view(merchant) for merchant in found]})

    def merchant_view(self, merchant: books.Account, amount: int | None = None) -> dict[str, Any]:
        sample = next(m for m in self.family.merchants if m.merchant_id == merchant.id)
        return {
            "merchant_id": merchant.id,
            "scheme": merchant.scheme,
            "name": merchant.name,
            "city": merchant.city,
            "currency": self.family.currency,
            "amount": amount,
            "qr": make_qr(self.family, sample, amount),
        }

    async def merchant_qr(self, request: Request) -> Response:
        self.authenticate(request)
        wanted = str(request.path_params["merchant_id"])
        found = [
            m for m in await self.db(books.list_accounts, self.engine, "merchant") if m.id == wanted
        ]
        if not found:
            raise SwitchProblem(404, "merchant_not_found", "no merchant has this id")
        amount_text = request.query_params.get("amount")
        if amount_text is not None and (
            not amount_text.isdigit() or not 0 < int(amount_text) <= limits.iso_amount_max
        ):
            raise SwitchProblem(400, "bad_request", "amount is a positive integer, minor units")
        amount = None if amount_text is None else int(amount_text)
        view = self.merchant_view(found[0], amount)
        if amount is not None:
            view["amount_text"] = f"{from_minor(amount, self.family.exponent)}"
        return _json(view)

    async def balances(self, request: Request) -> Response:
        self.authenticate(request)
        found = await self.db(books.balances, self.engine)
        return _json({"currency": self.family.currency, "balances": found})

    async def pay_khqr(self, request: Request) -> Response:
        self.authenticate(request)
        wallet = str(request.path_params["wallet_id"])
        try:
            body = msgspec.json.decode(await _read(request), type=outbound.PayKhqr, strict=True)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise SwitchProblem(400, "bad_request", str(error)[:140]) from None
        paid = await outbound.pay_khqr(self.home, self.engine, wallet, body)
        return _json(paid, 200 if paid["status"] != "ACSP" else 202)

    async def sim_payment(self, request: Request) -> Response:
        self.authenticate(request)
        found = await outbound.refresh(self.home, self.engine, _path_id(request, "e2e"))
        if found is None:
            raise SwitchProblem(404, "payment_not_found", "no payment has this end-to-end id")
        return _json(found.view())


def _fault_seconds(fault: str) -> float:
    words = fault.split()
    default = limits.foreignsim_timeout_fault_s if words[0] == "timeout" else 1.0
    try:
        seconds = float(words[1]) if len(words) > 1 else default
    except ValueError:
        seconds = default
    return max(0.0, min(seconds, max(limits.foreignsim_fault_slow_s_max, default)))


def _handle(switch: _Switch, handler: Callable[[Request], Awaitable[Response]]) -> Any:
    async def handled(request: Request) -> Response:
        try:
            return await handler(request)
        except IsoProblem as problem:
            return switch.signed(problem.error(), problem.http_status)
        except SwitchProblem as problem:
            if request.url.path.startswith("/iso/"):  # the link reads only signed answers
                error = IsoProblem(problem.http_status, problem.code, problem.message)
                return switch.signed(error.error(), problem.http_status)
            return _json({"code": problem.code, "message": problem.message}, problem.http_status)

    return handled


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return _json({"code": code, "message": str(error.detail)}, error.status_code)


async def _internal(request: Request, error: Exception) -> Response:
    log.error("unhandled error", extra={"error": type(error).__name__})
    return _json({"code": "internal", "message": "the switch failed; try again"}, 500)


def create_app(home: SimHome, engine: Engine) -> Starlette:
    switch = _Switch(home, engine)
    routes = [
        Route("/healthz", _handle(switch, switch.healthz), methods=["GET"]),
        Route("/iso/lookup", _handle(switch, switch.lookup), methods=["POST"]),
        Route("/iso/pacs008", _handle(switch, switch.pacs008), methods=["POST"]),
        Route("/iso/pacs002/{e2e}", _handle(switch, switch.status), methods=["GET"]),
        Route("/iso/camt056", _handle(switch, switch.camt056), methods=["POST"]),
        Route("/iso/statement/{day}", _handle(switch, switch.statement), methods=["GET"]),
        Route("/sim/merchants", _handle(switch, switch.merchants), methods=["GET"]),
        Route(
            "/sim/merchants/{merchant_id}/qr", _handle(switch, switch.merchant_qr), methods=["GET"]
        ),
        Route("/sim/balances", _handle(switch, switch.balances), methods=["GET"]),
        Route(
            "/sim/wallets/{wallet_id}/pay-khqr", _handle(switch, switch.pay_khqr), methods=["POST"]
        ),
        Route("/sim/payments/{e2e}", _handle(switch, switch.sim_payment), methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_error,
            Exception: _internal,
        },
    )


def settle_left_pending(home: SimHome, engine: Engine) -> int:
    """Settle the inbound payments a killed process left `ACSP`; how many there were."""
    pending = books.pending_inbound(engine)
    for e2e in pending:
        books.settle(engine, e2e, home.family.currency, _now_ms(), refuse=False)
    return len(pending)


def run_switch(home: SimHome, listen: str | None) -> int:
    """Serve the switch of `home` until SIGTERM or SIGINT; prints `listening on URL`."""
    import uvicorn

    from bakong.gateway import db
    from bakong.node.home import parse_address

    engine = db.engine_for(home.database_url)
    books.create_schema(engine)
    settle_left_pending(home, engine)
    host, port = parse_address(listen or home.config.switch.listen)
    config = uvicorn.Config(
        create_app(home, engine),
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
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
