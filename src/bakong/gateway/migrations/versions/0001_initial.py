"""0001: the gateway's first schema (every table of `bakong.gateway.db` at issue 15).

Revision ID: 0001_initial
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _people() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("handle", sa.Text, nullable=False, unique=True),
        sa.Column("account_id", sa.Text, nullable=False, unique=True),
        sa.Column("phone", sa.Text, nullable=True, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("birth_date", sa.Text, nullable=True),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("pin_hash", sa.Text, nullable=True),
        sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("custody", sa.Text, nullable=False),
        sa.Column("key_sealed", sa.LargeBinary, nullable=True),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "otp_codes",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("phone", sa.Text, nullable=False, index=True),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("code_hash", sa.Text, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sms_outbox",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("sent_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Integer, nullable=False, server_default="0"),
    )


def _money() -> None:
    op.create_table(
        "submissions",
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
    op.create_table(
        "balances",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("asset", sa.Text, primary_key=True),
        sa.Column("available", sa.BigInteger, nullable=False),
        sa.Column("held", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "history",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("tx_index", sa.Integer, nullable=False),
        sa.Column("command_index", sa.Integer, nullable=False),
        sa.Column("tx_hash", sa.LargeBinary, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("counterparty", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
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
    op.create_table(
        "holds",
        sa.Column("hold_id", sa.LargeBinary, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("memo", sa.Text, nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, index=True),
    )


def _merchants() -> None:
    op.create_table(
        "khqr_codes",
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
    op.create_table(
        "merchants",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("acquiring_bank", sa.Text, nullable=False),
        sa.Column("webhook_url", sa.Text, nullable=True),
        sa.Column("webhook_secret", sa.Text, nullable=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("merchant_account", sa.Text, nullable=False, index=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "webhook_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("merchant_account", sa.Text, nullable=False, index=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("delivered_ms", sa.BigInteger, nullable=True),
        sa.Column("last_status", sa.Text, nullable=True),
    )


def upgrade() -> None:
    _people()
    _money()
    _merchants()


def downgrade() -> None:
    for table in (
        "webhook_events", "api_tokens", "merchants", "khqr_codes", "holds", "history",
        "balances", "submissions", "sessions", "sms_outbox", "otp_codes", "customers", "meta",
    ):  # fmt: skip
        op.drop_table(table)
