"""Text messages to customers, through an outbox a real SMS provider drains.

Rules:
- A message is written to the `sms_outbox` table in the same database transaction as the
  thing it announces (a one-time code), so a code is never stored without its message nor
  a message sent for a code that was rolled back.
- The log says only "sms queued" with the outbox id: never the phone number or the text,
  which carries a code.
- Delivery is the provider's: anything with `async send(phone, body)` (`SmsProvider`).
  `deliver_pending` hands it each unsent message in order and marks it sent; a message whose
  send raises stays unsent and is tried again on the next call (at least once; a code's
  lifetime bounds how long a retry is useful). With no provider configured the outbox is the
  sink: the demo and the tests read the code from it.
- `PrintedSms` is the stand-in provider of a gateway run on one's own machine (`bakong
  gateway run --print-sms`, which the local demo uses): it prints each message, code and
  phone included, to the gateway's stdout, so a person trying the wallet reads the code
  there. `serve` refuses it unless the gateway listens on loopback only: a gateway others can
  reach never prints a code.
- With a provider in `services.sms_provider`, `run_sender` (a worker `wallets` registers) hands
  it the outbox every `limits.sms_poll_s`; after a round in which a send failed it waits twice
  as long each round (`retry_delay_s`, at most `limits.sms_backoff_s_max`), back to the poll
  interval after a clean round. It retries a message only within `limits.sms_retry_window_ms`
  of its queueing, so messages a provider keeps refusing cannot crowd out newer codes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from bakong import limits
from bakong.gateway import db

__all__ = [
    "PrintedSms",
    "SmsProvider",
    "code_message",
    "deliver_pending",
    "queue_sms",
    "retry_delay_s",
    "run_sender",
]

log = logging.getLogger("bakong.gateway.sms")


class SmsProvider(Protocol):
    """A real SMS gateway (an aggregator's HTTP API, an SMPP link)."""

    async def send(self, phone: str, body: str) -> None: ...


class PrintedSms:
    """Prints each message to stdout instead of sending it (a gateway on loopback only)."""

    async def send(self, phone: str, body: str) -> None:
        print(f"sms to {phone}: {body}", flush=True)


def code_message(code: str) -> str:
    """The text that carries a one-time code to its phone."""
    minutes = limits.otp_lifetime_ms // 60_000
    return f"Your Bakong wallet code is {code}. It expires in {minutes} minutes. Never share it."


def queue_sms(connection: sa.Connection, phone: str, body: str, now_ms: int) -> int:
    """Put a message in the outbox (in the caller's transaction); return its id."""
    result = connection.execute(
        db.sms_outbox.insert().values(phone=phone, body=body, created_ms=now_ms, sent_ms=None)
    )
    (message_id,) = result.inserted_primary_key or (None,)
    assert isinstance(message_id, int)
    log.info("sms queued", extra={"sms_id": message_id})
    return message_id


async def deliver_pending(
    engine: Engine, provider: SmsProvider, now_ms: int, count: int, *, queued_since_ms: int = 0
) -> int:
    """Send up to `count` unsent messages queued at or after `queued_since_ms`, oldest first;
    return how many were sent."""
    sent, _ = await _deliver(engine, provider, now_ms, count, queued_since_ms)
    return sent


async def _deliver(
    engine: Engine, provider: SmsProvider, now_ms: int, count: int, queued_since_ms: int
) -> tuple[int, int]:
    """(sent, failed) of one round over the outbox."""
    table = db.sms_outbox

    def pending() -> list[sa.Row[tuple[int, str, str]]]:
        with engine.connect() as connection:
            query = (
                sa.select(table.c.id, table.c.phone, table.c.body)
                .where(table.c.sent_ms.is_(None), table.c.created_ms >= queued_since_ms)
                .order_by(table.c.id)
                .limit(count)
            )
            return list(connection.execute(query))

    def mark_sent(message_id: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                table.update().where(table.c.id == message_id).values(sent_ms=now_ms)
            )

    sent = failed = 0
    for row in await run_in_threadpool(pending):
        try:
            await provider.send(row.phone, row.body)
        except Exception:  # a provider's failure must not stop the others; retried next call
            log.warning("sms not sent", extra={"sms_id": row.id}, exc_info=False)
            failed += 1
            continue
        await run_in_threadpool(mark_sent, row.id)
        log.info("sms sent", extra={"sms_id": row.id})
        sent += 1
    return sent, failed


def retry_delay_s(failed_rounds: int) -> float:
    """The wait before the next round after `failed_rounds` failed rounds in a row."""
    if failed_rounds <= 0:
        return limits.sms_poll_s
    # The exponent is capped so a provider down for days does not make a huge integer.
    doubled: float = limits.sms_poll_s * 2.0 ** min(failed_rounds, 32)
    return min(doubled, limits.sms_backoff_s_max)


async def run_sender(
    engine: Engine,
    provider: SmsProvider,
    clock_ms: Callable[[], int],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Hand `provider` the outbox, round after round with backoff, until cancelled."""
    failed_rounds = 0
    while True:
        now_ms = clock_ms()
        since_ms = now_ms - limits.sms_retry_window_ms
        try:
            _, failed = await _deliver(engine, provider, now_ms, limits.sms_batch_max, since_ms)
        except sa.exc.OperationalError:
            # The database is briefly unavailable (locked, restarting): back off like a failure.
            log.warning("sms sender: database unavailable")
            failed = 1
        failed_rounds = failed_rounds + 1 if failed else 0
        await sleep(retry_delay_s(failed_rounds))
