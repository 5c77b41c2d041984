"""A foreign switch simulator's books: merchants, wallets, the link's nostro, the payments and
a double-entry journal, in the family's currency's minor units (SQLite via SQLAlchemy Core).

Rules:
1. Double entry. Every entry moves one amount from a debit account to a credit account. Every
   account's balance is credits less debits; the switch's own `settlement` account funds the
   others at `init`, so the balances of all accounts always sum to zero.
2. Accounts: `merchant`s (found from a scanned code by their payee key), `wallet`s, the link's
   `nostro` (what the switch owes the link: a pacs.008 from the link debits it, a wallet here
   paying a KHQR through the link credits it), `settlement`, and `suspense` (a wallet's money
   while its payment to the link is in flight).
3. A payment is stored once per end-to-end id with the hash of what it asks. Inbound (a
   pacs.008 from the link) is stored `ACSP` first, then settled in one transaction: credited
   (`ACCC`: nostro -> merchant) or refused (`RJCT` with an ISO reason), never both, at most once.
   The same id asking the same answers the stored status; asking other things is refused
   (`end_to_end_id_reused`).
4. A recall (camt.056) of a credited payment reverses it (merchant -> nostro) once; of a payment
   still `ACSP`, or never seen, closes the id refused (`RJCT`, `CUST`), so the pacs.008, if it
   is still on its way, can never credit.
5. Outbound (a wallet here paying a KHQR through the link): the wallet is debited into
   `suspense` when the payment is stored; `ACCC` moves it on to the nostro, `RJCT` back to the
   wallet.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.corebank.books import day_bounds_ms
from bakong.crossborder.messages import Camt029, Pacs002, Pacs008, Statement, StatementEntry
from bakong.errors import RemoteError

__all__ = [
    "NOSTRO",
    "SETTLEMENT",
    "SUSPENSE",
    "Account",
    "Payment",
    "SwitchProblem",
    "add_account",
    "balances",
    "create_schema",
    "find_merchant_by_key",
    "finish_outbound",
    "fund",
    "list_accounts",
    "payment",
    "pending_inbound",
    "receive",
    "recall",
    "request_hash",
    "settle",
    "start_outbound",
    "statement",
]

NOSTRO, SETTLEMENT, SUSPENSE = "nostro", "settlement", "suspense"
ACSP, ACCC, RJCT = "ACSP", "ACCC", "RJCT"

metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # merchant|wallet|nostro|settlement|suspense
    sa.Column("scheme", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("city", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=True),
    sa.Column("payee_key", sa.Text, nullable=True, unique=True),
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("end_to_end_id", sa.Text, primary_key=True),
    sa.Column("direction", sa.Text, nullable=False),  # 'in' (from the link) | 'out' (to it)
    sa.Column("request_hash", sa.Text, nullable=False),  # '' when a recall closed the id
    sa.Column("creditor", sa.Text, nullable=False),
    sa.Column("debtor", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("local_amount", sa.BigInteger, nullable=False),
    sa.Column("remittance", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # ACSP | ACCC | RJCT
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("recalled", sa.Boolean, nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("settled_ms", sa.BigInteger, nullable=True),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("seq", _Id, primary_key=True, autoincrement=True),
    sa.Column("end_to_end_id", sa.Text, nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False),  # pacs008 | recall | funding | refund
    sa.Column("debit", sa.Text, nullable=False),
    sa.Column("credit", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
)

# SQLite serialises writers anyway; one lock per process keeps a settle's read-then-write whole.
_writing = threading.Lock()


class SwitchProblem(RemoteError):
    """A foreign switch simulator refuses a request: an HTTP status, a stable code, a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.http_status = status


@dataclass(frozen=True)
class Account:
    id: str
    kind: str
    scheme: str | None
    name: str
    city: str
    target: str | None
    balance: int


