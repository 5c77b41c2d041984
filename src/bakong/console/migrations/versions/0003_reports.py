"""0003: monitoring rule sets, alerts with their cases, and settlement accounts' low-balance
thresholds with their alerts (`console.aml`, `console.liquidity`).

Revision ID: 0003_reports
Revises: 0002_analytics

The default rule set is not written here: the monitor writes it when it first starts and finds
no active set (`aml.ensure_default_rules`), so this revision stays a schema only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_reports"
down_revision: str | None = "0002_analytics"
branch_labels: str | None = None
depends_on: str | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "aml_rule_sets",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False, index=True),
        sa.Column("proposed_by", sa.BigInteger, nullable=True),
        sa.Column("decided_by", sa.BigInteger, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("decided_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "aml_alerts",
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("rule_kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False, index=True),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("last_ms", sa.BigInteger, nullable=False, index=True),
        sa.Column("alert", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, index=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "monitor_progress",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "liquidity_thresholds",
        sa.Column("account_id", sa.Text, primary_key=True),
        sa.Column("asset", sa.Text, primary_key=True),
        sa.Column("threshold", sa.BigInteger, nullable=False),
        sa.Column("below", sa.Integer, nullable=False, server_default="0"),
        sa.Column("set_by", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "liquidity_alerts",
        sa.Column("alert_id", sa.Text, primary_key=True),
        sa.Column("account_id", sa.Text, nullable=False, index=True),
        sa.Column("asset", sa.Text, nullable=False),
        sa.Column("threshold", sa.BigInteger, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
    )


def downgrade() -> None:
    for table in (
        "liquidity_alerts", "liquidity_thresholds", "monitor_progress", "aml_alerts",
        "aml_rule_sets",
    ):  # fmt: skip
        op.drop_table(table)
