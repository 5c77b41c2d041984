"""The HTTP SMS provider (`bakong.gateway.sms_http`): configured from a home's config.toml,
sending through the outbox to a real HTTP server on loopback that plays the aggregator.

The server can be told to answer 503 a number of times, to refuse (400), or to be slow; the
outbox must keep every message the provider did not accept, and nothing of a message (phone
or text) may reach a log line or an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bakong.errors import ConfigError
from bakong.gateway import db, sms
from bakong.gateway.home import GatewayConfig, GatewaySection, format_config, init_home, load_home
from bakong.gateway.service import services_from_home
from bakong.gateway.sms_http import HttpSms, SmsConfig, SmsNotAccepted, check_sms, sms_provider
from bakong.keystore import write_private_file
from bakong.ledger.genesis import encode_genesis
from bakong.sandbox import Sandbox
from tests.gateway.loopback import serve

PHONE = "+85512000099"
TEXT = sms.code_message("734912")
TOKEN = "sk_test_5f0c1e"


@dataclass
class Aggregator:
    """What the fake provider was sent, and how it answers next."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    busy_answers: int = 0  # 503s before it accepts
    refuse: bool = False
    delay_s: float = 0.0

    def app(self) -> Starlette:
        async def send(request: Request) -> Response:
            self.received.append((request.headers.get("authorization", ""), await request.json()))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.refuse:
                return JSONResponse({"error": "invalid number"}, 400)
            if self.busy_answers > 0:
                self.busy_answers -= 1
                return JSONResponse({"error": "busy"}, 503)
            return JSONResponse({"id": "msg-1", "status": "queued"}, 202)

        return Starlette(routes=[Route("/send", send, methods=["POST"])])


@pytest.fixture
def aggregator() -> Iterator[tuple[Aggregator, str]]:
    fake = Aggregator()
    with serve(fake.app()) as url:
        yield fake, url + "/send"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(db.sqlite_url(tmp_path / "gateway.db"))
    db.migrate(engine)
    yield engine
    engine.dispose()


def _queued(engine: Engine) -> int:
    with engine.begin() as connection:
        return sms.queue_sms(connection, PHONE, TEXT, now_ms=1_000)


def _sent_ms(engine: Engine, message_id: int) -> int | None:
    with engine.connect() as connection:
        sent: int | None = connection.execute(
            sa.select(db.sms_outbox.c.sent_ms).where(db.sms_outbox.c.id == message_id)
        ).scalar_one()
    return sent


def _deliver(engine: Engine, provider: HttpSms) -> int:
    return asyncio.run(sms.deliver_pending(engine, provider, now_ms=2_000, count=10))


def test_a_home_configures_the_provider_and_its_token_file(
    tmp_path: Path, aggregator: tuple[Aggregator, str], engine: Engine
) -> None:
    fake, url = aggregator
    config = GatewayConfig(
        GatewaySection(participant="aclb", core_url="http://127.0.0.1:1"),
        sms=SmsConfig(provider="http", url=url, token_file="sms-token", sender="BAKONG"),
    )
    text = format_config(config)
    assert '[sms]\nprovider = "http"\n' in text and 'token_file = "sms-token"' in text
    write_private_file(tmp_path / "sms-token", TOKEN.encode() + b"\n")
    provider = sms_provider(config.sms, tmp_path)
    assert isinstance(provider, HttpSms)

    message_id = _queued(engine)
    assert _deliver(engine, provider) == 1
    assert _sent_ms(engine, message_id) == 2_000
    assert fake.received == [(f"Bearer {TOKEN}", {"to": PHONE, "text": TEXT, "sender": "BAKONG"})]
    assert sms_provider(SmsConfig(), tmp_path) is None  # no [sms]: the outbox is the sink


