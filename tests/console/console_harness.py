"""Fixtures of the console's tests: its store on both databases, a real core, a running console.

Import the fixtures into a test module (`from tests.console.console_harness import ...`):
- `core`, `postgres_server`, `database_url`: the gateway tests' (a real node API over an
  in-memory chain on loopback; sqlite and postgresql stores);
- `console_engine`: an engine on `database_url`, migrated to the console's newest schema;
- `console`: a `RunningConsole` served by uvicorn with its follower running, over its own
  services, with three staff: `olga` (operator), `sam` and `sara` (supervisors), `ada`
  (auditor), each with the password `PASSWORD`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from bakong.client import Client
from bakong.console import store
from bakong.console.app import create_app
from bakong.console.follower import stored_height
from bakong.console.home import ConsoleServices
from bakong.console.staff import Staff, add_staff
from bakong.ledger.transaction import Transaction
from bakong.sandbox import sandbox_key
from tests.gateway.conftest import Core, core, database_url, postgres_server
from tests.gateway.loopback import serve

__all__ = [
    "PASSWORD",
    "STAFF",
    "RunningConsole",
    "console",
    "console_engine",
    "core",
    "database_url",
    "make_console_services",
    "postgres_server",
    "staff_member",
]

PASSWORD = "correct-horse-battery"
STAFF = {"olga": "operator", "sam": "supervisor", "sara": "supervisor", "ada": "auditor"}
WAIT_S = 10.0
POLL_S = 0.01


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def console_engine(database_url: str) -> Iterator[Engine]:
    engine = store.engine_for(database_url)
    store.migrate(engine)
    yield engine
    engine.dispose()


def make_console_services(engine: Engine, core: Core) -> ConsoleServices:
    key = sandbox_key("nbc/admin")
    node = Client(core.url, key, chain_id=core.sandbox.chain_id)
    return ConsoleServices(genesis=core.sandbox.genesis, engine=engine, node=node, key=key)


def add_all_staff(engine: Engine) -> dict[str, Staff]:
    members = {}
    for name, role in STAFF.items():
        staff_id = add_staff(engine, name, role, PASSWORD, clock_ms())
        members[name] = Staff(staff_id, name, role)
    return members


def staff_member(engine: Engine, name: str) -> Staff:
    row = engine.connect().execute(sa.select(store.staff).where(store.staff.c.name == name)).one()
    return Staff(row.id, row.name, row.role)


@dataclass
class RunningConsole:
    url: str
    services: ConsoleServices
    app: Starlette
    core: Core
    staff: dict[str, Staff]

    def wait_until(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, "the console did not get there in time"
            time.sleep(POLL_S)

    def wait_for_height(self, height: int) -> None:
        self.wait_until(lambda: stored_height(self.services.engine) >= height)

    def commit(self, creator: str, *commands: object) -> int:
        """Commit one transaction of `creator` on the core; the block's height."""
        transaction: Transaction = self.core.sandbox.transaction(creator, commands)  # type: ignore[arg-type]
        return self.core.commit([transaction]).height


@pytest.fixture
def console(console_engine: Engine, core: Core) -> Iterator[RunningConsole]:
    members = add_all_staff(console_engine)
    services = make_console_services(console_engine, core)
    app = create_app(services)
    with serve(app) as url:
        yield RunningConsole(url, services, app, core, members)