@dataclass(frozen=True)
class Payment:
    end_to_end_id: str
    direction: str
    request_hash: str
    creditor: str
    debtor: str
    currency: str
    amount: int
    local_amount: int
    remittance: str
    status: str
    reason: str | None
    recalled: bool
    settled_ms: int | None

    def pacs002(self) -> Pacs002:
        reason = "recalled (camt.056 accepted)" if self.recalled else self.reason
        return Pacs002(self.end_to_end_id, self.status, reason, self.settled_ms)  # type: ignore[arg-type]

    def view(self) -> dict[str, Any]:
        return {
            "end_to_end_id": self.end_to_end_id,
            "direction": self.direction,
            "status": self.status,
            "reason": self.reason,
            "recalled": self.recalled,
            "currency": self.currency,
            "amount": self.amount,
            "local_amount": self.local_amount,
        }


def create_schema(engine: Engine) -> None:
    """Create the tables if they are not there (a simulator: one schema version)."""
    metadata.create_all(engine)


def request_hash(message: Pacs008) -> str:
    """What a pacs.008 asks, hashed: who pays whom how much, not the message's own id."""
    asked = (
        message.debtor_agent,
        message.creditor_id,
        message.currency,
        message.amount,
        message.remittance,
        message.settlement_currency,
        message.settlement_amount,
    )
    return hashlib.sha256(msgspec.json.encode(asked)).hexdigest()


def add_account(engine: Engine, account: Account, payee_key: str | None, now_ms: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            accounts.insert().values(
                id=account.id,
                kind=account.kind,
                scheme=account.scheme,
                name=account.name,
                city=account.city,
                target=account.target,
                payee_key=payee_key,
                balance=0,
                created_ms=now_ms,
            )
        )


def _move(
    connection: Connection, e2e: str, kind: str, debit: str, credit: str, amount: int, now_ms: int
) -> None:
    assert amount > 0
    connection.execute(
        entries.insert().values(
            end_to_end_id=e2e, kind=kind, debit=debit, credit=credit, amount=amount, time_ms=now_ms
        )
    )
    balance = accounts.c.balance
    connection.execute(
        accounts.update().where(accounts.c.id == debit).values(balance=balance - amount)
    )
    connection.execute(
        accounts.update().where(accounts.c.id == credit).values(balance=balance + amount)
    )


def fund(engine: Engine, account: str, amount: int, reference: str, now_ms: int) -> None:
    """Rule 1: the switch's settlement account funds `account` (a wallet, the nostro)."""
    with _writing, engine.begin() as connection:
        _move(connection, reference, "funding", SETTLEMENT, account, amount, now_ms)


def _account(row: Any) -> Account:
    return Account(row.id, row.kind, row.scheme, row.name, row.city, row.target, row.balance)


def list_accounts(engine: Engine, kind: str | None = None) -> list[Account]:
    query = accounts.select().order_by(accounts.c.id)
    if kind is not None:
        query = query.where(accounts.c.kind == kind)
    with engine.connect() as connection:
        return [_account(row) for row in connection.execute(query)]


def balances(engine: Engine) -> dict[str, int]:
    return {account.id: account.balance for account in list_accounts(engine)}


