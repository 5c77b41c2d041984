"""0006: money sent to phones with no wallet (claims), cash agents and their customers'
approvals.

Revision ID: 0006_claims_agents
Revises: 0005_ussd

- `claims`: a claimable hold the payer's bank keeps for a phone with no wallet: the payer's
  payment key, the payee's phone (to text the code) and its alias, the amount, the expiry, the
  state, the payer's secret for an agent (keyed hash), wrong tries, who claimed it.
- `approvals`: requests a customer approves with the PIN before money moves (an agent's
  cash-out), shared by the app and the USSD menu.
- `agents`: a cash agent's account, the customers row it signs in with, its daily caps, its
  float alert thresholds and whether its float is below each now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_claims_agents"
down_revision: str | None = "0005_ussd"
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _claims() -> None:
    op.create_table(
        "claims",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.Text, nullable=False, unique=True),
        sa.Column("payer_id", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("payer_account", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("alias", sa.LargeBinary, nullable=False, index=True),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("memo", sa.Text, nullable=False),
        sa.Column("hold_id", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.Text, nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("claimant", sa.Text, nullable=True),
        sa.Column("claimant_kind", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("finished_ms", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("payer_id", "idempotency_key", name="uq_claims_payment"),
    )


def upgrade() -> None:
    _claims()
    op.create_table(
        "approvals",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("requester_id", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payee", sa.Text, nullable=False),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("decided_ms", sa.BigInteger, nullable=True),
        sa.Column("submission_id", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("requester_id", "idempotency_key", name="uq_approvals_request"),
    )
    op.create_table(
        "agents",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("cap_khr", sa.BigInteger, nullable=False),
        sa.Column("cap_usd", sa.BigInteger, nullable=False),
        sa.Column("alert_khr", sa.BigInteger, nullable=False),
        sa.Column("alert_usd", sa.BigInteger, nullable=False),
        sa.Column("low_khr", sa.Integer, nullable=False, server_default="0"),
        sa.Column("low_usd", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agents")
    op.drop_table("approvals")
    op.drop_table("claims")
