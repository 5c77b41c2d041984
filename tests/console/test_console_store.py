"""The console's store: its migrations build exactly `store.metadata`, on SQLite and PostgreSQL;
migrating again keeps what is stored; the audit log refuses UPDATE and DELETE."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bakong.console import audit_log, store
from tests.console.console_harness import console_engine, database_url, postgres_server

__all__ = ["console_engine", "database_url", "postgres_server"]


def test_migrations_build_the_declared_schema(console_engine: Engine) -> None:
    with console_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), store.metadata)
    assert differences == []
    assert set(sa.inspect(console_engine).get_table_names()) >= set(store.metadata.tables)


def test_migrating_again_changes_nothing(console_engine: Engine) -> None:
    with console_engine.begin() as connection:
        connection.execute(store.meta.insert().values(key="probe", value="kept"))
        audit_log.record(connection, None, "probe", "kept", now_ms=1)
    store.migrate(console_engine)
    with console_engine.connect() as connection:
        value = connection.execute(
            sa.select(store.meta.c.value).where(store.meta.c.key == "probe")
        ).scalar_one()
    assert value == "kept"
    assert [entry.detail for entry in audit_log.entries(console_engine, 10)] == ["kept"]


@pytest.mark.parametrize("verb", ["update", "delete"])
def test_the_audit_log_refuses_to_be_rewritten(console_engine: Engine, verb: str) -> None:
    with console_engine.begin() as connection:
        audit_log.record(connection, (7, "sam"), "approve", "issue 1.00 USD", now_ms=5)
    table = store.audit_log
    statement = table.update().values(staff_name="nobody") if verb == "update" else table.delete()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), console_engine.begin() as c:
        c.execute(statement)
    (entry,) = audit_log.entries(console_engine, 10)
    assert (entry.staff_name, entry.action, entry.detail) == ("sam", "approve", "issue 1.00 USD")
