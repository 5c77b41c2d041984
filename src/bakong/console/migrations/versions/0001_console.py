"""0001: the console's first schema: the mirrored chain, staff, proposals, the audit log.

Revision ID: 0001_console
Revises: (none)

`audit_log` is append-only: a trigger refuses every UPDATE and DELETE (SQLite: one trigger
per verb; PostgreSQL: one statement trigger and its function), so not even the console's own
code can rewrite what staff did.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_console"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_REFUSAL = "audit_log is append-only"

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
    BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"""
    for verb in ("UPDATE", "DELETE")
]
_POSTGRESQL_TRIGGER = [
    f"""CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
]


def _chain_tables() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "blocks",
        sa.Column("height", sa.BigInteger, primary_key=True),
        sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("tx_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "transactions",
        sa.Column("tx_hash", sa.LargeBinary, primary_key=True),
        sa.Column("height", sa.BigInteger, nullable=False, index=True),
        sa.Column("tx_index", sa.Integer, nullable=False),
        sa.Column("creator", sa.Text, nullable=False, index=True),
        sa.Column("commands", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False, index=True),
        sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
    )
    op.create_table(
        "movements",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("tx_index", sa.Integer, nullable=False),
        sa.Column("tx_hash", sa.LargeBinary, nullable=False, index=True),
        sa.Column("command_index", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False, index=True),
        sa.Column("target", sa.Text, nullable=False, index=True),
        sa.Column("source_participant", sa.Text, nullable=False, index=True),
        sa.Column("target_participant", sa.Text, nullable=False, index=True),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("hold_id", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("height", "tx_index", "command_index", name="uq_movements_row"),
    )


def _register_tables() -> None:
    op.create_table(
        "participants",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("gateway_url", sa.Text, nullable=False, server_default=""),
        sa.Column("central_bank", sa.Integer, nullable=False, server_default="0"),
        sa.Column("admin_keys", sa.Text, nullable=False, server_default=""),
        sa.Column("admin_quorum", sa.Integer, nullable=False, server_default="1"),
        sa.Column("gateway_keys", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_height", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("participant", sa.Text, nullable=False, index=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_height", sa.BigInteger, nullable=False),
        sa.Column("updated_height", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "balances",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("asset", sa.Text, primary_key=True),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "holds",
        sa.Column("hold_id", sa.LargeBinary, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("reference", sa.Text, nullable=False),
    )


def _staff_tables() -> None:
    op.create_table(
        "staff",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("staff_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "proposals",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False, index=True),
        sa.Column("asset", sa.Text, nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=True),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("proposed_by", sa.BigInteger, nullable=False),
        sa.Column("decided_by", sa.BigInteger, nullable=True),
        sa.Column("state", sa.Text, nullable=False, index=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("tx_hash", sa.LargeBinary, nullable=True, unique=True),
        sa.Column("signed_tx", sa.LargeBinary, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("height", sa.BigInteger, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("decided_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("staff_id", sa.BigInteger, nullable=True, index=True),
        sa.Column("staff_name", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("proposal_id", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRESQL_TRIGGER if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    _chain_tables()
    _register_tables()
    _staff_tables()


def downgrade() -> None:
    for table in ("audit_log", "proposals", "staff_sessions", "staff"):
        op.drop_table(table)  # audit_log's triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
    for table in ("holds", "balances", "accounts", "participants", "movements"):
        op.drop_table(table)
    for table in ("transactions", "blocks", "meta"):
        op.drop_table(table)
