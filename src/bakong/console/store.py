"""The console's store: every table, the engine for a database URL, and the migrations runner.

One schema over SQLite (the default: `console.db` in the console's home) and PostgreSQL (a
`postgresql://` URL), as the gateway's (`bakong.gateway.db`, whose engine rules it shares:
WAL, the in-process writer gate, pings for a server's pooled connections). Rules:
- `metadata` declares every table; the versioned migrations under
  `bakong/console/migrations/versions/` create the same schema (a test compares the two).
- The follower (`console.follower`) owns the tables that mirror the ledger: `meta`
  (`last_height`, `trust`), `blocks`, `transactions`, `movements`, `participants`,
  `accounts`, `balances`, `holds`. They are written only in the database transaction that
  also advances `last_height`, so they are exactly the chain up to that height.
- Staff (`console.staff`) own `staff` and `staff_sessions`; proposals (`console.proposals`)
  own `proposals`; `audit_log` (`console.audit_log`) is append-only: a trigger refuses every
  UPDATE and DELETE, on SQLite and on PostgreSQL.
- Amounts are integers in minor units, times Unix milliseconds (BIGINT). The ledger holds no
  personal data, and neither does any table here.
"""

from __future__ import annotations

from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from bakong.gateway.db import engine_for, sqlite_url

__all__ = [
    "accounts",
    "aml_alerts",
    "aml_rule_sets",
    "audit_log",
    "balances",
    "blocks",
    "engine_for",
    "holds",
    "liquidity_alerts",
    "liquidity_thresholds",
    "meta",
    "metadata",
    "migrate",
    "monitor_progress",
    "movements",
    "participants",
    "proposals",
    "sqlite_url",
    "staff",
    "staff_sessions",
    "transactions",
]

metadata = sa.MetaData()

# BIGINT on PostgreSQL, INTEGER on SQLite (there only an INTEGER PRIMARY KEY autoincrements).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: `last_height` and `trust`: how far the follower has applied the stream, and its state.
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: One row per committed block.
blocks = sa.Table(
    "blocks",
    metadata,
    sa.Column("height", sa.BigInteger, primary_key=True),
    sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("tx_count", sa.Integer, nullable=False),
)

#: One row per committed transaction (ok or failed): its creator, commands and result.
transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("tx_hash", sa.LargeBinary, primary_key=True),
    sa.Column("height", sa.BigInteger, nullable=False, index=True),
    sa.Column("tx_index", sa.Integer, nullable=False),
    sa.Column("creator", sa.Text, nullable=False, index=True),  # a participant code
    sa.Column("commands", sa.Text, nullable=False),  # the command tags, comma-separated
    sa.Column("result", sa.Text, nullable=False, index=True),  # "ok" or the failure's code
    sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
)

