"""The gateway's store: migrations build exactly `db.metadata` on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from bakong.gateway import db


def test_migrations_build_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, db.metadata)
    assert differences == []
    assert set(sa.inspect(engine).get_table_names()) >= set(db.metadata.tables)


def test_migrating_again_changes_nothing(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(db.meta.insert().values(key="probe", value="kept"))
    db.migrate(engine)
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(db.meta.c.value).where(db.meta.c.key == "probe")
        ).scalar_one()
    assert value == "kept"


def test_postgresql_urls_use_psycopg_3() -> None:
    assert db.database_url_for("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.database_url_for("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.database_url_for("sqlite:///x.db") == "sqlite:///x.db"
