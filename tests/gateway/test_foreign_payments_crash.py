"""A wallet's payment abroad when the gateway PROCESS dies (issue 20, "Reliability": a gateway
killed at any point of a payment recovers from its own store and the ledger). A real
`bakong gateway run` process, its `[crossborder]` pointing at the fake link of
`test_foreign_payments` served on loopback, is SIGKILLed (1) while the link holds the payment
pending, the foreign side not having answered, and (2) once the wallet's hold is on the ledger
but before the link has taken the payment (the link stalls the pay request and never
processes it), with a second payment left as a gateway dying right after storing its signed
hold leaves it (`placing`, nothing sent to the ledger). Started again on the same home and
database, the gateway finishes each payment once: the wallet debited once, the link's account
credited once, the link paid once per end-to-end id, nothing left held."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bakong.gateway.crossborder import payments
from bakong.gateway.crossborder.config import CrossborderConfig
from bakong.gateway.home import GatewayConfig, GatewaySection, init_home, load_home, write_secret
from bakong.gateway.processes import GatewayProcess
from bakong.gateway.wallets import customer_by_id
from bakong.keystore import write_key_file
from bakong.ledger.genesis import encode_genesis
from bakong.ports import loopback_port
from tests.gateway.conftest import WAIT_S, Core, admin_key, gateway_key
from tests.gateway.loopback import serve
from tests.gateway.test_foreign_payments import (
    LINK_ACCOUNT,
    LINK_KEY,
    SOKHA_PHONE,
    FakeLink,
    balance,
    gateway_for,
    linked_services,
    open_link_account,
    pay,
    quote,
    state_of,
    wait_for_state,
)
from tests.gateway.test_wallets import PIN, cash_in, register

KHR_TOTAL = 29_563  # THB 250.00 at 118.25, as the fake link quotes MERCHANT_QR
FUNDS = 100_000


@dataclass
class StallingLink(FakeLink):
    """The fake link, and one more mode: `stall` holds each pay request unanswered until
    `release` is set, then drops it unprocessed (the link never took the payment)."""

    release: threading.Event = field(default_factory=threading.Event)
    stalled: int = 0

    async def pay(self, request: Request) -> Response:
        if self.mode != "stall":
            return await super().pay(request)
        await self._checked(request)
        self.stalled += 1
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return JSONResponse({"error": {"code": "down", "message": "down"}}, 503)


@pytest.fixture
def stalling_link(core: Core) -> Iterator[tuple[StallingLink, str]]:
    open_link_account(core)
    link = StallingLink(core)
    with serve(link.app()) as url:
        try:
            yield link, url
        finally:  # a stalled request left behind would hold the server's shutdown
            link.release.set()


def gateway_home(tmp_path: Path, core: Core, database_url: str, link_url: str) -> Path:
    """A home for `bakong gateway run` of aclb over the test's core and store, `[crossborder]`
    naming the link at `link_url`, with the secrets `make_services` uses (so a wallet made by
    an in-process gateway signs there)."""
    keys = tmp_path / "keys"
    keys.mkdir()
    write_key_file(keys / "gateway.json", gateway_key())
    write_key_file(keys / "admin.json", admin_key())
    write_secret(keys / "alias.key", bytes(range(32, 64)))
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    crossborder = CrossborderConfig(link_url=link_url, link_key=LINK_KEY.public_key.hex(),
                                    timeout_s=5.0)  # fmt: skip
    section = GatewaySection("aclb", core.url, database_url, f"127.0.0.1:{loopback_port()}")
    home = tmp_path / "gateway-aclb"
    init_home(home, GatewayConfig(section, crossborder=crossborder), genesis,
              gateway_key_file=keys / "gateway.json", admin_key_file=keys / "admin.json",
              alias_key_file=keys / "alias.key")  # fmt: skip
    (home / "kek.key").unlink()
    write_secret(home / "kek.key", bytes(range(32)))
    return home


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.05)


def sokha_with_funds(engine: Engine, core: Core, link_url: str) -> str:
    """Sokha's session token, registered through an in-process gateway over the same store."""
    with gateway_for(linked_services(engine, core, link_url)) as gateway, \
            httpx.Client(base_url=gateway.url, timeout=30) as http:  # fmt: skip
        token = register(http, gateway, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", FUNDS)
    return token


def settled(engine: Engine, core: Core, link: StallingLink, payment_ids: list[str]) -> None:
    """Each payment completed, the wallet debited and the link's account credited once for
    each, nothing held, the link paid once per end-to-end id."""
    for payment_id in payment_ids:
        wait_for_state(engine, payment_id, "completed")
    total = KHR_TOTAL * len(payment_ids)
    assert balance(core, "sokha_chan@aclb") == (FUNDS - total, 0)
    assert balance(core, LINK_ACCOUNT) == (total, 0)
    assert [answer["status"] for answer in link.paid.values()] == ["completed"] * len(payment_ids)


def stored_unsent(engine: Engine, core: Core, link_url: str, quote_id: str) -> str:
    """Rule 2's database transaction alone, as a gateway that died right after it leaves it:
    the quote `placing`, its signed hold stored, nothing sent to the ledger."""
    services = linked_services(engine, core, link_url)
    with engine.connect() as connection:
        customer = customer_by_id(connection, 1)
    body = payments.PayRequest(quote_id, PIN)
    started = payments._start(services, customer, body, "k-placing",
                              payments._request_hash(body))  # fmt: skip
    assert started.state == "placing"
    return started.payment_id


def test_the_gateway_killed_while_the_link_holds_the_payment_pending_completes_it_once(
    engine: Engine, core: Core, stalling_link: tuple[StallingLink, str], tmp_path: Path,
    database_url: str,
) -> None:  # fmt: skip
    link, url = stalling_link
    sokha = sokha_with_funds(engine, core, url)
    process = GatewayProcess(load_home(gateway_home(tmp_path, core, database_url, url)))
    process.start()
    try:
        process.wait_healthy()
        link.mode = "pending"  # the foreign side has not answered yet
        with httpx.Client(base_url=process.url, timeout=30) as http:
            quote_id = quote(http, sokha).json()["quote"]["quote_id"]
            taken = pay(http, sokha, "k-pending", quote_id)
        assert taken.status_code == 202, taken.text
        payment_id = taken.json()["payment"]["payment_id"]
        assert taken.json()["payment"]["state"] == "paying"
        process.kill()
        assert balance(core, "sokha_chan@aclb") == (FUNDS - KHR_TOTAL, KHR_TOTAL)
        link.mode = "accept"  # the foreign side credits while the gateway is dead
        assert state_of(engine, payment_id) == "paying"
        process.start()
        process.wait_healthy()
        settled(engine, core, link, [payment_id])
        assert link.pay_calls == 1  # the restarted gateway asked the status, never paid again
        with httpx.Client(base_url=process.url, timeout=30) as http:
            again = pay(http, sokha, "k-pending", quote_id)
        assert again.status_code == 200 and again.json()["payment"]["payment_id"] == payment_id
    finally:
        process.stop()
    assert balance(core, LINK_ACCOUNT) == (KHR_TOTAL, 0) and link.pay_calls == 1


def test_the_gateway_killed_with_the_hold_placed_before_the_link_took_it_pays_once(
    engine: Engine, core: Core, stalling_link: tuple[StallingLink, str], tmp_path: Path,
    database_url: str,
) -> None:  # fmt: skip
    link, url = stalling_link
    sokha = sokha_with_funds(engine, core, url)
    process = GatewayProcess(load_home(gateway_home(tmp_path, core, database_url, url)))
    process.start()
    try:
        process.wait_healthy()
        link.mode = "stall"
        with httpx.Client(base_url=process.url, timeout=30) as http, \
                ThreadPoolExecutor(1) as pool:  # fmt: skip
            quote_id = quote(http, sokha).json()["quote"]["quote_id"]
            second_quote = quote(http, sokha).json()["quote"]["quote_id"]
            cut: Future[httpx.Response] = pool.submit(pay, http, sokha, "k-placed", quote_id)
            wait_until(lambda: link.stalled >= 1, "the gateway's pay request at the link")
            # The hold committed, the payment stored `placed`, the link not yet paying.
            assert balance(core, "sokha_chan@aclb") == (FUNDS - KHR_TOTAL, KHR_TOTAL)
            process.kill()
            with pytest.raises(httpx.TransportError):
                cut.result(WAIT_S)  # the wallet never got an answer
        assert state_of(engine, quote_id) == "placed"  # a quote's id is its payment's id
        link.release.set()  # the stalled request is dropped: the link never took it
        assert link.paid == {} and balance(core, LINK_ACCOUNT) == (0, 0)
        unsent = stored_unsent(engine, core, url, second_quote)
        link.mode = "accept"
        process.start()
        process.wait_healthy()
        with httpx.Client(base_url=process.url, timeout=30) as http:
            again = pay(http, sokha, "k-placed", quote_id)  # the wallet retries its key
        assert again.status_code in (200, 202), again.text
        payment_id = again.json()["payment"]["payment_id"]
        settled(engine, core, link, [payment_id, unsent])  # the worker sent the stored hold
    finally:
        process.stop()
    assert balance(core, LINK_ACCOUNT) == (2 * KHR_TOTAL, 0) and len(link.paid) == 2