#: What each block did to money (`console.movements`): one row per money command, and one per
#: hold the block's expiry sweep returned (`tx_index` -1, no hash). A failed transaction's rows
#: are kept with its result code; they moved nothing.
movements = sa.Table(
    "movements",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("tx_index", sa.Integer, nullable=False),
    sa.Column("tx_hash", sa.LargeBinary, nullable=False, index=True),
    sa.Column("command_index", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # `movements.MovementKind`
    sa.Column("source", sa.Text, nullable=False, index=True),
    sa.Column("target", sa.Text, nullable=False, index=True),
    sa.Column("source_participant", sa.Text, nullable=False, index=True),
    sa.Column("target_participant", sa.Text, nullable=False, index=True),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False),  # a KHQR md5, a reserve reference
    sa.Column("hold_id", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("height", "tx_index", "command_index", name="uq_movements_row"),
)

#: Every participant, from the genesis and the participant commands of the stream.
participants = sa.Table(
    "participants",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    # 'active' | 'suspended' | 'send_only' | 'receive_only' (`records.ParticipantStatus`)
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("gateway_url", sa.Text, nullable=False, server_default=""),
    sa.Column("central_bank", sa.Integer, nullable=False, server_default="0"),
    # Its keys as the ledger holds them (hex, comma-separated): a pause or resume re-states them.
    sa.Column("admin_keys", sa.Text, nullable=False, server_default=""),
    sa.Column("admin_quorum", sa.Integer, nullable=False, server_default="1"),
    sa.Column("gateway_keys", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_height", sa.BigInteger, nullable=False),
)

#: Every account the stream (or the genesis) showed, with its status.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("participant", sa.Text, nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # 'active' | 'frozen' | 'closed'
    # The KYC tier's name (`KycTier`); '' if followed before migration 0002 (unknown).
    sa.Column("tier", sa.Text, nullable=False, server_default=""),
    sa.Column("created_height", sa.BigInteger, nullable=False),
    sa.Column("updated_height", sa.BigInteger, nullable=False),
)

#: Each account's available and held balance per asset, as of `meta.last_height`.
balances = sa.Table(
    "balances",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("asset", sa.Text, primary_key=True),
    sa.Column("available", sa.BigInteger, nullable=False),
    sa.Column("held", sa.BigInteger, nullable=False),
)

#: Pending holds (`movements.PendingHold`): a post, void or expiry names a hold placed before.
holds = sa.Table(
    "holds",
    metadata,
    sa.Column("hold_id", sa.LargeBinary, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("reference", sa.Text, nullable=False),
)

#: The central bank's staff: a login name, the password's argon2id hash, role and lockout.
staff = sa.Table(
    "staff",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("role", sa.Text, nullable=False),  # 'operator' | 'supervisor' | 'auditor'
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Signed-in staff: the session token's SHA-256 only (the token lives in an HttpOnly cookie).
staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("staff_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("csrf", sa.Text, nullable=False),  # the forms' anti-forgery token
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Integer, nullable=False, server_default="0"),
)

#: Maker/checker (`proposals`): what an operator asked, who decided, and what the ledger said.
proposals = sa.Table(
    "proposals",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    # 'issue' | 'redeem' | 'freeze' | 'unfreeze' | 'pause' | 'resume' | 'send_only'
    # | 'receive_only' | 'register' | 'rotate_keys' | 'set_limits'
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("account_id", sa.Text, nullable=False, index=True),  # a pause's: the participant
    sa.Column("asset", sa.Text, nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("reference", sa.Text, nullable=False),  # a reserve reference, or the reason
    sa.Column("proposed_by", sa.BigInteger, nullable=False),
    sa.Column("decided_by", sa.BigInteger, nullable=True),
    # 'pending' | 'rejected' | 'signed' | 'committed' | 'failed'
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),  # a rejection's reason
    sa.Column("tx_hash", sa.LargeBinary, nullable=True, unique=True),
    sa.Column("signed_tx", sa.LargeBinary, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("height", sa.BigInteger, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("decided_ms", sa.BigInteger, nullable=True),
    # A register, key rotation or limits change: what is proposed, as JSON (0004_governance).
    sa.Column("payload", sa.Text, nullable=False, server_default=""),
)

#: Every sign-in, proposal, approval, rejection and result: append-only (module rules).
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("staff_id", sa.BigInteger, nullable=True, index=True),  # none: the console
    sa.Column("staff_name", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("proposal_id", sa.BigInteger, nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
)

# -- monitoring, cases and liquidity alerts (migration 0003_reports; `console.aml`,
# `console.liquidity`) ------------------------------------------------------------------------

#: Monitoring rule sets as data (`monitoring.decode_rules` JSON): the one `active` set is what
#: the monitor evaluates; a supervisor's `pending` set becomes active when another approves it.
aml_rule_sets = sa.Table(
    "aml_rule_sets",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("rules", sa.Text, nullable=False),
    # 'pending' | 'active' | 'retired' | 'rejected'
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("proposed_by", sa.BigInteger, nullable=True),  # none: the default set
    sa.Column("decided_by", sa.BigInteger, nullable=True),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("decided_ms", sa.BigInteger, nullable=True),
)

#: Every alert the rules raised (once per deterministic id), with its case's status and note.
aml_alerts = sa.Table(
    "aml_alerts",
    metadata,
    sa.Column("alert_id", sa.Text, primary_key=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("rule_kind", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False, index=True),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("alert", sa.Text, nullable=False),  # the `monitoring.Alert` as JSON, evidence in
    sa.Column("status", sa.Text, nullable=False, index=True),  # 'open' | 'escalated' | 'closed'
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: How far each background evaluation has read the stored chain ('aml', 'liquidity').
monitor_progress = sa.Table(
    "monitor_progress",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
)

#: The low-balance threshold of a settlement account per asset, set by staff for the bank;
#: `below` remembers the last side seen, so a crossing raises one alert.
liquidity_thresholds = sa.Table(
    "liquidity_thresholds",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("asset", sa.Text, primary_key=True),
    sa.Column("threshold", sa.BigInteger, nullable=False),
    sa.Column("below", sa.Integer, nullable=False, server_default="0"),
    sa.Column("set_by", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)

#: A settlement account's available balance falling below its threshold.
liquidity_alerts = sa.Table(
    "liquidity_alerts",
    metadata,
    sa.Column("alert_id", sa.Text, primary_key=True),
    sa.Column("account_id", sa.Text, nullable=False, index=True),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("threshold", sa.BigInteger, nullable=False),
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version (Alembic `upgrade head`); idempotent."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("bakong.console") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