def find_merchant_by_key(engine: Engine, payee_key: str) -> Account | None:
    query = accounts.select().where(
        accounts.c.payee_key == payee_key, accounts.c.kind == "merchant"
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else _account(row)


def _payment(row: Any) -> Payment:
    return Payment(
        row.end_to_end_id,
        row.direction,
        row.request_hash,
        row.creditor,
        row.debtor,
        row.currency,
        row.amount,
        row.local_amount,
        row.remittance,
        row.status,
        row.reason,
        bool(row.recalled),
        row.settled_ms,
    )


def _find(connection: Connection, e2e: str) -> Payment | None:
    row = connection.execute(payments.select().where(payments.c.end_to_end_id == e2e)).first()
    return None if row is None else _payment(row)


def payment(engine: Engine, e2e: str) -> Payment | None:
    with engine.connect() as connection:
        return _find(connection, e2e)


def receive(engine: Engine, message: Pacs008, now_ms: int) -> tuple[Payment, bool]:
    """Rule 3: store an inbound pacs.008 `ACSP` (True), or the payment already there (False)."""
    asked = request_hash(message)
    with _writing, engine.begin() as connection:
        found = _find(connection, message.end_to_end_id)
        if found is not None:
            if found.request_hash not in (asked, ""):
                raise SwitchProblem(
                    409, "end_to_end_id_reused", "this end-to-end id was used for another payment"
                )
            return found, False
        connection.execute(
            payments.insert().values(
                end_to_end_id=message.end_to_end_id,
                direction="in",
                request_hash=asked,
                creditor=message.creditor_id,
                debtor=message.debtor_agent,
                currency=message.currency,
                amount=message.amount,
                local_amount=message.settlement_amount or message.amount,
                remittance=message.remittance,
                status=ACSP,
                reason=None,
                recalled=False,
                created_ms=now_ms,
                settled_ms=None,
            )
        )
        stored = _find(connection, message.end_to_end_id)
    assert stored is not None
    return stored, True


def _refusal(connection: Connection, found: Payment, currency: str) -> str | None:
    """The ISO reason this inbound payment is refused for, or None."""
    creditor = connection.execute(accounts.select().where(accounts.c.id == found.creditor)).first()
    if creditor is None or creditor.kind != "merchant":
        return "AC01"
    if found.currency != currency:
        return "AM03"
    nostro = connection.execute(accounts.select().where(accounts.c.id == NOSTRO)).first()
    if nostro is None or nostro.balance < found.local_amount:
        return "AM04"
    return None


def settle(engine: Engine, e2e: str, currency: str, now_ms: int, *, refuse: bool) -> Payment:
    """Rule 3: credit a stored `ACSP` payment or refuse it, in one transaction; a payment that
    is settled already is answered as it is."""
    with _writing, engine.begin() as connection:
        found = _find(connection, e2e)
        assert found is not None and found.direction == "in"
        if found.status != ACSP:
            return found
        reason = "AG01" if refuse else _refusal(connection, found, currency)
        if reason is None:
            _move(connection, e2e, "pacs008", NOSTRO, found.creditor, found.local_amount, now_ms)
        connection.execute(
            payments.update()
            .where(payments.c.end_to_end_id == e2e)
            .values(status=RJCT if reason else ACCC, reason=reason, settled_ms=now_ms)
        )
        settled = _find(connection, e2e)
    assert settled is not None
    return settled


def pending_inbound(engine: Engine) -> list[str]:
    """The inbound payments still `ACSP` (a process died before settling them)."""
    query = sa.select(payments.c.end_to_end_id).where(
        payments.c.direction == "in", payments.c.status == ACSP
    )
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(query)]


def recall(engine: Engine, e2e: str, now_ms: int) -> Camt029:
    """Rule 4: reverse a credited inbound payment once, or close the id refused."""
    with _writing, engine.begin() as connection:
        found = _find(connection, e2e)
        if found is None:
            connection.execute(
                payments.insert().values(
                    end_to_end_id=e2e,
                    direction="in",
                    request_hash="",
                    creditor="",
                    debtor="",
                    currency="",
                    amount=0,
                    local_amount=0,
                    remittance="",
                    status=RJCT,
                    reason="CUST",
                    recalled=False,
                    created_ms=now_ms,
                    settled_ms=now_ms,
                )
            )
            return Camt029(e2e, "ACCEPTED", "never received; the id is closed")
        if found.direction != "in":
            return Camt029(e2e, "REJECTED", "this switch sent that payment; it cannot recall it")
        update = payments.update().where(payments.c.end_to_end_id == e2e)
        if found.status == ACSP:
            connection.execute(update.values(status=RJCT, reason="CUST", settled_ms=now_ms))
            return Camt029(e2e, "ACCEPTED", "not credited; the payment is refused")
        if found.status == RJCT:
            return Camt029(e2e, "ACCEPTED", "not credited")
        if not found.recalled:
            _move(connection, e2e, "recall", found.creditor, NOSTRO, found.local_amount, now_ms)
            connection.execute(update.values(recalled=True))
        return Camt029(e2e, "ACCEPTED", "the credit is reversed")


