"""Fixtures of the gateway tests: a store on both databases, a real core, an assembled gateway.

- `database_url`: parametrised over `sqlite` (a file in the test's temporary directory) and
  `postgresql` (a fresh database on one throwaway PostgreSQL server per session, started by
  `bakong.bench.postgres` in a temporary directory). PostgreSQL missing is a failure, not a
  skip: `make test` installs it.
- `engine`: an engine on `database_url`, migrated to the newest schema.
- `core`: a real node API (`bakong.node.api`) over an in-memory chain (`MemoryService`: a real
  ledger, real signatures, a real commit per block), served by uvicorn on loopback, so the
  gateway's SDK client and stream follower talk to it over real HTTP and WebSocket. A block
  producer thread commits whatever is pending every few milliseconds, with block times that
  follow the wall clock. Participants `aclb`, `wing`, `abaa`; their keys are `sandbox_key`s
  (`aclb/gateway`, `aclb/admin`).
- `services`: `GatewayServices` of participant aclb over `engine` and `core`, for tests that
  drive modules directly (in their own event loop: `asyncio.run`).
- `gateway_app`: the assembled app over `services` without background tasks (for httpx's
  ASGI transport); `gateway`: a `RunningGateway` served by uvicorn with its projection and
  resubmitter running, over its own services (so its event loop owns its core client).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from bakong.bench.postgres import PostgresServer
from bakong.client import Client
from bakong.gateway import db
from bakong.gateway.app import ROUTE_MODULES, create_app
from bakong.gateway.home import GatewayConfig, GatewaySection
from bakong.gateway.service import GatewayServices
from bakong.ledger.transaction import Transaction
from bakong.node.api import create_app as create_node_app
from bakong.node.service import StoredBlock
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.keys import SigningKey
from tests.gateway.loopback import serve
from tests.node.memory_service import MemoryService

PARTICIPANT = "aclb"
BLOCK_POLL_S = 0.005
WAIT_S = 10.0
_database_numbers = itertools.count(1)


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


# -- databases --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer(max_connections=200, shared_buffers_mb=32, durable=False) as server:
        yield server


def _postgres_database(server: PostgresServer) -> str:
    name = f"gateway_{next(_database_numbers)}"
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"postgresql://bakong@/{name}?host={server.socket_dir}&port={server.port}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return db.sqlite_url(tmp_path / "gateway.db")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return _postgres_database(server)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.engine_for(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


# -- the core ---------------------------------------------------------------------------------


class Core:
    """A node API over an in-memory chain, on loopback, with a block producer."""

    def __init__(self) -> None:
        self.service = MemoryService(Sandbox(genesis_time_ms=clock_ms() - 1_000))
        self.app = create_node_app(
            self.service, clock_ms=clock_ms, node_key=sandbox_key("validator-1").public_key
        )
        self.url = ""
        self._stop = threading.Event()
        self._producer = threading.Thread(target=self._produce, daemon=True)

    @property
    def sandbox(self) -> Sandbox:
        return self.service.sandbox

    @property
    def height(self) -> int:
        return self.service.height

    def commit(self, transactions: list[Transaction]) -> StoredBlock:
        """Commit `transactions` as the next block now (block time: the wall clock)."""
        with self.service.lock:
            self.sandbox.block_interval_ms = max(1, clock_ms() - self.sandbox.time_ms)
            return self.service.commit(transactions)

    def _produce(self) -> None:
        while not self._stop.wait(BLOCK_POLL_S):
            with self.service.lock:
                if self.service.mempool:
                    pending = list(self.service.mempool.values())
                    self.service.mempool.clear()
                    self.commit(pending)

    def start(self) -> None:
        self._producer.start()

    def stop(self) -> None:
        self._stop.set()
        self._producer.join(WAIT_S)


@pytest.fixture
def core() -> Iterator[Core]:
    harness = Core()
    with serve(harness.app) as url:
        harness.url = url
        harness.start()
        try:
            yield harness
        finally:
            harness.stop()


# -- the gateway ------------------------------------------------------------------------------


def gateway_key(participant: str = PARTICIPANT) -> SigningKey:
    return sandbox_key(f"{participant}/gateway")


def admin_key(participant: str = PARTICIPANT) -> SigningKey:
    return sandbox_key(f"{participant}/admin")


def make_services(engine: Engine, core: Core, participant: str = PARTICIPANT) -> GatewayServices:
    """Services of `participant`'s gateway over `engine` and `core` (fixed secrets)."""
    config = GatewayConfig(GatewaySection(participant=participant, core_url=core.url))
    client = Client(core.url, gateway_key(participant), chain_id=core.sandbox.chain_id)
    return GatewayServices(
        config=config,
        genesis=core.sandbox.genesis,
        engine=engine,
        core=client,
        gateway_key=gateway_key(participant),
        admin_key=admin_key(participant),
        kek=bytes(range(32)),
        alias_key=bytes(range(32, 64)),
    )


@pytest.fixture
def services(engine: Engine, core: Core) -> GatewayServices:
    return make_services(engine, core)


@pytest.fixture
def gateway_app(services: GatewayServices) -> Starlette:
    return create_app(services, background=False)


@dataclass
class RunningGateway:
    url: str
    services: GatewayServices
    app: Starlette

    def wait_until(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "the gateway did not get there in time"
            time.sleep(BLOCK_POLL_S)

    def wait_for_height(self, height: int, timeout_s: float = WAIT_S) -> None:
        """Wait until the projection has applied `height`."""

        def applied() -> bool:
            with self.services.engine.connect() as connection:
                value = connection.execute(
                    sa.select(db.meta.c.value).where(db.meta.c.key == "last_height")
                ).scalar_one_or_none()
            return value is not None and int(value) >= height

        self.wait_until(applied, timeout_s)


@pytest.fixture
def gateway(engine: Engine, core: Core) -> Iterator[RunningGateway]:
    services = make_services(engine, core)
    app = create_app(services, route_modules=ROUTE_MODULES)
    with serve(app) as url:
        yield RunningGateway(url, services, app)
