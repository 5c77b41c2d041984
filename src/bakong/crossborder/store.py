"""The link's store: its tables, the engine for a database URL, and its migrations.

One schema serves SQLite (the default: `link.db` in the home) and PostgreSQL (a
`postgresql://` URL). Amounts are integers in minor units of the currency their column
names; times are Unix milliseconds; hashes and hold ids are bytes.

Tables:
- `meta`: the stream's `last_height` and trust (written with each block, `follower`), and
  `schema_version` (the migrations').
- `rates`: each corridor's current rate (riel per major unit, decimal text), set by
  `bakong link rate`; a corridor without a row uses its configured rate.
- `holds`, `entries`: the ledger as the link's stream shows it (`follower`): every hold
  toward a link account, and every movement of a link account (transfers, posted holds,
  issues), one row each, signed (+ into the account).
- `quotes`, `payments`: outbound (`outbound`); `inbound`: payments from abroad (`inbound`).

Migrations are numbered steps (`MIGRATIONS`); `migrate` runs those after the stored
`schema_version`, each in its own transaction with the version it reaches, so a new release
brings its own schema changes and an interrupted upgrade resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong.gateway.db import engine_for

__all__ = [
    "MIGRATIONS",
    "engine_for",
    "entries",
    "holds",
    "inbound",
    "meta",
    "metadata",
    "migrate",
    "payments",
    "quotes",
    "rates",
    "schema_version",
]

metadata = sa.MetaData()
Big = sa.BigInteger

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)  # fmt: skip

rates = sa.Table(
    "rates", metadata,
    sa.Column("corridor", sa.String(28), primary_key=True),
    sa.Column("rate", sa.String(16), nullable=False),
    sa.Column("updated_ms", Big, nullable=False),
)  # fmt: skip

holds = sa.Table(
    "holds", metadata,
    sa.Column("hold_id", sa.LargeBinary(16), primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("target", sa.String(32), nullable=False),
    sa.Column("poster", sa.String(32), nullable=False),
    sa.Column("asset", sa.String(3), nullable=False),
    sa.Column("amount", Big, nullable=False),
    sa.Column("expires_ms", Big, nullable=False),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # pending posted voided expired
    sa.Column("placed_ms", Big, nullable=False),
    sa.Column("finished_ms", Big),
)  # fmt: skip

entries = sa.Table(
    "entries", metadata,
    sa.Column("id", Big().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("height", Big, nullable=False),
    sa.Column("tx_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("command_index", sa.Integer, nullable=False),
    sa.Column("account_id", sa.String(32), nullable=False),
    sa.Column("counterparty", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # transfer post issue redeem
    sa.Column("asset", sa.String(3), nullable=False),
    sa.Column("amount", Big, nullable=False),  # signed: + into the account
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("external_ref", sa.String(64), nullable=False),
    sa.Column("time_ms", Big, nullable=False),
    sa.UniqueConstraint("tx_hash", "command_index", "account_id"),
)  # fmt: skip

quotes = sa.Table(
    "quotes", metadata,
    sa.Column("quote_id", sa.String(35), primary_key=True),
    sa.Column("corridor", sa.String(28), nullable=False),
    sa.Column("payer", sa.String(32), nullable=False),
    sa.Column("scheme", sa.String(16), nullable=False),
    sa.Column("merchant_id", sa.String(35), nullable=False),
    sa.Column("merchant_name", sa.String(70), nullable=False),
    sa.Column("city", sa.String(70), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("remittance", sa.String(140), nullable=False),
    sa.Column("foreign_currency", sa.String(3), nullable=False),
    sa.Column("foreign_amount", Big, nullable=False),
    sa.Column("khr_amount", Big, nullable=False),
    sa.Column("rate_num", Big, nullable=False),
    sa.Column("rate_den", Big, nullable=False),
    sa.Column("spread_bps", sa.Integer, nullable=False),
    sa.Column("expires_ms", Big, nullable=False),
    sa.Column("hold_expires_ms", Big, nullable=False),
    sa.Column("created_ms", Big, nullable=False),
)  # fmt: skip

payments = sa.Table(
    "payments", metadata,
    sa.Column("end_to_end_id", sa.String(35), primary_key=True),
    sa.Column("quote_id", sa.String(35), nullable=False, unique=True),
    sa.Column("corridor", sa.String(28), nullable=False),
    sa.Column("hold_id", sa.LargeBinary(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("foreign_status", sa.String(4)),  # the switch's last word: ACCC ACSP RJCT
    sa.Column("step_tx", sa.LargeBinary),  # the signed post or void, stored before it is sent
    sa.Column("created_ms", Big, nullable=False),
    sa.Column("updated_ms", Big, nullable=False),
    sa.Column("finished_ms", Big),
)  # fmt: skip

inbound = sa.Table(
    "inbound", metadata,
    sa.Column("end_to_end_id", sa.String(35), primary_key=True),
    sa.Column("corridor", sa.String(28), nullable=False),
    sa.Column("request_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("merchant_id", sa.String(32), nullable=False),
    sa.Column("asset", sa.String(3), nullable=False),
    sa.Column("amount", Big, nullable=False),
    sa.Column("foreign_currency", sa.String(3), nullable=False),
    sa.Column("foreign_amount", Big, nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),
    sa.Column("tx", sa.LargeBinary, nullable=False),
    sa.Column("tx_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("state", sa.String(12), nullable=False),  # submitted completed failed cancelled
    sa.Column("reason", sa.String(64)),
    sa.Column("created_ms", Big, nullable=False),
    sa.Column("finished_ms", Big),
)  # fmt: skip

sa.Index("payments_unfinished", payments.c.state)
sa.Index("entries_account_time", entries.c.account_id, entries.c.time_ms)
sa.Index("inbound_state", inbound.c.state)

SCHEMA_VERSION = "schema_version"


def _create_v1(connection: Connection) -> None:
    metadata.create_all(connection)


#: The numbered schema steps; a release that changes the schema appends one.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _create_v1)]


def schema_version(connection: Connection) -> int:
    if not sa.inspect(connection).has_table("meta"):
        return 0
    value = connection.execute(
        sa.select(meta.c.value).where(meta.c.key == SCHEMA_VERSION)
    ).scalar_one_or_none()
    return 0 if value is None else int(value)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version; idempotent."""
    for version, step in MIGRATIONS:
        with engine.begin() as connection:
            current = schema_version(connection)
            if current >= version:
                continue
            step(connection)
            if current == 0:
                connection.execute(meta.insert().values(key=SCHEMA_VERSION, value=str(version)))
            else:
                connection.execute(
                    meta.update().where(meta.c.key == SCHEMA_VERSION).values(value=str(version))
                )
