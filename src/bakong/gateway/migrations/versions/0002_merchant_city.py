"""0002: a merchant's city (`merchants.city`), printed in its KHQR codes' tag 60.

Revision ID: 0002_merchant_city
Revises: 0001_initial

Nullable, so a deployed gateway's merchants keep their rows and their codes keep printing the
default city ("Phnom Penh") until an officer sets one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_merchant_city"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("merchants", sa.Column("city", sa.Text, nullable=True))


def downgrade() -> None:
    # SQLite drops a column only by copying its table: batch mode does that there.
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("city")
