"""Alembic's environment for the gateway: migrate on the connection `db.migrate` passes.

Online only (no SQL scripts are generated offline): a gateway migrates its own database at
start-up, inside the transaction `db.migrate` opened.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bakong.gateway.db import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
assert isinstance(connection, Connection), "run through bakong.gateway.db.migrate"
_run(connection)
