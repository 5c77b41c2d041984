"""Webhooks: tell a merchant's server, at least once and signed, that a payment arrived.

An event is queued in `webhook_events` by the projection, in the same database transaction
that records the payment (`enqueue_payment`), so a restart neither loses nor invents one. The
delivery worker (`deliver_due`, looped by `run_worker`) POSTs each due event's body to the
merchant's URL with httpx.

Rules:
- The body is JSON with an `eventId` (the receiver dedupes on it: a retry carries the same id
  and the same body), the event type and the payment, with amounts in minor units (integers).
- Headers: `X-Bakong-Event-Id`, and `X-Bakong-Signature: t=<unix ms>,v1=<hex>` where the hex is
  HMAC-SHA256(secret, "<t>." + body). The receiver checks it with `verify_signature`, which
  refuses a timestamp further than `limits.webhook_skew_ms_max` from its clock.
- Any 2xx answer delivers the event. Anything else (another status, a timeout, a refused
  connection) schedules another attempt after `backoff_ms(attempts)`: doubling from
  `limits.webhook_backoff_ms_min` up to `limits.webhook_backoff_ms_max`; after
  `limits.webhook_attempts_max` attempts the event stays undelivered, visible in the log.
- The schedule and the signature are pure functions; the worker takes the clock from services.
- The log (`delivery_log`) shows the merchant its own events only. A webhook URL or secret is
  never logged, and a failure is recorded as a status (`http_500`, `timeout`, `unreachable`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.gateway.db import merchants, webhook_events
from bakong.gateway.projection import Payment

__all__ = [
    "Delivery",
    "PaymentEvent",
    "backoff_ms",
    "deliver_due",
    "delivery_log",
    "enqueue_payment",
    "on_payment_applied",
    "on_payments_applied",
    "run_worker",
    "sign",
    "signature_header",
    "verify_signature",
]

_log = logging.getLogger("bakong.gateway.webhooks")


class PaymentEvent(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The body of a `payment.received` webhook (camelCase keys, as the Open API writes)."""

    event_id: str
    type: str
    hash: str
    from_account_id: str
    to_account_id: str
    currency: str
    amount: int  # minor units: cents for USD, riel for KHR
    md5: str | None
    external_ref: str | None
    height: int
    time_ms: int


class Delivery(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One line of the merchant's delivery log."""

    event_id: str
    attempts: int
    next_attempt_ms: int | None
    delivered_ms: int | None
    last_status: str | None


def backoff_ms(attempts: int) -> int | None:
    """The wait before the next try after `attempts` failed ones, or None: give up."""
    if attempts >= limits.webhook_attempts_max:
        return None
    doublings = min(attempts - 1, 62)  # past the cap long before 2**62 ms; never overflows
    return min(limits.webhook_backoff_ms_min << max(doublings, 0), limits.webhook_backoff_ms_max)


def sign(secret: bytes, timestamp_ms: int, body: bytes) -> str:
    """HMAC-SHA256 of "<timestamp_ms>." + body under the merchant's secret, in hex."""
    message = str(timestamp_ms).encode() + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp_ms: int, body: bytes) -> str:
    """The `X-Bakong-Signature` header's value."""
    return f"t={timestamp_ms},v1={sign(secret, timestamp_ms, body)}"


