"""Fixtures of the sample core bank's tests: its books on both databases, and the service
run as a real child process (`bakong corebank run`) on a free loopback port.

- `corebank_database`: parametrised over `sqlite` (the home's file) and `postgresql` (a fresh
  database on the throwaway server of `tests.gateway.conftest`).
- `corebank`: a `CorebankProcess` on a home with the sample customers, started and healthy;
  stopped (or killed) at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakong.corebank.home import init_home
from bakong.corebank.process import CorebankProcess
from bakong.gateway import db
from bakong.ports import loopback_port
from tests.gateway.conftest import _postgres_database, postgres_server

__all__ = ["postgres_server"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def corebank_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return db.sqlite_url(tmp_path / "corebank" / "corebank.db")
    return _postgres_database(request.getfixturevalue("postgres_server"))


def make_corebank(home: Path, database: str = "", *, samples: bool = True) -> CorebankProcess:
    """A core bank's home at `home` (on `database`, or SQLite in the home), not yet running."""
    init_home(home, "aclb", listen=f"127.0.0.1:{loopback_port()}", database=database,
              now_ms=now_ms(), samples=samples)  # fmt: skip
    return CorebankProcess(home)


@pytest.fixture
def corebank(tmp_path: Path, corebank_database: str) -> Iterator[CorebankProcess]:
    process = make_corebank(tmp_path / "corebank", corebank_database)
    process.start()
    try:
        process.wait_healthy()
        yield process
    finally:
        process.kill()
