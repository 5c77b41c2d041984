"""0005: the USSD service: its sessions, its callers' languages, merchants' short codes.

Revision ID: 0005_ussd
Revises: 0003_officers

- `ussd_sessions`: the menu's state between an aggregator's hits, by a hash of the session.
- `ussd_profiles`: the language a phone (by its keyed hash) chose.
- `merchants.short_code`: the number a feature phone pays a shop by, unique; the merchants a
  deployed gateway already has get one each here, in the order of their account IDs.

(`0004` is kept for the payment path's own schema change, if it needs one: that migration
then revises 0003 and this one revises it.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ussd"
down_revision: str | None = "0003_officers"
branch_labels: str | None = None
depends_on: str | None = None

_SHORT_CODE_FIRST = 1001  # `limits.merchant_short_code_first` when this migration was written


def _tables() -> None:
    op.create_table(
        "ussd_sessions",
        sa.Column("session_key", sa.Text, primary_key=True),
        sa.Column("phone_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("inputs", sa.Integer, nullable=False),
        sa.Column("text_digest", sa.Text, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False, index=True),
    )
    op.create_table(
        "ussd_profiles",
        sa.Column("phone_hash", sa.Text, primary_key=True),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )


def upgrade() -> None:
    _tables()
    op.add_column("merchants", sa.Column("short_code", sa.Integer, nullable=True))
    connection = op.get_bind()
    accounts = connection.execute(
        sa.text("SELECT account_id FROM merchants ORDER BY account_id")
    ).scalars()
    for number, account_id in enumerate(list(accounts), start=_SHORT_CODE_FIRST):
        connection.execute(
            sa.text("UPDATE merchants SET short_code = :code WHERE account_id = :account"),
            {"code": number, "account": account_id},
        )
    op.create_index("ix_merchants_short_code", "merchants", ["short_code"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_merchants_short_code", table_name="merchants")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("short_code")
    for table in ("ussd_profiles", "ussd_sessions"):
        op.drop_table(table)