def start_outbound(
    engine: Engine,
    e2e: str,
    wallet: str,
    creditor: str,
    currency: str,
    amount: int,
    local_amount: int,
    remittance: str,
    now_ms: int,
) -> Payment:
    """Rule 5: store a wallet's payment to the link `ACSP`, its money moved to suspense."""
    with _writing, engine.begin() as connection:
        row = connection.execute(accounts.select().where(accounts.c.id == wallet)).first()
        if row is None or row.kind != "wallet":
            raise SwitchProblem(404, "wallet_not_found", "no wallet has this id")
        if row.balance < local_amount:
            raise SwitchProblem(422, "insufficient_funds", "the wallet's balance is too low")
        connection.execute(
            payments.insert().values(
                end_to_end_id=e2e,
                direction="out",
                request_hash="out",
                creditor=creditor,
                debtor=wallet,
                currency=currency,
                amount=amount,
                local_amount=local_amount,
                remittance=remittance,
                status=ACSP,
                reason=None,
                recalled=False,
                created_ms=now_ms,
                settled_ms=None,
            )
        )
        _move(connection, e2e, "pacs008", wallet, SUSPENSE, local_amount, now_ms)
        stored = _find(connection, e2e)
    assert stored is not None
    return stored


def finish_outbound(engine: Engine, e2e: str, answer: Pacs002, now_ms: int) -> Payment:
    """Rule 5: the link's final answer moves the suspended money on (ACCC) or back (RJCT)."""
    with _writing, engine.begin() as connection:
        found = _find(connection, e2e)
        assert found is not None and found.direction == "out"
        if found.status != ACSP or answer.status == ACSP:
            return found
        if answer.status == ACCC:
            _move(connection, e2e, "pacs008", SUSPENSE, NOSTRO, found.local_amount, now_ms)
        else:
            _move(connection, e2e, "refund", SUSPENSE, found.debtor, found.local_amount, now_ms)
        connection.execute(
            payments.update()
            .where(payments.c.end_to_end_id == e2e)
            .values(
                status=answer.status, reason=answer.reason, settled_ms=answer.settled_ms or now_ms
            )
        )
        finished = _find(connection, e2e)
    assert finished is not None
    return finished


def statement(engine: Engine, day: str, switch: str, currency: str) -> Statement:
    """The nostro's entries of `day` (Asia/Phnom_Penh) with its opening and closing balances;
    at most `limits.iso_statement_entries_max` entries are listed, the closing counts them all."""
    start, end = day_bounds_ms(day)
    touching = sa.or_(entries.c.debit == NOSTRO, entries.c.credit == NOSTRO)
    signed = sa.case((entries.c.credit == NOSTRO, entries.c.amount), else_=-entries.c.amount)
    total = sa.select(sa.func.coalesce(sa.func.sum(signed), 0))
    with engine.connect() as connection:
        opening = int(
            connection.execute(total.where(touching, entries.c.time_ms < start)).scalar_one()
        )
        closing = int(
            connection.execute(total.where(touching, entries.c.time_ms < end)).scalar_one()
        )
        rows = connection.execute(
            entries.select()
            .where(touching, entries.c.time_ms >= start, entries.c.time_ms < end)
            .order_by(entries.c.seq)
            .limit(limits.iso_statement_entries_max)
        ).all()
    listed = [
        StatementEntry(
            row.seq,
            row.end_to_end_id,
            row.kind,
            "credit" if row.credit == NOSTRO else "debit",
            row.amount,
            row.time_ms,
        )
        for row in rows
    ]
    return Statement(day, switch, NOSTRO, currency, opening, closing, listed)  # type: ignore[arg-type]
