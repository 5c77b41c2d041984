"""The gateway's store: every table, the engine for a database URL, and the migrations runner.

One schema serves SQLite (the default: a file in the gateway's home) and PostgreSQL (a
`postgresql://` URL, driven by psycopg 3). Rules:
- `metadata` declares every table of the gateway, whichever module writes it; the owners are
  named in `docs` of each table below. The versioned migrations under
  `bakong/gateway/migrations/versions/` create the same schema, and a test compares the two,
  so a column added here without a migration fails at once.
- `migrate(engine)` runs Alembic's `upgrade head` from the scripts shipped in the package; a
  gateway calls it at start-up, so a new release brings its own schema changes.
- Amounts are integers in minor units (BIGINT) and times are Unix milliseconds (BIGINT): no
  floats in the store. Binary hashes and keys are BLOB/BYTEA.
- Personal data (names, phones, birth dates) lives only in `customers`, `otp_codes` and
  `sms_outbox`, never in a projection table that mirrors the ledger.
- SQLite runs in WAL mode with a busy timeout, so request threads and the projection can
  share one file; foreign keys are not used (rows refer to ledger IDs, not to each other).
- SQLite syncs NORMAL, not FULL: in WAL mode a commit then appends to the log without an
  fsync of its own (the log is synced at checkpoints). A process crash (kill -9) loses no
  committed transaction and never corrupts the file; a power loss may lose the last commits
  before the checkpoint, never order them wrongly. That is safe here because every table is
  either rebuilt from the ledger (the projection resumes from its `last_height`) or guarded by
  it: a lost `signed` submission was either never sent (the customer's retry signs it again)
  or is on the ledger (the core dedupes by hash and the projection records it). FULL would
  cost an fsync per payment's commit.
- A PostgreSQL connection is pinged when the pool hands it out (the server may have closed it);
  an SQLite file's cannot go stale, so it is not (that ping would be a query per checkout).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from bakong import limits

__all__ = [
    "api_tokens",
    "balances",
    "customers",
    "database_url_for",
    "engine_for",
    "history",
    "holds",
    "khqr_codes",
    "merchants",
    "meta",
    "metadata",
    "migrate",
    "otp_codes",
    "sessions",
    "sms_outbox",
    "sqlite_url",
    "submissions",
    "webhook_events",
]

metadata = sa.MetaData()

# A surrogate key: BIGINT on PostgreSQL, INTEGER on SQLite (only an INTEGER PRIMARY KEY is an
# alias of SQLite's rowid, which is what makes it autoincrement).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Small facts of the gateway itself: `last_height` and `trust` (the projection's).
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: The participant's customers and merchants: the only place their personal data lives.
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("handle", sa.Text, nullable=False, unique=True),
    sa.Column("account_id", sa.Text, nullable=False, unique=True),
    sa.Column("phone", sa.Text, nullable=True, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("birth_date", sa.Text, nullable=True),
    sa.Column("tier", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # 'personal' | 'merchant'
    sa.Column("pin_hash", sa.Text, nullable=True),
    sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("custody", sa.Text, nullable=False),  # 'custodial' | 'self'
    sa.Column("key_sealed", sa.LargeBinary, nullable=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: One-time codes (`otp`): stored hashed, single use, attempts counted.
otp_codes = sa.Table(
    "otp_codes",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("phone", sa.Text, nullable=False, index=True),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("code_hash", sa.Text, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: The default SMS sink (`sms`): messages waiting for (or handed to) a provider.
sms_outbox = sa.Table(
    "sms_outbox",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("sent_ms", sa.BigInteger, nullable=True),
)

#: Bearer sessions (`sessions`): the token's hash only, never the token.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("role", sa.Text, nullable=False),  # 'customer' | 'officer' | 'merchant'
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Integer, nullable=False, server_default="0"),
)

#: Money-moving requests (`submission`): the state machine of design section 10.
submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("tx_hash", sa.LargeBinary, nullable=True, unique=True),
    sa.Column("signed_tx", sa.LargeBinary, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("height", sa.BigInteger, nullable=True),
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_submissions_idempotency"),
)

#: Projection (`projection`): each local account's balances as of `meta.last_height`.
balances = sa.Table(
    "balances",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("asset", sa.Text, primary_key=True),
    sa.Column("available", sa.BigInteger, nullable=False),
    sa.Column("held", sa.BigInteger, nullable=False),
)

#: Projection (`projection`): one row per committed transfer per local account it moves.
history = sa.Table(
    "history",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("tx_index", sa.Integer, nullable=False),
    sa.Column("command_index", sa.Integer, nullable=False),
    sa.Column("tx_hash", sa.LargeBinary, nullable=False),
    sa.Column("account_id", sa.Text, nullable=False),
    sa.Column("counterparty", sa.Text, nullable=False),
    sa.Column("direction", sa.Text, nullable=False),  # 'in' | 'out'
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("memo", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False, index=True),
    sa.Column("external_ref", sa.Text, nullable=False, index=True),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tx_hash", "command_index", "account_id", name="uq_history_entry"),
    sa.Index("ix_history_account", "account_id", "id"),
)

#: Projection (`projection`): every hold the stream showed, so a post, a void or an expiry
#: moves the balances it names (the post and void commands carry only the hold's id).
holds = sa.Table(
    "holds",
    metadata,
    sa.Column("hold_id", sa.LargeBinary, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("memo", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False),
    # 'pending' | 'posted' | 'voided' | 'expired'
    sa.Column("status", sa.Text, nullable=False, index=True),
)

#: KHQR codes a merchant or customer issued (`merchants`); `paid_tx_hash` set by the projection.
khqr_codes = sa.Table(
    "khqr_codes",
    metadata,
    sa.Column("md5", sa.Text, primary_key=True),
    sa.Column("account_id", sa.Text, nullable=False, index=True),
    sa.Column("qr", sa.Text, nullable=False),
    sa.Column("dynamic", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("bill_number", sa.Text, nullable=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=True),
    sa.Column("paid_tx_hash", sa.LargeBinary, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Merchant accounts (`merchants`): KHQR tag 30 data and the webhook endpoint.
merchants = sa.Table(
    "merchants",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("merchant_id", sa.Text, nullable=False),
    sa.Column("acquiring_bank", sa.Text, nullable=False),
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("webhook_secret", sa.Text, nullable=True),
    sa.Column("city", sa.Text, nullable=True),  # KHQR tag 60; none prints the default city
)

#: Open API bearer tokens (`open_api`): hashed, each bound to one merchant account.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("merchant_account", sa.Text, nullable=False, index=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Webhook deliveries (`webhooks`): at least once, an event id for the receiver's dedupe.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("merchant_account", sa.Text, nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("delivered_ms", sa.BigInteger, nullable=True),
    sa.Column("last_status", sa.Text, nullable=True),
)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path}"


def database_url_for(url: str) -> str:
    """A user's database URL as SQLAlchemy takes it: `postgresql://` means psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    # WAL lets readers run beside the one writer; the busy timeout makes a second writer wait
    # instead of failing at once; NORMAL sync in WAL mode still survives a process crash.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(limits.gateway_sqlite_busy_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def engine_for(url: str) -> Engine:
    """An engine for `url` (`sqlite:///FILE` or `postgresql://...`)."""
    url = database_url_for(url)
    pool: dict[str, int] = {}
    if not (url.startswith("sqlite") and (url.endswith(":memory:") or url == "sqlite://")):
        # A file or a server: a pool of connections. (An in-memory SQLite database lives in
        # one connection, which SQLAlchemy keeps per thread without a pool to size.)
        pool = {
            "pool_size": limits.gateway_db_pool_size,
            "max_overflow": limits.gateway_db_pool_overflow,
        }
    # A server's connection may have been closed under the pool (a restart, an idle timeout):
    # ping it at checkout. A file's cannot, and the ping would be a query per checkout.
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"), **pool)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version (Alembic `upgrade head`); idempotent."""
    # No URL in the config: the migrations run on the connection given to them (env.py).
    config = Config()
    config.set_main_option("script_location", str(resources.files("bakong.gateway") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
