"""Webhooks: the signature, the backoff schedule, and delivery to a real receiver on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong import limits
from bakong.gateway import db, webhooks
from bakong.gateway.webhooks import PaymentEvent
from tests.gateway.loopback import serve

NOW_MS = 1_800_000_000_000
SECRET = "whsec-test-secret"
SHOP = "coffee_klaing@aclb"


def test_backoff_doubles_from_the_minimum_to_the_cap_then_gives_up() -> None:
    schedule = [
        webhooks.backoff_ms(attempts) for attempts in range(1, limits.webhook_attempts_max + 1)
    ]
    assert schedule[:3] == [1_000, 2_000, 4_000]
    assert max(s for s in schedule if s is not None) == limits.webhook_backoff_ms_max
    assert schedule[-1] is None and None not in schedule[:-1]
    assert all(a <= b for a, b in zip(schedule[:-2], schedule[1:-1], strict=True))


def test_a_signature_binds_secret_time_and_body() -> None:
    body = b'{"eventId":"e1"}'
    header = webhooks.signature_header(SECRET.encode(), NOW_MS, body)
    check = webhooks.verify_signature
    assert check(SECRET.encode(), header, body, now_ms=NOW_MS + limits.webhook_skew_ms_max)
    assert not check(SECRET.encode(), header, body + b" ", now_ms=NOW_MS)
    assert not check(b"another secret", header, body, now_ms=NOW_MS)
    assert not check(SECRET.encode(), header, body, now_ms=NOW_MS + limits.webhook_skew_ms_max + 1)
    assert not check(SECRET.encode(), header.replace("t=", "t=1"), body, now_ms=NOW_MS)
    assert not check(SECRET.encode(), "v1=00", body, now_ms=NOW_MS)


class Receiver:
    """A merchant's server: checks the HMAC, fails the first delivery, dedupes by event id."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.attempts: list[str] = []
        self.processed: dict[str, bytes] = {}
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-bakong-signature", "")
        if not webhooks.verify_signature(SECRET.encode(), signature, body, now_ms=self.now_ms):
            return Response(status_code=401)
        event_id = request.headers["x-bakong-event-id"]
        self.attempts.append(event_id)
        if len(self.attempts) == 1:
            return Response(status_code=500)
        self.processed.setdefault(event_id, body)  # a repeat of a processed event changes nothing
        return Response(status_code=204)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(db.sqlite_url(tmp_path / "gateway.sqlite"))
    db.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _event(event_id: str = "evt-1") -> PaymentEvent:
    return PaymentEvent(
        event_id=event_id,
        type="payment.received",
        hash="ab" * 32,
        from_account_id="dara@wing",
        to_account_id=SHOP,
        currency="USD",
        amount=450,
        md5="0" * 32,
        external_ref=None,
        height=7,
        time_ms=NOW_MS,
    )


def _merchant(engine: Engine, url: str, secret: str = SECRET) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(db.merchants).values(
                account_id=SHOP,
                merchant_id="M-1",
                acquiring_bank="ACLEDA",
                webhook_url=url,
                webhook_secret=secret,
            )
        )


async def _deliver(engine: Engine, now_ms: int) -> int:
    async with httpx.AsyncClient(timeout=limits.webhook_timeout_s) as client:
        return await webhooks.deliver_due(engine, client, now_ms)


def test_an_event_is_retried_after_a_500_and_the_receiver_dedupes_it(store: Engine) -> None:
    receiver = Receiver(NOW_MS)
    with serve(receiver.app) as base:
        _merchant(store, f"{base}/hook")
        with store.begin() as connection:
            assert webhooks.enqueue_payment(connection, _event(), now_ms=NOW_MS)
            assert not webhooks.enqueue_payment(connection, _event(), now_ms=NOW_MS)  # same id
        assert asyncio.run(_deliver(store, NOW_MS)) == 0
        assert asyncio.run(_deliver(store, NOW_MS + 999)) == 0  # not due before the backoff
        assert asyncio.run(_deliver(store, NOW_MS + 1_000)) == 1
        assert asyncio.run(_deliver(store, NOW_MS + 60_000)) == 0  # delivered: never sent again
    assert receiver.attempts == ["evt-1", "evt-1"]
    assert list(receiver.processed) == ["evt-1"]
    body = receiver.processed["evt-1"]
    assert b'"amount":450' in body and b'"eventId":"evt-1"' in body
    with store.connect() as connection:
        (log,) = webhooks.delivery_log(connection, SHOP, 10)
        assert webhooks.delivery_log(connection, "other_shop@aclb", 10) == []
    assert (log.attempts, log.delivered_ms, log.last_status) == (2, NOW_MS + 1_000, "ok")


def test_a_wrong_secret_or_a_dead_server_is_logged_and_retried(store: Engine) -> None:
    receiver = Receiver(NOW_MS)
    with serve(receiver.app) as base:
        _merchant(store, f"{base}/hook", secret="not the receiver's secret")
        with store.begin() as connection:
            webhooks.enqueue_payment(connection, _event(), now_ms=NOW_MS)
        asyncio.run(_deliver(store, NOW_MS))
    with store.begin() as connection:
        assert webhooks.delivery_log(connection, SHOP, 10)[0].last_status == "http_401"
    asyncio.run(_deliver(store, NOW_MS + 1_000))  # the server is gone now
    with store.connect() as connection:
        (log,) = webhooks.delivery_log(connection, SHOP, 10)
    assert (log.attempts, log.last_status, log.delivered_ms) == (2, "unreachable", None)
    assert log.next_attempt_ms == NOW_MS + 1_000 + 2_000
    assert receiver.attempts == []


def test_a_merchant_without_a_webhook_gets_no_events(store: Engine) -> None:
    with store.begin() as connection:
        assert not webhooks.enqueue_payment(connection, _event(), now_ms=NOW_MS)
