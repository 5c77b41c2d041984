"""The gateway's store: every table, the engine for a database URL, and the migrations runner.

One schema serves SQLite (the default: a file in the gateway's home) and PostgreSQL (a
`postgresql://` URL, driven by psycopg 3). Rules:
- `metadata` declares every table of the gateway, whichever module writes it; the owners are
  named in `docs` of each table below. The versioned migrations under
  `bakong/gateway/migrations/versions/` create the same schema, and a test compares the two,
  so a column added here without a migration fails at once.
- `migrate(engine)` runs Alembic's `upgrade head` from the scripts shipped in the package; a
  gateway calls it at start-up, so a new release brings its own schema changes.
- Amounts are integers in minor units (BIGINT) and times are Unix milliseconds (BIGINT): no
  floats in the store. Binary hashes and keys are BLOB/BYTEA.
- Personal data (names, phones, birth dates) lives only in `customers`, `otp_codes`,
  `sms_outbox` and `claims` (the phone of a payee who has no wallet yet), never in a
  projection table that mirrors the ledger.
- SQLite runs in WAL mode with a busy timeout, so request threads and the projection can
  share one file; foreign keys are not used (rows refer to ledger IDs, not to each other).
  The writers of one process queue for the file in the process (`_SqliteWriterGate`), so the
  next one starts when the last commits instead of when SQLite's busy handler wakes it.
- SQLite syncs NORMAL, not FULL: in WAL mode a commit then appends to the log without an
  fsync of its own (the log is synced at checkpoints). A process crash (kill -9) loses no
  committed transaction and never corrupts the file; a power loss may lose the last commits
  before the checkpoint, never order them wrongly. That is safe here because every table is
  either rebuilt from the ledger (the projection resumes from its `last_height`) or guarded by
  it: a lost `signed` submission was either never sent (the customer's retry signs it again)
  or is on the ledger (the core dedupes by hash and the projection records it). FULL would
  cost an fsync per payment's commit.
- A PostgreSQL connection is pinged when the pool hands it out (the server may have closed it);
  an SQLite file's cannot go stale, so it is not (that ping would be a query per checkout).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from bakong import limits

__all__ = [
    "agents",
    "api_tokens",
    "approvals",
    "balances",
    "bank_links",
    "bank_reconciliations",
    "bank_transfers",
    "claims",
    "customers",
    "foreign_payments",
    "database_url_for",
    "engine_for",
    "history",
    "holds",
    "khqr_codes",
    "kyc_submissions",
    "merchants",
    "meta",
    "metadata",
    "migrate",
    "officer_actions",
    "officers",
    "otp_codes",
    "sessions",
    "sms_outbox",
    "sqlite_url",
    "submissions",
    "ussd_profiles",
    "ussd_sessions",
    "webhook_events",
]

metadata = sa.MetaData()

# A surrogate key: BIGINT on PostgreSQL, INTEGER on SQLite (only an INTEGER PRIMARY KEY is an
# alias of SQLite's rowid, which is what makes it autoincrement).
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Small facts of the gateway itself: `last_height` and `trust` (the projection's).
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: The participant's customers and merchants: the only place their personal data lives.
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("handle", sa.Text, nullable=False, unique=True),
    sa.Column("account_id", sa.Text, nullable=False, unique=True),
    sa.Column("phone", sa.Text, nullable=True, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("birth_date", sa.Text, nullable=True),
    sa.Column("tier", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # 'personal' | 'merchant' | 'agent'
    sa.Column("pin_hash", sa.Text, nullable=True),
    sa.Column("pin_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("custody", sa.Text, nullable=False),  # 'custodial' | 'self'
    sa.Column("key_sealed", sa.LargeBinary, nullable=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    # 'active' | 'frozen': a bank officer's freeze (`officers`), mirrored on the ledger.
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
)

#: One-time codes (`otp`): stored hashed, single use, attempts counted.
otp_codes = sa.Table(
    "otp_codes",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("phone", sa.Text, nullable=False, index=True),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("code_hash", sa.Text, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("used", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: The default SMS sink (`sms`): messages waiting for (or handed to) a provider.
sms_outbox = sa.Table(
    "sms_outbox",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("sent_ms", sa.BigInteger, nullable=True),
)

#: Bearer sessions (`sessions`): the token's hash only, never the token.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("role", sa.Text, nullable=False),  # 'customer' | 'officer' | 'merchant' | 'agent'
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Integer, nullable=False, server_default="0"),
)

#: Money-moving requests (`submission`): the state machine of design section 10.
submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("tx_hash", sa.LargeBinary, nullable=True, unique=True),
    sa.Column("signed_tx", sa.LargeBinary, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("height", sa.BigInteger, nullable=True),
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_submissions_idempotency"),
)

#: Projection (`projection`): each local account's balances as of `meta.last_height`.
balances = sa.Table(
    "balances",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("asset", sa.Text, primary_key=True),
    sa.Column("available", sa.BigInteger, nullable=False),
    sa.Column("held", sa.BigInteger, nullable=False),
)

#: Projection (`projection`): one row per committed transfer per local account it moves.
history = sa.Table(
    "history",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("tx_index", sa.Integer, nullable=False),
    sa.Column("command_index", sa.Integer, nullable=False),
    sa.Column("tx_hash", sa.LargeBinary, nullable=False),
    sa.Column("account_id", sa.Text, nullable=False),
    sa.Column("counterparty", sa.Text, nullable=False),
    sa.Column("direction", sa.Text, nullable=False),  # 'in' | 'out'
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("memo", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False, index=True),
    sa.Column("external_ref", sa.Text, nullable=False, index=True),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tx_hash", "command_index", "account_id", name="uq_history_entry"),
    sa.Index("ix_history_account", "account_id", "id"),
)

#: Projection (`projection`): every hold the stream showed, so a post, a void or an expiry
#: moves the balances it names (the post and void commands carry only the hold's id).
holds = sa.Table(
    "holds",
    metadata,
    sa.Column("hold_id", sa.LargeBinary, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("memo", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False),
    # 'pending' | 'posted' | 'voided' | 'expired'
    sa.Column("status", sa.Text, nullable=False, index=True),
)

#: KHQR codes a merchant or customer issued (`merchants`); `paid_tx_hash` set by the projection.
khqr_codes = sa.Table(
    "khqr_codes",
    metadata,
    sa.Column("md5", sa.Text, primary_key=True),
    sa.Column("account_id", sa.Text, nullable=False, index=True),
    sa.Column("qr", sa.Text, nullable=False),
    sa.Column("dynamic", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("bill_number", sa.Text, nullable=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=True),
    sa.Column("paid_tx_hash", sa.LargeBinary, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Merchant accounts (`merchants`): KHQR tag 30 data and the webhook endpoint.
merchants = sa.Table(
    "merchants",
    metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("merchant_id", sa.Text, nullable=False),
    sa.Column("acquiring_bank", sa.Text, nullable=False),
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("webhook_secret", sa.Text, nullable=True),
    sa.Column("city", sa.Text, nullable=True),  # KHQR tag 60; none prints the default city
    sa.Column("name_km", sa.Text, nullable=True),  # the business name in Khmer, for its card
    sa.Column("short_code", sa.Integer, nullable=True),  # what a feature phone pays (`ussd`)
    sa.Index("ix_merchants_short_code", "short_code", unique=True),
)

#: Open API bearer tokens (`open_api`): hashed, each bound to one merchant account.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("merchant_account", sa.Text, nullable=False, index=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: Webhook deliveries (`webhooks`): at least once, an event id for the receiver's dedupe.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("merchant_account", sa.Text, nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False, index=True),
    sa.Column("delivered_ms", sa.BigInteger, nullable=True),
    sa.Column("last_status", sa.Text, nullable=True),
)

#: Bank officers (`officers`): a staff login name, its password's argon2id hash, the lockout.
officers = sa.Table(
    "officers",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

#: What officers did (`officers`), append-only (a trigger refuses UPDATE and DELETE).
officer_actions = sa.Table(
    "officer_actions",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("officer_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # e.g. "tier 1 -> 2"; never personal data
    sa.Column("time_ms", sa.BigInteger, nullable=False),
)

#: Requests a customer approves with the PIN before money moves (`approvals`): an agent's
#: cash-out. Nothing moves until `state` is 'approved'; an expired request moves nothing.
approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),  # who approves
    sa.Column("requester_id", sa.BigInteger, nullable=False),  # the agent's customers.id
    sa.Column("idempotency_key", sa.Text, nullable=False),  # the requester's
    sa.Column("kind", sa.Text, nullable=False),  # 'cash_out'
    sa.Column("payee", sa.Text, nullable=False),  # the account paid on approval (the agent's)
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # 'pending' | 'approved' | 'declined'
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("decided_ms", sa.BigInteger, nullable=True),
    sa.Column("submission_id", sa.BigInteger, nullable=True),  # the payment, once approved
    sa.UniqueConstraint("requester_id", "idempotency_key", name="uq_approvals_request"),
)

#: Money sent to a phone that has no wallet (`claims`), held on the ledger until claimed or
#: returned. `phone` is the payee's, kept to text them the code: personal data, like
#: `customers`. The code itself is never stored (it is derived from `claim_id` under a key of
#: the bank's); `secret_hash` is the payer's secret for an agent, keyed likewise.
claims = sa.Table(
    "claims",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("claim_id", sa.Text, nullable=False, unique=True),
    sa.Column("payer_id", sa.BigInteger, nullable=False),  # customers.id
    sa.Column("idempotency_key", sa.Text, nullable=False),  # the payer's payment key
    sa.Column("payer_account", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("alias", sa.LargeBinary, nullable=False, index=True),  # HMAC(alias key, phone)
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("memo", sa.Text, nullable=False),
    sa.Column("hold_id", sa.LargeBinary, nullable=False, unique=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    sa.Column("secret_hash", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # 'placing' | 'refused' | 'pending_claim' | 'claiming' | 'claimed' | 'returned'
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=True),  # the ledger's code of a refusal or return
    sa.Column("claimant", sa.Text, nullable=True),  # the account the money went to
    sa.Column("claimant_kind", sa.Text, nullable=True),  # 'wallet' | 'agent'
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("finished_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("payer_id", "idempotency_key", name="uq_claims_payment"),
)

#: Cash agents (`agents`): the agent's account (its e-money float), the customers row it
#: signs in with, its own daily caps and float alert thresholds, and whether its float is
#: below each threshold now (an alert goes out once per crossing).
agents = sa.Table(
    "agents",
    metadata,
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

#: USSD sessions (`ussd.service`): the menu's state between hits (never a PIN, never the raw
#: text: a keyed digest of it recognises a replay); deleted a while after they end.
ussd_sessions = sa.Table(
    "ussd_sessions",
    metadata,
    sa.Column("session_key", sa.Text, primary_key=True),  # SHA-256 of aggregator and session
    sa.Column("phone_hash", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # `ussd.menu.State` as JSON
    sa.Column("inputs", sa.Integer, nullable=False),
    sa.Column("text_digest", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_ms", sa.BigInteger, nullable=False, index=True),
)

#: USSD callers by phone hash (`ussd.service`): the language chosen; such a customer's
#: payments are also receipted by SMS.
ussd_profiles = sa.Table(
    "ussd_profiles",
    metadata,
    sa.Column("phone_hash", sa.Text, primary_key=True),
    sa.Column("language", sa.Text, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
)

#: Onboarding by ID card and selfie (`kyc.store`): the images and what was read from them are
#: personal data, sealed under keys derived from the KEK and the customer (`images_sealed`,
#: `fields_sealed`); the other columns hold states, codes and numbers only.
kyc_submissions = sa.Table(
    "kyc_submissions",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
    # 'checking' | 'approving' | 'verified' | 'review' | 'approved' | 'rejected'
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("challenge", sa.Text, nullable=False),  # 'blink' | 'turn'
    sa.Column("images_sealed", sa.LargeBinary, nullable=False),
    sa.Column("fields_sealed", sa.LargeBinary, nullable=True),
    sa.Column("doubts", sa.Text, nullable=False, server_default=""),  # codes, comma-separated
    sa.Column("face_distance_milli", sa.Integer, nullable=True),  # thousandths
    sa.Column("threshold_milli", sa.Integer, nullable=True),
    sa.Column("liveness", sa.Text, nullable=True),  # the check's reason: 'blink_seen', ...
    sa.Column("decided_by", sa.BigInteger, nullable=True),  # officers.id (a system one: auto)
    sa.Column("reason", sa.Text, nullable=True),  # the officer's, on a decision
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("decided_ms", sa.BigInteger, nullable=True),
)


#: Bank accounts linked to wallets (`corebanking.transfers`): the core bank confirmed the
#: account and that its phone is the wallet's. The account number is the bank's data, kept to
#: address the core bank; only its masked form and the holder's masked name are ever shown.
bank_links = sa.Table(
    "bank_links",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("link_id", sa.Text, nullable=False, unique=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("account_number", sa.Text, nullable=False),
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("account_masked", sa.Text, nullable=False),
    sa.Column("holder_masked", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # 'linked' | 'removed'
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("customer_id", "account_number", name="uq_bank_links_account"),
)

#: Money between a wallet and a linked bank account (`corebanking.transfers`): a two-phase
#: operation on a ledger hold, stored before anything leaves the process. The hold's, post's
#: and void's signed bytes are submissions `bank-hold:<id>`, `bank-post:<id>`, `bank-void:<id>`.
bank_transfers = sa.Table(
    "bank_transfers",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("transfer_id", sa.Text, nullable=False, unique=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("link_id", sa.Text, nullable=False),
    sa.Column("account_number", sa.Text, nullable=False),
    sa.Column("wallet_account", sa.Text, nullable=False),
    sa.Column("direction", sa.Text, nullable=False),  # 'to_bank' | 'from_bank'
    sa.Column("asset", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("hold_id", sa.LargeBinary, nullable=False, unique=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=False),
    # 'placing' | 'bank_pending' | 'posting' | 'voiding' | 'reversing'
    # | 'completed' | 'failed' | 'reversed'
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("bank_state", sa.Text, nullable=True),  # the core bank's word on the posting
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("finished_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_bank_transfers_key"),
)

#: The daily reconciliation of the ledger's bank transfers with the core bank's journal
#: (`corebanking.reconcile`): one report per Asia/Phnom_Penh day, as JSON.
bank_reconciliations = sa.Table(
    "bank_reconciliations",
    metadata,
    sa.Column("day", sa.Text, primary_key=True),
    sa.Column("bank", sa.Text, nullable=False),
    sa.Column("matched", sa.Integer, nullable=False),
    sa.Column("differences", sa.Integer, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)


#: A wallet's payments to foreign merchants through the cross-border link
#: (`crossborder.payments`): the link's quote, then a two-phase payment on a ledger hold toward
#: the link's account. The hold's signed bytes are the submission `foreign-hold:<payment id>`.
foreign_payments = sa.Table(
    "foreign_payments",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("payment_id", sa.Text, nullable=False, unique=True),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("wallet_account", sa.Text, nullable=False),
    sa.Column("quote_id", sa.Text, nullable=False),
    sa.Column("scheme", sa.Text, nullable=False),
    sa.Column("merchant_name", sa.Text, nullable=False),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("country", sa.Text, nullable=False),
    sa.Column("foreign_currency", sa.Text, nullable=False),
    sa.Column("foreign_amount", sa.BigInteger, nullable=False),
    sa.Column("khr_amount", sa.BigInteger, nullable=False),
    sa.Column("rate_text", sa.Text, nullable=False),
    sa.Column("quote_expires_ms", sa.BigInteger, nullable=False),
    sa.Column("hold_target", sa.Text, nullable=False),
    sa.Column("hold_poster", sa.Text, nullable=False),
    sa.Column("hold_expires_ms", sa.BigInteger, nullable=False),
    sa.Column("end_to_end_id", sa.Text, nullable=False, unique=True),
    sa.Column("hold_id", sa.LargeBinary, nullable=False, unique=True),
    sa.Column("idempotency_key", sa.Text, nullable=True),
    sa.Column("request_hash", sa.Text, nullable=True),
    # 'quoted' | 'placing' | 'placed' | 'paying' | 'completed' | 'failed' | 'reversed'
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", sa.BigInteger, nullable=False),
    sa.Column("finished_ms", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("customer_id", "idempotency_key", name="uq_foreign_payments_key"),
)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path}"


def database_url_for(url: str) -> str:
    """A user's database URL as SQLAlchemy takes it: `postgresql://` means psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    # WAL lets readers run beside the one writer; the busy timeout makes a second writer wait
    # instead of failing at once; NORMAL sync in WAL mode still survives a process crash.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(limits.gateway_sqlite_busy_ms)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _SqliteWriterGate:
    """One writer at a time per SQLite engine, queued in this process (module rules).

    SQLite lets one connection write at a time; a second writer's statement waits in SQLite's
    busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries, so under concurrent
    payments the write lock passes with milliseconds of idle sleep each time. Here a
    transaction's first writing statement takes a lock that the commit or rollback releases,
    the point where SQLite itself takes its write lock, so a waiting writer runs the moment
    the previous one ends. Another process's writer still meets the busy timeout."""

    _WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._holder: object | None = None  # the DBAPI connection whose transaction writes
        self._wait_s = limits.gateway_sqlite_busy_ms / 1000
        # The dialect is this engine's own instance: wrap the calls that end a transaction.
        for name in ("do_commit", "do_rollback", "do_close"):
            setattr(engine.dialect, name, self._ending(getattr(engine.dialect, name)))
        sa.event.listen(engine, "before_cursor_execute", self._before_execute)

    def _before_execute(
        self, connection: sa.Connection, _cursor: Any, statement: str, *_args: Any
    ) -> None:
        if not statement.lstrip()[:7].upper().startswith(self._WRITES):
            return
        raw = connection.connection.dbapi_connection
        if self._holder is raw:
            return  # this transaction already writes
        if not self._lock.acquire(timeout=self._wait_s):
            # The gate only spares sleeps; SQLite's own lock and busy timeout still rule (a
            # stuck writer ends in its "database is locked").
            return
        self._holder = raw

    def _ending(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(connection: Any) -> None:
            try:
                end(connection)
            finally:
                if self._holder is not None and self._holder is _dbapi(connection):
                    self._holder = None
                    self._lock.release()

        return ended


def _dbapi(connection: Any) -> object:
    """The DBAPI connection of a pool's proxy, or the DBAPI connection itself."""
    return getattr(connection, "dbapi_connection", connection)


def engine_for(url: str) -> Engine:
    """An engine for `url` (`sqlite:///FILE` or `postgresql://...`)."""
    url = database_url_for(url)
    pool: dict[str, int] = {}
    if not (url.startswith("sqlite") and (url.endswith(":memory:") or url == "sqlite://")):
        # A file or a server: a pool of connections. (An in-memory SQLite database lives in
        # one connection, which SQLAlchemy keeps per thread without a pool to size.)
        pool = {
            "pool_size": limits.gateway_db_pool_size,
            "max_overflow": limits.gateway_db_pool_overflow,
        }
    # A server's connection may have been closed under the pool (a restart, an idle timeout):
    # ping it at checkout. A file's cannot, and the ping would be a query per checkout.
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"), **pool)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        _SqliteWriterGate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version (Alembic `upgrade head`); idempotent."""
    # No URL in the config: the migrations run on the connection given to them (env.py).
    config = Config()
    config.set_main_option("script_location", str(resources.files("bakong.gateway") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
