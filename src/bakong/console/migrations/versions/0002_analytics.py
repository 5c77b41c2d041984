"""0002: each account's KYC tier, for the analytics' figures by tier (`console.analytics`).

Revision ID: 0002_analytics
Revises: 0001_console

`accounts.tier` is the ledger's `KycTier` name (`basic`, `partial`, `full`, `institutional`),
which the follower writes from `create_account` and `set_kyc_tier`. A store followed before
this revision did not keep it: its settlement, link and treasury accounts are `institutional`
(the ledger allows no other tier for them); its other accounts stay `''` (unknown) until a
`set_kyc_tier` names them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_analytics"
down_revision: str | None = "0001_console"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("tier", sa.Text, nullable=False, server_default=""))
    op.execute(
        "UPDATE accounts SET tier = 'institutional' "
        "WHERE kind IN ('settlement', 'link', 'treasury')"
    )


def downgrade() -> None:
    op.drop_column("accounts", "tier")
