"""0003: named bank officers, their append-only actions log, frozen wallets, Khmer shop names.

Revision ID: 0003_officers
Revises: 0002_merchant_city

- `officers`: a staff login name, the password's argon2id hash, disabled, the lockout state.
- `officer_actions`: who did what to which customer, why, and when. Append-only: a trigger
  refuses every UPDATE and DELETE, so not even the gateway's own code can rewrite history.
- `customers.status` ('active' | 'frozen'): every existing wallet starts active.
- `merchants.name_km`: the business name in Khmer, printed on the store card; none at first.

Officer sessions opened before this version belonged to no officer (`customer_id` 0); they
are revoked here, since an action must name who did it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_officers"
down_revision: str | None = "0002_merchant_city"
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_REFUSAL = "officer_actions is append-only"

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER officer_actions_no_{verb.lower()} BEFORE {verb} ON officer_actions
    BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"""
    for verb in ("UPDATE", "DELETE")
]
_POSTGRESQL_TRIGGER = [
    f"""CREATE FUNCTION officer_actions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$""",
    """CREATE TRIGGER officer_actions_append_only BEFORE UPDATE OR DELETE ON officer_actions
    FOR EACH STATEMENT EXECUTE FUNCTION officer_actions_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "officer_actions",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("officer_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("customer_id", sa.BigInteger, nullable=True, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRESQL_TRIGGER if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)
    op.add_column(
        "customers", sa.Column("status", sa.Text, nullable=False, server_default="active")
    )
    op.add_column("merchants", sa.Column("name_km", sa.Text, nullable=True))
    op.execute("UPDATE sessions SET revoked = 1 WHERE role = 'officer' AND customer_id = 0")


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("name_km")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("status")
    op.drop_table("officer_actions")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION officer_actions_append_only()")
    op.drop_table("officers")
