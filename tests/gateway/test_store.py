"""The gateway's store: migrations build exactly `db.metadata` on SQLite and PostgreSQL."""

from __future__ import annotations

from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
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


def _migrate_to(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("bakong.gateway") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_a_deployed_store_upgrades_and_keeps_its_merchants(database_url: str) -> None:
    engine = db.engine_for(database_url)
    try:
        _migrate_to(engine, "0001_initial")  # a gateway deployed before merchants had a city
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO merchants (account_id, merchant_id, acquiring_bank)"
                    " VALUES ('shop@aclb', 'shop', 'ACLEDA')"
                )
            )
        db.migrate(engine)
        with engine.connect() as connection:
            row = connection.execute(sa.select(db.merchants)).one()
            differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert (row.account_id, row.merchant_id, row.city) == ("shop@aclb", "shop", None)
        assert differences == []
    finally:
        engine.dispose()


def test_postgresql_urls_use_psycopg_3() -> None:
    assert db.database_url_for("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.database_url_for("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.database_url_for("sqlite:///x.db") == "sqlite:///x.db"
