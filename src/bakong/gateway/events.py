"""Server-sent events: incoming payments pushed to the customer's open sessions.

Rules:
- `GET /v1/events` (a customer's bearer token) opens a `text/event-stream`. Each ok payment
  INTO the customer's account, once its block is applied by the projection, is sent as
  `event: payment` with a JSON `data` line (tx hash, height, counterparty, asset, amount in
  minor units, memo, reference, time). The event id is `<tx hash>:<command index>`, unique
  per payment, so a client can drop one it has already shown.
- Delivery is live and best effort (the projection's `payment_committed` hook runs after the
  commit): a session that was not connected catches up from the history, which is complete.
- Each stream holds at most `limits.events_queue_max` undelivered events; a reader that falls
  further behind is disconnected (it reconnects and reads the history), so a slow phone
  cannot make the gateway hold memory without bound. A comment line every
  `limits.events_keepalive_s` keeps proxies from closing an idle stream.
- A stream carries only its own customer's payments: subscribers are keyed by account ID,
  taken from the session, never from the request.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.gateway import sessions
from bakong.gateway.projection import Payment
from bakong.gateway.service import GatewayServices
from bakong.gateway.wallets import customer_by_id

__all__ = ["EventHub", "routes"]

_CLOSED = None  # put in a queue to end its stream


class EventHub:
    """The open streams of this gateway, by account."""

    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[bytes | None]]] = defaultdict(set)

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

    async def publish(self, payment: Payment) -> None:
        """The projection's `payment_committed` hook."""
        if not payment.ok or payment.direction != "in":
            return
        message = _message(payment)
        for queue in list(self._streams.get(payment.account_id, ())):
            if queue.qsize() >= limits.events_queue_max:
                self.unsubscribe(payment.account_id, queue)
                queue.put_nowait(_CLOSED)  # the one slot kept free for this
            else:
                queue.put_nowait(message)


def _message(payment: Payment) -> bytes:
    data = {
        "tx_hash": payment.tx_hash.hex(),
        "height": payment.height,
        "from": payment.counterparty,
        "to": payment.account_id,
        "asset": payment.asset,
        "amount": payment.amount,
        "memo": payment.memo,
        "reference": payment.reference,
        "time_ms": payment.time_ms,
    }
    event_id = f"{payment.tx_hash.hex()}:{payment.command_index}"
    return b"id: %s\nevent: payment\ndata: %s\n\n" % (event_id.encode(), msgspec.json.encode(data))


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
    hub = EventHub()
    services.hooks.payment_committed.append(hub.publish)

    async def events(request: Request) -> Response:
        """Incoming payments as server-sent events, while the stream is open."""
        session = await sessions.authenticate(services, request, "customer")

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
