"""A tiny foreign switch for the link's tests (Thai, THB): signed ISO routes and a journal.

It is the other side of the contract in `bakong.crossborder.messages`, kept small: one
merchant for every PromptPay code, a pacs.008 idempotent on its end-to-end id, recalls, the
link's nostro statement, and a `mode` the test flips: `ok`, `refuse` (RJCT), `hang` (credit,
then answer nothing within the link's timeout; status queries hang too), `crash` (credit,
then fail without an answer, as a switch killed after committing would, and answer nothing
more until the test brings it back).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong import khqr
from bakong.crossborder.messages import (
    Camt029,
    Camt056,
    IsoError,
    IsoProblem,
    Lookup,
    LookupAnswer,
    Pacs002,
    Pacs008,
    Statement,
    StatementEntry,
    decode,
    encode,
    get_signed_bytes,
    sign_body,
    verify_body,
)
from bakong.wire.keys import SigningKey

MERCHANT = "TH-M1"
PHNOM_PENH = datetime.timezone(datetime.timedelta(hours=7))


@dataclass
class FakeSwitch:
    key: SigningKey
    link_key: bytes
    mode: str = "ok"
    hang_s: float = 2.0
    merchant_balance: int = 0
    payments: dict[str, tuple[bytes, Pacs002]] = field(default_factory=dict)
    entries: list[StatementEntry] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)

    def _answer(self, message: msgspec.Struct, status: int = 200) -> Response:
        body = encode(message)
        return Response(body, status, sign_body(self.key, body), media_type="application/json")

    async def _checked(self, request: Request) -> bytes:
        body = await request.body()
        signed = get_signed_bytes(request.url.path) if request.method == "GET" else body
        verify_body([self.link_key], request.headers, signed)
        return body

    def _entry(self, e2e: str, kind: str, side: str, amount: int) -> None:
        now_ms = int(datetime.datetime.now().timestamp() * 1000)
        self.entries.append(StatementEntry(len(self.entries) + 1, e2e, kind, side, amount,  # type: ignore[arg-type]
                                           now_ms))

    async def lookup(self, request: Request) -> Response:
        message = decode(await self._checked(request), Lookup)
        parsed = khqr.parse(message.qr)
        if parsed.scheme != "promptpay":
            raise IsoProblem(404, "merchant_not_found", "not a code of this switch")
        amount = None if parsed.amount is None else int(Decimal(parsed.amount) * 100)
        return self._answer(LookupAnswer("promptpay", MERCHANT, "Somchai Noodles", "Bangkok",
                                         "TH", "THB", amount))

    async def pacs008(self, request: Request) -> Response:
        body = await self._checked(request)
        message = decode(body, Pacs008)
        digest = hashlib.sha256(body).digest()
        known = self.payments.get(message.end_to_end_id)
        if known is not None:
            if known[0] != digest:
                raise IsoProblem(409, "end_to_end_id_reused", "another payment has this id")
            return self._answer(known[1])
        if self.mode == "refuse" or message.end_to_end_id in self.closed:
            answer = Pacs002(message.end_to_end_id, "RJCT", "AG01")
            self.payments[message.end_to_end_id] = (digest, answer)
            return self._answer(answer)
        answer = Pacs002(message.end_to_end_id, "ACCC", None, 1)
        self.payments[message.end_to_end_id] = (digest, answer)
        self.merchant_balance += message.amount
        self._entry(message.end_to_end_id, "pacs008", "debit", message.amount)
        if self.mode == "crash":
            raise RuntimeError("killed after committing the credit")
        if self.mode == "hang":
            await asyncio.sleep(self.hang_s)
        return self._answer(answer)

    async def status(self, request: Request) -> Response:
        await self._checked(request)
        if self.mode == "hang":
            await asyncio.sleep(self.hang_s)
        if self.mode == "crash":
            raise RuntimeError("down: killed after committing a credit")
        known = self.payments.get(request.path_params["e2e"])
        if known is None:
            raise IsoProblem(404, "payment_not_found", "no such payment")
        return self._answer(known[1])

    async def camt056(self, request: Request) -> Response:
        message = decode(await self._checked(request), Camt056)
        e2e = message.end_to_end_id
        known = self.payments.get(e2e)
        self.closed.add(e2e)
        if known is not None and known[1].status == "ACCC":
            credited = next(x.amount for x in self.entries if x.end_to_end_id == e2e)
            self.merchant_balance -= credited
            self._entry(e2e, "recall", "credit", credited)
            self.payments[e2e] = (known[0], Pacs002(e2e, "RJCT", "CUST"))
        return self._answer(Camt029(e2e, "ACCEPTED"))

    async def statement(self, request: Request) -> Response:
        await self._checked(request)
        day = request.path_params["day"]
        entries = [x for x in self.entries
                   if datetime.datetime.fromtimestamp(x.time_ms / 1000, PHNOM_PENH)
                   .date().isoformat() == day]
        closing = sum(x.amount if x.side == "credit" else -x.amount for x in entries)  # from 0
        return self._answer(Statement(day, "thaisw", "xlnk-nostro", "THB", 0, closing, entries))

    def app(self) -> Starlette:
        async def guarded(request: Request, handler) -> Response:  # type: ignore[no-untyped-def]
            try:
                return await handler(request)
            except IsoProblem as problem:
                return self._answer(IsoError(problem.code, problem.message), problem.http_status)

        def route(path: str, handler, method: str) -> Route:  # type: ignore[no-untyped-def]
            async def endpoint(request: Request) -> Response:
                return await guarded(request, handler)

            return Route(path, endpoint, methods=[method])

        return Starlette(routes=[
            route("/iso/lookup", self.lookup, "POST"),
            route("/iso/pacs008", self.pacs008, "POST"),
            route("/iso/pacs002/{e2e}", self.status, "GET"),
            route("/iso/camt056", self.camt056, "POST"),
            route("/iso/statement/{day}", self.statement, "GET"),
        ])
