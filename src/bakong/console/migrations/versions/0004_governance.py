"""0004: what a governance proposal proposes (a participant to register, keys to rotate to, a
limits policy), as JSON in `proposals.payload`; '' for the other kinds.

Revision ID: 0004_governance
Revises: 0003_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_governance"
down_revision: str | None = "0003_reports"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("proposals", sa.Column("payload", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("proposals", "payload")
