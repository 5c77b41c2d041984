"""0008: wallet <-> bank account (issue 18).

Revision ID: 0008_bank_transfers
Revises: 0007_kyc

- `bank_links`: bank accounts linked to wallets, confirmed by the core bank (masked views).
- `bank_transfers`: money between a wallet and a linked account, a two-phase operation on a
  ledger hold, with its state, the core bank's word on its posting, and its idempotency key.
- `bank_reconciliations`: one stored reconciliation report per Asia/Phnom_Penh day.
See `bakong.gateway.corebanking`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_bank_transfers"
down_revision: str | None = "0007_kyc"
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bank_links",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("link_id", sa.Text, nullable=False, unique=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("account_number", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("account_masked", sa.Text, nullable=False),
        sa.Column("holder_masked", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("customer_id", "account_number", name="uq_bank_links_account"),
    )
    op.create_table(
        "bank_transfers",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("transfer_id", sa.Text, nullable=False, unique=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("link_id", sa.Text, nullable=False),
        sa.Column("account_number", sa.Text, nullable=False),
        sa.Column("wallet_account", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("hold_id", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("bank_state", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("finished_ms", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_bank_transfers_key"),
    )
    op.create_table(
        "bank_reconciliations",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("bank", sa.Text, nullable=False),
        sa.Column("matched", sa.Integer, nullable=False),
        sa.Column("differences", sa.Integer, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bank_reconciliations")
    op.drop_table("bank_transfers")
    op.drop_table("bank_links")
