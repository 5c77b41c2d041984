"""Server-sent events: money arriving, pushed to the open sessions of its account.

Rules:
- `GET /v1/events` (a customer's or a merchant's bearer token) opens a `text/event-stream`.
  Each ok payment INTO the session's account, once its block is applied by the projection, is
  sent as `event: payment` with a JSON `data` line (tx hash, height, counterparty and its
  bank, asset, amount in minor units, memo, reference, time). When that payment is the one
  that paid a dynamic KHQR of the account (`projection.mark_khqr_paid`), a second event
  follows, `event: khqr_paid`, naming the code (md5, bill number) with the amount and the
  payer's bank: what a till waits for to turn "paid". Event ids are
  `<tx hash>:<command index>` (and `...:khqr`), unique, so a client can drop one it has
  already shown.
- Delivery is live and best effort (the projection's `payment_committed` hook runs after the
  commit): a session that was not connected catches up from the history, or for a code from
  `GET /v1/merchant/codes/{md5}`, which are complete.
- Each stream holds at most `limits.events_queue_max` undelivered events; a reader that falls
  further behind is disconnected (it reconnects and reads the history), so a slow phone
  cannot make the gateway hold memory without bound. A comment line every
  `limits.events_keepalive_s` keeps proxies from closing an idle stream.
- A stream carries only its own account's payments: subscribers are keyed by account ID,
  taken from the session, never from the request. The store is read for a paid code only
  when someone is listening to that account.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.gateway import db, sessions
from bakong.gateway.merchants import bank_name
from bakong.gateway.projection import Payment
from bakong.gateway.service import GatewayServices
from bakong.gateway.wallets import customer_by_id

__all__ = ["EventHub", "routes"]

_CLOSED = None  # put in a queue to end its stream

#: The dynamic code a payment paid, if any: (md5, bill number), read from the store.
PaidCode = Callable[[Payment], Awaitable[tuple[str, str | None] | None]]


class EventHub:
    """The open streams of this gateway, by account."""

    def __init__(self, banks: Callable[[str], str], paid_code: PaidCode | None = None) -> None:
        self._streams: dict[str, set[asyncio.Queue[bytes | None]]] = defaultdict(set)
        self._banks = banks
        self._paid_code = paid_code

    def subscribe(self, account_id: str) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(limits.events_queue_max + 1)
        self._streams[account_id].add(queue)
        return queue

    def unsubscribe(self, account_id: str, queue: asyncio.Queue[bytes | None]) -> None:
        streams = self._streams.get(account_id)
        if streams is not None:
            streams.discard(queue)
            if not streams:
                del self._streams[account_id]

    def subscribers(self, account_id: str) -> int:
        return len(self._streams.get(account_id, ()))

    def _send(self, account_id: str, message: bytes) -> None:
        for queue in list(self._streams.get(account_id, ())):
            if queue.qsize() >= limits.events_queue_max:
                self.unsubscribe(account_id, queue)
                queue.put_nowait(_CLOSED)  # the one slot kept free for this
            else:
                queue.put_nowait(message)

    async def publish(self, payment: Payment) -> None:
        """The projection's `payment_committed` hook."""
        if not payment.ok or payment.direction != "in" or not self.subscribers(payment.account_id):
            return
        bank = self._banks(payment.counterparty)
        self._send(payment.account_id, _message(payment, bank))
        if payment.reference and self._paid_code is not None:
            paid = await self._paid_code(payment)
            if paid is not None:
                self._send(payment.account_id, _paid_message(payment, bank, *paid))


def _message(payment: Payment, bank: str) -> bytes:
    data = {
        "tx_hash": payment.tx_hash.hex(),
        "height": payment.height,
        "from": payment.counterparty,
        "from_bank": bank,
        "to": payment.account_id,
        "asset": payment.asset,
        "amount": payment.amount,
        "memo": payment.memo,
        "reference": payment.reference,
        "time_ms": payment.time_ms,
    }
    event_id = f"{payment.tx_hash.hex()}:{payment.command_index}"
    return b"id: %s\nevent: payment\ndata: %s\n\n" % (event_id.encode(), msgspec.json.encode(data))


def _paid_message(payment: Payment, bank: str, md5: str, bill_number: str | None) -> bytes:
    data = {
        "md5": md5,
        "bill_number": bill_number,
        "tx_hash": payment.tx_hash.hex(),
        "from": payment.counterparty,
        "from_bank": bank,
        "asset": payment.asset,
        "amount": payment.amount,
        "time_ms": payment.time_ms,
    }
    event_id = f"{payment.tx_hash.hex()}:{payment.command_index}:khqr"
    encoded = msgspec.json.encode(data)
    return b"id: %s\nevent: khqr_paid\ndata: %s\n\n" % (event_id.encode(), encoded)


def _paid_code(engine: Engine, payment: Payment) -> tuple[str, str | None] | None:
    """The dynamic code of the payment's account that this payment paid, if any."""
    codes = db.khqr_codes
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(codes.c.md5, codes.c.bill_number).where(
                codes.c.md5 == payment.reference,
                codes.c.account_id == payment.account_id,
                codes.c.paid_tx_hash == payment.tx_hash,
            )
        ).first()
    return None if row is None else (row.md5, row.bill_number)


async def _stream(
    hub: EventHub, account_id: str, queue: asyncio.Queue[bytes | None]
) -> AsyncIterator[bytes]:
    try:
        yield b": open\n\n"
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), limits.events_keepalive_s)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if message is _CLOSED:
                return
            yield message
    finally:
        hub.unsubscribe(account_id, queue)


def routes(services: GatewayServices) -> list[BaseRoute]:
    async def paid_code(payment: Payment) -> tuple[str, str | None] | None:
        return await services.db(_paid_code, services.engine, payment)

    hub = EventHub(lambda account_id: bank_name(services, account_id), paid_code)
    services.hooks.payment_committed.append(hub.publish)

    async def events(request: Request) -> Response:
        """Money arriving, as server-sent events, while the stream is open."""
        session = await sessions.authenticate(services, request, "customer", "merchant")

        def account() -> str:
            with services.engine.connect() as connection:
                return str(customer_by_id(connection, session.customer_id).account_id)

        account_id = await services.db(account)
        queue = hub.subscribe(account_id)
        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(
            _stream(hub, account_id, queue), media_type="text/event-stream", headers=headers
        )

    return [Route("/v1/events", events, methods=["GET"])]