def verify_signature(secret: bytes, header: str, body: bytes, *, now_ms: int) -> bool:
    """Whether `header` signs `body` under `secret` at a time within the skew of `now_ms`."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, given = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or len(timestamp) > 16:
        return False
    if abs(now_ms - int(timestamp)) > limits.webhook_skew_ms_max:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), given)


def enqueue_payment(connection: Connection, event: PaymentEvent, *, now_ms: int) -> bool:
    """Queue `event` for the merchant it pays, if it has a webhook URL; True if queued.

    Called inside the projection's transaction; the event id is derived from the payment
    (transaction hash and command), so applying the same block twice cannot queue it twice.
    """
    url = connection.execute(
        sa.select(merchants.c.webhook_url).where(merchants.c.account_id == event.to_account_id)
    ).scalar()
    if not url:
        return False
    exists = connection.execute(
        sa.select(webhook_events.c.event_id).where(webhook_events.c.event_id == event.event_id)
    ).first()
    if exists is not None:
        return False
    connection.execute(
        sa.insert(webhook_events).values(
            event_id=event.event_id,
            merchant_account=event.to_account_id,
            body=msgspec.json.encode(event).decode(),
            attempts=0,
            next_attempt_ms=now_ms,
            delivered_ms=None,
            last_status=None,
        )
    )
    return True


def on_payments_applied(connection: Connection, payments: Sequence[Payment]) -> None:
    """The projection's `payments_applied` hook: `on_payment_applied` for those of a block's
    payments that went to a merchant with a webhook URL, found in one query (most of a
    block's payments are to customers, who have none)."""
    incoming = [payment for payment in payments if payment.ok and payment.direction == "in"]
    accounts = sorted({payment.account_id for payment in incoming})
    hooked: set[str] = set()
    for start in range(0, len(accounts), limits.gateway_finish_batch_max):
        hooked.update(
            connection.execute(
                _HOOKED, {"b_accounts": accounts[start : start + limits.gateway_finish_batch_max]}
            ).scalars()
        )
    for payment in incoming:
        if payment.account_id in hooked:
            on_payment_applied(connection, payment)


_HOOKED = sa.select(merchants.c.account_id).where(
    merchants.c.account_id.in_(sa.bindparam("b_accounts", expanding=True)),
    merchants.c.webhook_url.is_not(None),
    merchants.c.webhook_url != "",
)


def on_payment_applied(connection: Connection, payment: Payment) -> None:
    """The projection's `payment_applied` hook: queue a webhook for money a merchant received.

    The event id names the payment (transaction hash and command index), so it is the same
    however often the block is seen, and the event is due at the block's time: at once.
    """
    if not payment.ok or payment.direction != "in":
        return
    event = PaymentEvent(
        event_id=f"{payment.tx_hash.hex()}-{payment.command_index}",
        type="payment.received",
        hash=payment.tx_hash.hex(),
        from_account_id=payment.counterparty,
        to_account_id=payment.account_id,
        currency=payment.asset,
        amount=payment.amount,
        md5=payment.reference or None,
        external_ref=payment.external_ref or None,
        height=payment.height,
        time_ms=payment.time_ms,
    )
    enqueue_payment(connection, event, now_ms=payment.time_ms)


def _due(engine: Engine, now_ms: int) -> list[tuple[str, str, str, str]]:
    """(event id, body, url, secret) of events due now, oldest first, a bounded batch."""
    events, shops = webhook_events, merchants
    query = (
        sa.select(events.c.event_id, events.c.body, shops.c.webhook_url, shops.c.webhook_secret)
        .join(shops, shops.c.account_id == events.c.merchant_account)
        .where(
            events.c.delivered_ms.is_(None),
            events.c.next_attempt_ms <= now_ms,
            events.c.attempts < limits.webhook_attempts_max,
            shops.c.webhook_url.is_not(None),
        )
        .order_by(events.c.next_attempt_ms)
        .limit(limits.webhook_batch_max)
    )
    with engine.connect() as connection:
        return [(r[0], r[1], r[2], r[3] or "") for r in connection.execute(query)]


async def _post(
    client: httpx.AsyncClient, url: str, secret: str, event_id: str, body: str, now_ms: int
) -> str:
    """POST one event; its status as the log shows it (`ok`, `http_500`, `timeout`...)."""
    data = body.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Bakong-Event-Id": event_id,
        "X-Bakong-Signature": signature_header(secret.encode(), now_ms, data),
    }
    try:
        response = await client.post(url, content=data, headers=headers)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.HTTPError:
        return "unreachable"
    return "ok" if response.is_success else f"http_{response.status_code}"


def _record(engine: Engine, event_id: str, status: str, now_ms: int) -> None:
    events = webhook_events
    with engine.begin() as connection:
        attempts = (
            1
            + connection.execute(
                sa.select(events.c.attempts).where(events.c.event_id == event_id)
            ).scalar_one()
        )
        wait = None if status == "ok" else backoff_ms(attempts)
        connection.execute(
            sa.update(events)
            .where(events.c.event_id == event_id)
            .values(
                attempts=attempts,
                last_status=status,
                delivered_ms=now_ms if status == "ok" else None,
                next_attempt_ms=now_ms + wait if wait is not None else now_ms,
            )
        )


async def deliver_due(engine: Engine, client: httpx.AsyncClient, now_ms: int) -> int:
    """Try every event due at `now_ms` once; the number delivered."""
    due = await asyncio.to_thread(_due, engine, now_ms)
    delivered = 0
    for event_id, body, url, secret in due:
        status = await _post(client, url, secret, event_id, body, now_ms)
        await asyncio.to_thread(_record, engine, event_id, status, now_ms)
        delivered += status == "ok"
        _log.info("webhook attempt", extra={"event_id": event_id, "status": status})
    return delivered


async def run_worker(engine: Engine, clock_ms: Callable[[], int]) -> None:
    """Deliver due events every `limits.webhook_poll_s`, until cancelled (at shutdown)."""
    timeout = httpx.Timeout(limits.webhook_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        while True:
            try:
                await deliver_due(engine, client, clock_ms())
            except sa.exc.OperationalError:
                # The database is briefly unavailable (locked, restarting): try again next poll.
                _log.warning("webhook worker: database unavailable")
            await asyncio.sleep(limits.webhook_poll_s)


def _pending(delivered_ms: int | None, attempts: int) -> bool:
    return delivered_ms is None and attempts < limits.webhook_attempts_max


def delivery_log(connection: Connection, merchant_account: str, limit: int) -> list[Delivery]:
    """The merchant's own events, newest first (by when they were next or last tried)."""
    events = webhook_events
    rows = connection.execute(
        sa.select(
            events.c.event_id,
            events.c.attempts,
            events.c.next_attempt_ms,
            events.c.delivered_ms,
            events.c.last_status,
        )
        .where(events.c.merchant_account == merchant_account)
        .order_by(events.c.next_attempt_ms.desc())
        .limit(min(limit, limits.merchant_payments_page_max))
    )
    return [
        Delivery(
            event_id=row.event_id,
            attempts=row.attempts,
            next_attempt_ms=row.next_attempt_ms
            if _pending(row.delivered_ms, row.attempts)
            else None,
            delivered_ms=row.delivered_ms,
            last_status=row.last_status,
        )
        for row in rows
    ]
