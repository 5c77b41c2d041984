"""SQLite writers queue in the process (`db._SqliteWriterGate`), and every way a transaction
ends lets the next writer in.

A gate left held would make the next writer wait the whole busy timeout and then fail with
"database is locked"; each test gives the next writer far less than that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.gateway import db

NEXT_WRITER_S = 2.0  # far below the busy timeout
assert NEXT_WRITER_S * 1000 < limits.gateway_sqlite_busy_ms / 2


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(db.sqlite_url(tmp_path / "gateway.db"))
    db.migrate(engine)
    # Two idle connections in the pool, which hands out the longest idle first: the next
    # writer never gets the connection the transaction before it ended on (that one may
    # write again without waiting, being the gate's holder).
    with engine.connect(), engine.connect():
        pass
    yield engine
    engine.dispose()


def _write(engine: Engine, key: str) -> None:
    with engine.begin() as connection:
        connection.execute(db.meta.insert().values(key=key, value="1"))


def _next_writer_gets_in(engine: Engine) -> bool:
    """Whether another thread's write transaction commits within `NEXT_WRITER_S`."""
    done = threading.Event()

    def write() -> None:
        _write(engine, f"next-{time.monotonic_ns()}")
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(NEXT_WRITER_S)


def _failed_insert(engine: Engine) -> None:
    _write(engine, "taken")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(db.meta.insert().values(key="taken", value="2"))


def _raised_inside(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(db.meta.insert().values(key="undone", value="1"))
        raise RuntimeError("the caller failed mid-transaction")


def _left_uncommitted(engine: Engine) -> None:
    with engine.connect() as connection:  # returned to the pool, which rolls it back
        connection.execute(db.meta.insert().values(key="dropped", value="1"))


def _rolled_back(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(db.meta.update().values(value="x"))
        connection.rollback()


def _read_only(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sa.select(db.meta)).all()


def _connection_invalidated(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(db.meta.insert().values(key="lost", value="1"))
        connection.invalidate()  # closed under the transaction, as after a failure


@pytest.mark.parametrize(
    "ending",
    [_write, _failed_insert, _raised_inside, _left_uncommitted, _rolled_back, _read_only,
     _connection_invalidated],
    ids=lambda ending: ending.__name__.strip("_"),
)  # fmt: skip
def test_every_end_of_a_transaction_lets_the_next_writer_in(
    engine: Engine, ending: Callable[..., None]
) -> None:
    if ending is _write:
        ending(engine, "first")
    else:
        ending(engine)
    assert _next_writer_gets_in(engine)
    with engine.connect() as connection:
        keys = set(connection.execute(sa.select(db.meta.c.key)).scalars())
    assert not keys & {"undone", "dropped", "lost"}


def test_a_second_writer_waits_for_the_first_to_commit(engine: Engine) -> None:
    first_wrote = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with engine.begin() as connection:
            connection.execute(db.meta.insert().values(key="first", value="1"))
            first_wrote.set()
            release.wait(NEXT_WRITER_S)
            order.append("first commits")

    def second() -> None:
        first_wrote.wait(NEXT_WRITER_S)
        with engine.begin() as connection:
            connection.execute(db.meta.insert().values(key="second", value="1"))
            # The first's row is visible: this write began after that commit.
            seen = connection.execute(sa.select(db.meta.c.key).where(db.meta.c.key == "first"))
            order.append(f"second writes, sees {seen.scalar_one()}")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_wrote.wait(NEXT_WRITER_S)
    time.sleep(0.2)  # the second is waiting now, not writing
    assert order == []
    release.set()
    for thread in threads:
        thread.join(NEXT_WRITER_S)
    assert order == ["first commits", "second writes, sees first"]


def test_many_writers_at_once_all_commit(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(db.meta.insert().values(key="count", value="0"))
    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(25):
                with engine.begin() as connection:
                    connection.execute(
                        db.meta.update()
                        .where(db.meta.c.key == "count")
                        .values(value=sa.cast(sa.cast(db.meta.c.value, sa.Integer) + 1, sa.Text))
                    )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with engine.connect() as connection:
        value = connection.execute(sa.select(db.meta.c.value).where(db.meta.c.key == "count"))
        assert value.scalar_one() == "200"