def test_the_config_toml_gives_the_gateway_its_provider(tmp_path: Path, engine: Engine) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(Sandbox().genesis))
    sms_table = SmsConfig(provider="http", url="https://sms.example.com/send", token_file="t")
    config = GatewayConfig(GatewaySection("aclb", "http://127.0.0.1:1"), sms=sms_table)
    home = tmp_path / "home"
    home.mkdir()
    write_private_file(home / "t", TOKEN.encode())
    assert init_home(home, config, genesis).config == load_home(home).config == config
    services = services_from_home(load_home(home), engine)
    assert isinstance(services.sms_provider, HttpSms)
    assert services.sms_provider.url == "https://sms.example.com/send"
    with pytest.raises(ConfigError, match="sms"):
        init_home(tmp_path / "bad", msgspec.structs.replace(
            config, sms=SmsConfig(provider="http", url="http://sms.example.com", token_file="t")
        ), genesis)  # fmt: skip


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        (SmsConfig(provider="smpp", url="https://x", token_file="t"), "unknown"),
        (SmsConfig(provider="http", url="http://sms.example.com/send", token_file="t"), "https"),
        (SmsConfig(provider="http", url="ftp://x/send", token_file="t"), "https"),
        (SmsConfig(provider="http", url="https://x/send", token_file=""), "token_file"),
        (SmsConfig(provider="http", url="https://x/send", token_file="/etc/t"), "token_file"),
        (SmsConfig(provider="http", url="https://x/send", token_file="../t"), "token_file"),
        (SmsConfig(provider="http", url="https://x", token_file="t", sender="x" * 12), "sender"),
        (SmsConfig(url="https://x/send"), "no provider"),
    ],
)
def test_a_wrong_sms_table_is_refused(config: SmsConfig, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        check_sms(config)


def test_a_token_file_missing_open_or_empty_is_refused(tmp_path: Path) -> None:
    config = SmsConfig(provider="http", url="https://x/send", token_file="sms-token")
    with pytest.raises(ConfigError, match="token_file"):
        sms_provider(config, tmp_path)
    token = tmp_path / "sms-token"
    token.write_text(TOKEN)
    token.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        sms_provider(config, tmp_path)
    token.unlink()
    write_private_file(token, b"\n")
    with pytest.raises(ConfigError, match="no token"):
        sms_provider(config, tmp_path)


def test_a_busy_provider_is_asked_again_within_the_send(
    aggregator: tuple[Aggregator, str], engine: Engine
) -> None:
    fake, url = aggregator
    fake.busy_answers = 2
    message_id = _queued(engine)
    assert _deliver(engine, HttpSms(url, TOKEN, retry_s=0.01)) == 1
    assert len(fake.received) == 3 and _sent_ms(engine, message_id) == 2_000


def test_the_outbox_keeps_what_the_provider_did_not_take_and_logs_none_of_it(
    aggregator: tuple[Aggregator, str], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = aggregator
    message_id = _queued(engine)
    caplog.set_level(logging.DEBUG)
    fake.refuse = True  # refused: not asked again in this send
    assert _deliver(engine, HttpSms(url, TOKEN, retry_s=0.01)) == 0
    assert len(fake.received) == 1 and _sent_ms(engine, message_id) is None
    fake.refuse, fake.busy_answers = False, 10  # busy for longer than one send's attempts
    assert _deliver(engine, HttpSms(url, TOKEN, retry_s=0.01)) == 0
    assert _sent_ms(engine, message_id) is None
    unreachable = HttpSms("http://127.0.0.1:9/send", TOKEN, retry_s=0.01)  # the discard port
    with pytest.raises(SmsNotAccepted) as refused:
        asyncio.run(unreachable.send(PHONE, TEXT))
    fake.busy_answers = 0  # the provider is back: the next round sends it
    assert _deliver(engine, HttpSms(url, TOKEN, retry_s=0.01)) == 1
    assert _sent_ms(engine, message_id) == 2_000
    for said in [record.getMessage() for record in caplog.records] + [
        str(record.__dict__) for record in caplog.records
    ] + [str(refused.value)]:  # fmt: skip
        assert PHONE not in said and "734912" not in said and TOKEN not in said


def test_each_attempt_is_bounded_by_the_timeout(
    aggregator: tuple[Aggregator, str], engine: Engine
) -> None:
    fake, url = aggregator
    fake.delay_s = 5.0
    provider = HttpSms(url, TOKEN, timeout_s=0.2, retry_s=0.01)
    began = time.monotonic()
    with pytest.raises(SmsNotAccepted, match="timed out"):
        asyncio.run(provider.send(PHONE, TEXT))
    assert time.monotonic() - began < 3.0  # three attempts of 0.2 s, not three of 5 s
