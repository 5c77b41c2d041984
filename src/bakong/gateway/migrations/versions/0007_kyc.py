"""0007: onboarding by ID card and selfie (issue 18).

Revision ID: 0007_kyc
Revises: 0006_claims_agents

- `kyc_submissions`: a customer's ID card and selfie frames, sealed, the outcome of the checks
  (states, doubt codes, the face distance in thousandths, the liveness result) and the
  decision (by an officer, or by the gateway's own `system.kyc` officer when every check
  passed). See `bakong.gateway.kyc.store`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_kyc"
down_revision: str | None = "0006_claims_agents"
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kyc_submissions",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("state", sa.Text, nullable=False, index=True),
        sa.Column("challenge", sa.Text, nullable=False),
        sa.Column("images_sealed", sa.LargeBinary, nullable=False),
        sa.Column("fields_sealed", sa.LargeBinary, nullable=True),
        sa.Column("doubts", sa.Text, nullable=False, server_default=""),
        sa.Column("face_distance_milli", sa.Integer, nullable=True),
        sa.Column("threshold_milli", sa.Integer, nullable=True),
        sa.Column("liveness", sa.Text, nullable=True),
        sa.Column("decided_by", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("decided_ms", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("kyc_submissions")  # its indexes go with it
