"""0009: a wallet's payments to foreign merchants through the cross-border link (issue 20).

Revision ID: 0009_foreign_payments
Revises: 0008_bank_transfers

- `foreign_payments`: the link's quote (merchant, foreign amount, KHR total, rate, expiry, the
  hold's terms) and the payment made of it: a two-phase operation on a ledger hold toward the
  link's account, with its state, reason and idempotency key. See `bakong.gateway.crossborder`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_foreign_payments"
down_revision: str | None = "0008_bank_transfers"
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "foreign_payments",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.Text, nullable=False, unique=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False),
        sa.Column("wallet_account", sa.Text, nullable=False),
        sa.Column("quote_id", sa.Text, nullable=False),
        sa.Column("scheme", sa.Text, nullable=False),
        sa.Column("merchant_name", sa.Text, nullable=False),
        sa.Column("city", sa.Text, nullable=False),
        sa.Column("country", sa.Text, nullable=False),
        sa.Column("foreign_currency", sa.Text, nullable=False),
        sa.Column("foreign_amount", sa.BigInteger, nullable=False),
        sa.Column("khr_amount", sa.BigInteger, nullable=False),
        sa.Column("rate_text", sa.Text, nullable=False),
        sa.Column("quote_expires_ms", sa.BigInteger, nullable=False),
        sa.Column("hold_target", sa.Text, nullable=False),
        sa.Column("hold_poster", sa.Text, nullable=False),
        sa.Column("hold_expires_ms", sa.BigInteger, nullable=False),
        sa.Column("end_to_end_id", sa.Text, nullable=False, unique=True),
        sa.Column("hold_id", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("idempotency_key", sa.Text, nullable=True),
        sa.Column("request_hash", sa.Text, nullable=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("finished_ms", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_foreign_payments_key"),
    )
    op.create_index("ix_foreign_payments_state", "foreign_payments", ["state"])


def downgrade() -> None:
    op.drop_index("ix_foreign_payments_state", "foreign_payments")
    op.drop_table("foreign_payments")
