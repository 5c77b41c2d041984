"""Alembic's environment for the console: migrate on the connection `store.migrate` passes.

Online only: the console migrates its own database at start-up, inside the transaction
`store.migrate` opened.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bakong.console.store import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
assert isinstance(connection, Connection), "run through bakong.console.store.migrate"
_run(connection)
