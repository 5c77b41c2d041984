"""Sessions: random tokens stored hashed, expiry, revocation, role; the SMS outbox."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.gateway import db, sessions, sms, wallets
from bakong.gateway.service import GatewayServices

NOW = 1_767_225_600_000


def _random(size: int) -> bytes:
    return bytes(itertools.islice(itertools.cycle(b"\x07\x01"), size))


def test_tokens_are_prefixed_base64url_of_the_configured_size() -> None:
    token = sessions.new_token(_random)
    assert token.startswith("bgs_") and len(token) == 4 + 43  # 32 bytes, unpadded
    assert sessions.bearer_token(f"Bearer {token}") == token
    assert sessions.bearer_token(f"bearer  {token} ") == token
    assert sessions.bearer_token(token) is None
    assert sessions.bearer_token("Basic dXNlcjpwYXNz") is None
    assert sessions.bearer_token(None) is None


def test_a_session_is_found_by_its_token_only_while_live(engine: Engine) -> None:
    with engine.begin() as connection:
        token, opened = sessions.open_session(connection, 7, "customer", NOW, _random)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(db.sessions.c.token_hash)).scalar_one()
        assert token not in stored and stored == sessions.token_digest(token)
        assert sessions.find_session(connection, token, NOW) == opened
        assert opened.customer_id == 7 and opened.role == "customer"
        end = NOW + limits.session_lifetime_ms
        assert sessions.find_session(connection, token, end - 1) is not None
        assert sessions.find_session(connection, token, end) is None
        assert sessions.find_session(connection, token + "x", NOW) is None
    with engine.begin() as connection:
        sessions.revoke_session(connection, opened.token_hash)
    with engine.connect() as connection:
        assert sessions.find_session(connection, token, NOW) is None


def test_the_outbox_keeps_the_message_and_the_log_does_not(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bakong.gateway.sms")
    body = sms.code_message("604211")
    with engine.begin() as connection:
        message_id = sms.queue_sms(connection, "+85512345678", body, NOW)
    with engine.connect() as connection:
        row = connection.execute(sa.select(db.sms_outbox)).one()
    assert (row.id, row.phone, row.body, row.sent_ms) == (message_id, "+85512345678", body, None)
    assert "604211" in body
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "sms queued" in logged and "604211" not in logged and "12345678" not in logged


class Provider:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, body: str) -> None:
        if phone in self.failing:
            raise ConnectionError("the provider is down")
        self.sent.append((phone, body))


def test_a_provider_drains_the_outbox_and_failures_stay_queued(engine: Engine) -> None:
    with engine.begin() as connection:
        for phone in ("+85511111111", "+85522222222", "+85533333333"):
            sms.queue_sms(connection, phone, "hello", NOW)
    provider = Provider(failing={"+85522222222"})
    assert asyncio.run(sms.deliver_pending(engine, provider, NOW + 1, count=10)) == 2
    assert [phone for phone, _ in provider.sent] == ["+85511111111", "+85533333333"]
    provider.failing.clear()
    assert asyncio.run(sms.deliver_pending(engine, provider, NOW + 2, count=10)) == 1
    assert asyncio.run(sms.deliver_pending(engine, provider, NOW + 3, count=10)) == 0
    with engine.connect() as connection:
        unsent = connection.execute(
            sa.select(sa.func.count()).where(db.sms_outbox.c.sent_ms.is_(None))
        ).scalar_one()
    assert unsent == 0


class FlakyProvider:
    """An in-memory SMS provider that fails its first send, then delivers."""

    def __init__(self) -> None:
        self.calls = 0
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, body: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("the provider is down")
        self.sent.append((phone, body))


def test_the_sms_sender_backs_off_after_a_failure_and_delivers(engine: Engine) -> None:
    with engine.begin() as connection:
        sms.queue_sms(connection, "+85511111111", "hello", NOW)
        sms.queue_sms(connection, "+85522222222", "stale", NOW - limits.sms_retry_window_ms - 1)
    provider = FlakyProvider()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(sms.run_sender(engine, provider, lambda: NOW + 1, sleep))
    assert provider.sent == [("+85511111111", "hello")]  # the stale message is not tried
    assert waits == [sms.retry_delay_s(1), limits.sms_poll_s, limits.sms_poll_s]
    assert sms.retry_delay_s(1) == 2 * limits.sms_poll_s
    assert sms.retry_delay_s(10**6) == limits.sms_backoff_s_max


def test_the_app_runs_the_sms_sender_only_with_a_provider(services: GatewayServices) -> None:
    assert len(wallets.workers(services)) == 1  # the onboarding sweeper alone
    provider = FlakyProvider()
    services.sms_provider = provider
    sender = wallets.workers(services)[1]
    with services.engine.begin() as connection:
        sms.queue_sms(connection, "+85511111111", "hello", services.clock_ms())

    async def run() -> None:
        task = asyncio.ensure_future(sender())
        for _ in range(100):  # one failure, then the backoff (2 s), then the delivery
            if provider.sent:
                break
            await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(run())
    assert provider.sent == [("+85511111111", "hello")] and provider.calls == 2
