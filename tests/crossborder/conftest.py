"""Fixtures of the link's tests: a real core with a link participant, a fake Thai switch, and
the link served by uvicorn with its stream follower and worker.

- `link_database`: parametrised over `sqlite` and `postgresql` (a fresh database on the
  throwaway server of `tests.gateway.conftest`).
- `core`: a node API over an in-memory chain (as `tests.gateway.conftest.Core`) whose
  participants are `aclb` (the payer's bank), `abaa` (a KHQR merchant's bank) and `xlnk`
  (the link); `sokha@aclb` holds riel, `shop@abaa` is a merchant.
- `switch`: a `FakeSwitch` (tests/crossborder/fakeswitch.py) served on loopback.
- `link`: a `RunningLink` over them; corridor `thai` with a 1 s switch timeout and a 0.5 s
  hold margin, so the failure tests run in seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.client import Client, hold, hold_id_for
from bakong.crossborder import store
from bakong.crossborder.app import create_app
from bakong.crossborder.home import Corridor, LinkConfig, LinkSection
from bakong.crossborder.messages import key_id
from bakong.crossborder.service import LinkServices
from bakong.crossborder.switch import SwitchClient
from bakong.gateway import db
from bakong.ledger.assets import Asset
from bakong.ledger.records import AccountKind
from bakong.node.api import create_app as create_node_app
from bakong.node.service import StoredBlock
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.request import sign_request
from tests.crossborder.fakeswitch import FakeSwitch
from tests.gateway.conftest import _postgres_database, postgres_server
from tests.gateway.loopback import serve
from tests.node.memory_service import MemoryService

__all__ = ["postgres_server"]

LINK = "xlnk"
PAYER = "sokha@aclb"
MERCHANT = "shop@abaa"
THAI = "thai@xlnk"
WAIT_S = 15.0
BLOCK_POLL_S = 0.005


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def link_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return db.sqlite_url(tmp_path / "link.db")
    return _postgres_database(request.getfixturevalue("postgres_server"))


class Core:
    """A node API over an in-memory chain on loopback; blocks only when something is sent."""

    def __init__(self) -> None:
        sandbox = Sandbox(genesis_time_ms=clock_ms() - 1_000, participants=("aclb", "abaa", LINK))
        self.service = MemoryService(sandbox)
        self.app = create_node_app(self.service, clock_ms=clock_ms,
                                   node_key=sandbox_key("validator-1").public_key)
        self.url = ""
        self._stop = threading.Event()
        self._producer = threading.Thread(target=self._produce, daemon=True)

    @property
    def sandbox(self) -> Sandbox:
        return self.service.sandbox

    def commit(self, creator: str, commands: list[Any]) -> StoredBlock:
        with self.service.lock:
            self.sandbox.block_interval_ms = max(1, clock_ms() - self.sandbox.time_ms)
            return self.service.commit([self.sandbox.transaction(creator, commands)])

    def _produce(self) -> None:
        while not self._stop.wait(BLOCK_POLL_S):
            with self.service.lock:
                if self.service.mempool:
                    pending = list(self.service.mempool.values())
                    self.service.mempool.clear()
                    self.sandbox.block_interval_ms = max(1, clock_ms() - self.sandbox.time_ms)
                    self.service.commit(pending)

    def tick(self) -> None:
        """A block with nothing of the link's in it (the ledger's hold expiry runs)."""
        self.commit("nbc", [self.sandbox.issue("abaa", Asset.KHR, 1, "tick")])


@pytest.fixture
def core() -> Iterator[Core]:
    harness = Core()
    with serve(harness.app) as url:
        harness.url = url
        harness._producer.start()
        sandbox = harness.sandbox
        harness.commit("aclb", [sandbox.open_account(PAYER)])
        harness.commit("abaa", [sandbox.open_account(MERCHANT, AccountKind.merchant)])
        harness.commit("nbc", [sandbox.issue("aclb", Asset.KHR, 10_000_000, "r1")])
        harness.commit("nbc", [sandbox.issue(LINK, Asset.KHR, 50_000_000, "r2")])
        harness.commit("settlement@aclb",
                       [sandbox.transfer("settlement@aclb", PAYER, Asset.KHR, 5_000_000)])
        try:
            yield harness
        finally:
            harness._stop.set()
            harness._producer.join(WAIT_S)


@pytest.fixture
def switch() -> Iterator[tuple[FakeSwitch, str]]:
    fake = FakeSwitch(sandbox_key("switch/thai"), sandbox_key(f"{LINK}/iso").public_key)
    with serve(fake.app()) as url:
        yield fake, url


def link_services(core: Core, switch_url: str, database: str | Engine) -> LinkServices:
    corridor = Corridor(family="thai", switch_url=switch_url,
                        switch_key=key_id(sandbox_key("switch/thai").public_key), rate="118.25",
                        spread_bps=100, quote_ms=30_000, hold_ms=60_000)
    config = LinkConfig(LinkSection(participant=LINK, core_url=core.url),
                        corridors={"thai": corridor})
    engine = store.engine_for(database) if isinstance(database, str) else database
    store.migrate(engine)
    iso_key = sandbox_key(f"{LINK}/iso")
    return LinkServices(
        config=config, genesis=core.sandbox.genesis, engine=engine,
        core=Client(core.url, sandbox_key(f"{LINK}/gateway"), chain_id=core.sandbox.chain_id),
        gateway_key=sandbox_key(f"{LINK}/gateway"), admin_key=sandbox_key(f"{LINK}/admin"),
        iso_key=iso_key,
        switches={"thai": SwitchClient(switch_url, corridor.public_key, iso_key, timeout_s=1.0)},
        hold_margin_ms=500,
    )


@dataclass
class RunningLink:
    url: str
    services: LinkServices
    core: Core

    def wait_until(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "the link did not get there in time"
            time.sleep(0.02)

    def call(self, method: str, path: str, body: Any = None,
             participant: str = "aclb") -> httpx.Response:
        """A request signed by `participant`'s gateway key, as a gateway sends it."""
        raw = b"" if body is None else msgspec.json.encode(body)
        headers = sign_request(self.core.sandbox.chain_id,
                               sandbox_key(f"{LINK}/gateway").public_key,
                               sandbox_key(f"{participant}/gateway"), method, path, raw,
                               clock_ms())
        with httpx.Client(base_url=self.url, timeout=30) as http:
            return http.request(method, path, content=raw or None, headers=headers)

    def place_hold(self, quote: dict[str, Any], e2e: str, *, amount: int | None = None,
                   expires_ms: int | None = None) -> bytes:
        """The payer's hold toward the link, as the payer's gateway places it."""
        hold_id = hold_id_for(PAYER, e2e)
        target = quote["hold"]
        command = hold(hold_id, PAYER, target["target"], Asset.KHR,
                       quote["khr_amount"] if amount is None else amount,
                       expires_ms=target["expires_ms"] if expires_ms is None else expires_ms,
                       poster=target["poster"], reference=e2e)
        self.core.commit(PAYER, [command])
        return hold_id

    def offline_services(self) -> LinkServices:
        """Services over the same store for a caller's own event loop (a command's)."""
        corridor = self.services.corridor("thai")
        return link_services(self.core, corridor.switch_url, self.services.engine)

    def state(self, e2e: str) -> str:
        with self.services.engine.connect() as connection:
            return str(connection.execute(sa.select(store.payments.c.state).where(
                store.payments.c.end_to_end_id == e2e)).scalar_one())

    def balance(self, account: str) -> int:
        info = self.core.sandbox.account(account)
        assert info is not None
        return int(info.balances[Asset.KHR.index])


def run_link(core: Core, switch_url: str, database: str) -> Iterator[RunningLink]:
    services = link_services(core, switch_url, database)
    with serve(create_app(services)) as url:
        yield RunningLink(url, services, core)
    services.engine.dispose()


@pytest.fixture
def link(core: Core, switch: tuple[FakeSwitch, str], link_database: str) -> Iterator[RunningLink]:
    yield from run_link(core, switch[1], link_database)
