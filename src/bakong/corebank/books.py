"""The sample core bank's books: deposit accounts, its Bakong GL accounts, and postings.

Rules:
1. Double entry, integer minor units. Every posting moves one amount from a debit account to a
   credit account of the same currency. A customer's deposit account is a liability: its
   balance is credits less debits. The bank's Bakong settlement position is a GL asset account
   per currency (`BAKONG-KHR`, `BAKONG-USD`): its balance is debits less credits. Money that
   arrives from a wallet debits the GL and credits the customer (`credit`); money that leaves
   for a wallet debits the customer and credits the GL (`debit`). So the customers' deposits
   that came through Bakong always equal the GL position, posting by posting.
2. Idempotent on the caller's posting id. A posting is stored once, with the hash of its
   request, whatever its outcome: `posted`, or `refused` with a code (`account_not_found`,
   `account_closed`, `currency_mismatch`, `insufficient_funds`, `refused`). The same id with
   the same request returns the first answer (a refusal stays a refusal, so a caller that
   voided its side on a refusal can never see the money move later); the same id with another
   request is refused (`posting_id_reused`).
3. A reversal is a posting of its own (`<id>~rev`), the mirror of a posted one; reversing is
   idempotent. Reversing an id that was never posted stores it `cancelled`, so the original
   request, if it is still on its way, is refused when it arrives (`posting_cancelled`).
4. A debit never takes a deposit below zero (a conditional UPDATE: no read-then-write race); a
   reversal is never refused (it may leave a deposit overdrawn, which the bank then chases).
5. The journal of a day (Asia/Phnom_Penh) lists the posted entries that touch the GL accounts,
   in the order they were posted: what reconciliation compares with the ledger.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.errors import RemoteError
from bakong.ledger.policy import phnom_penh_day

__all__ = [
    "CURRENCIES",
    "Account",
    "CorebankProblem",
    "Posting",
    "PostingRequest",
    "add_account",
    "create_schema",
    "ensure_gl_accounts",
    "day_bounds_ms",
    "day_of",
    "find_account",
    "find_posting",
    "gl_account",
    "manual_posting",
    "vault_account",
    "journal",
    "list_accounts",
    "post",
    "request_hash",
    "reverse",
]

CURRENCIES = ("KHR", "USD")
POSTED, REFUSED, CANCELLED = "posted", "refused", "cancelled"
REVERSAL_SUFFIX = "~rev"

metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("number", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # 'deposit' | 'gl'
    sa.Column("holder_name", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=True),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # 'open' | 'closed'
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)

postings = sa.Table(
    "postings",
    metadata,
    sa.Column("seq", _Id, primary_key=True, autoincrement=True),
    sa.Column("posting_id", sa.Text, nullable=False, unique=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # 'credit' | 'debit' | 'reversal' | 'manual'
    sa.Column("account", sa.Text, nullable=False),  # the customer's deposit account
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("debit_account", sa.Text, nullable=True),
    sa.Column("credit_account", sa.Text, nullable=True),
    sa.Column("state", sa.Text, nullable=False),  # 'posted' | 'refused' | 'cancelled'
    sa.Column("code", sa.Text, nullable=True),
    sa.Column("reverses", sa.Text, nullable=True),
    sa.Column("reversed_by", sa.Text, nullable=True),
    sa.Column("time_ms", sa.BigInteger, nullable=False, index=True),
)


class CorebankProblem(RemoteError):
    """The core bank refuses a request: an HTTP status, a stable code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.http_status = status


def create_schema(engine: Engine) -> None:
    """Create the tables if they are not there (a sample service: one schema version)."""
    metadata.create_all(engine)


def gl_account(currency: str) -> str:
    """The bank's Bakong settlement position in `currency`."""
    return f"BAKONG-{currency}"


@dataclass(frozen=True)
class Account:
    number: str
    kind: str
    holder_name: str
    phone: str | None
    currency: str
    balance: int
    status: str


class PostingRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A caller's credit or debit of a customer's deposit account."""

    posting_id: str
    kind: str  # 'credit' | 'debit' (checked by the API's own type)
    account: str
    amount: int
    currency: str
    reference: str = ""


@dataclass(frozen=True)
class Posting:
    posting_id: str
    kind: str
    account: str
    amount: int
    currency: str
    reference: str
    state: str
    code: str | None
    reverses: str | None
    reversed_by: str | None
    time_ms: int
    seq: int

    def view(self) -> dict[str, Any]:
        return {
            "posting_id": self.posting_id, "kind": self.kind, "account": self.account,
            "amount": self.amount, "currency": self.currency, "reference": self.reference,
            "state": self.state, "code": self.code, "reverses": self.reverses,
            "reversed_by": self.reversed_by, "time_ms": self.time_ms,
        }  # fmt: skip


def _account(row: Any) -> Account:
    return Account(row.number, row.kind, row.holder_name, row.phone, row.currency,
                   int(row.balance), row.status)  # fmt: skip


def _posting(row: Any) -> Posting:
    return Posting(
        row.posting_id, row.kind, row.account, int(row.amount), row.currency, row.reference,
        row.state, row.code, row.reverses, row.reversed_by, int(row.time_ms), int(row.seq),
    )  # fmt: skip


def request_hash(request: PostingRequest) -> str:
    fields = [request.kind, request.account, request.amount, request.currency, request.reference]
    return hashlib.sha256(msgspec.msgpack.encode(fields)).hexdigest()


def vault_account(currency: str) -> str:
    """The bank's cash in its vaults in `currency`: where an opening deposit comes from."""
    return f"VAULT-{currency}"


def add_account(
    engine: Engine, number: str, holder_name: str, phone: str | None, currency: str,
    balance: int, now_ms: int, *, kind: str = "deposit",
) -> Account:  # fmt: skip
    """Open an account; an opening balance is a cash deposit: a posting `open:<number>` from
    the vault account (so the books stay balanced)."""
    with engine.begin() as connection:
        connection.execute(accounts.insert().values(
            number=number, kind=kind, holder_name=holder_name, phone=phone, currency=currency,
            balance=0, status="open", created_ms=now_ms,
        ))  # fmt: skip
    if balance > 0:
        opening = PostingRequest(f"open:{number}", "credit", number, balance, currency, "opening")
        post(engine, opening, now_ms, gl=vault_account(currency))
    found = find_account(engine, number)
    assert found is not None
    return found


def ensure_gl_accounts(engine: Engine, bank_name: str, now_ms: int) -> None:
    """The GL accounts of every currency (Bakong position, vault cash), if missing."""
    for currency in CURRENCIES:
        for number, name in ((gl_account(currency), "Bakong settlement"),
                             (vault_account(currency), "vault cash")):  # fmt: skip
            if find_account(engine, number) is None:
                add_account(engine, number, f"{bank_name} {name}", None, currency, 0, now_ms,
                            kind="gl")  # fmt: skip


def find_account(engine: Engine, number: str) -> Account | None:
    with engine.connect() as connection:
        row = connection.execute(sa.select(accounts).where(accounts.c.number == number)).first()
    return None if row is None else _account(row)


def list_accounts(engine: Engine) -> list[Account]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(accounts).order_by(accounts.c.kind, accounts.c.number)
            .limit(limits.corebank_accounts_listed_max)
        ).all()  # fmt: skip
    return [_account(row) for row in rows]


def _find(connection: Connection, posting_id: str) -> Posting | None:
    row = connection.execute(sa.select(postings).where(postings.c.posting_id == posting_id)).first()
    return None if row is None else _posting(row)


def find_posting(engine: Engine, posting_id: str) -> Posting | None:
    with engine.connect() as connection:
        return _find(connection, posting_id)


def _move(connection: Connection, debit: Account, credit: Account, amount: int,
          overdraw: bool) -> bool:  # fmt: skip
    """Apply one amount to both legs; False if a deposit would go below zero."""
    table = accounts
    signed = {debit.number: -amount if debit.kind == "deposit" else amount,
              credit.number: amount if credit.kind == "deposit" else -amount}  # fmt: skip
    for number, change in signed.items():
        update = table.update().where(table.c.number == number)
        kind = debit.kind if number == debit.number else credit.kind
        if change < 0 and kind == "deposit" and not overdraw:
            update = update.where(table.c.balance >= -change)
        if connection.execute(update.values(balance=table.c.balance + change)).rowcount != 1:
            return False
    return True


def _refusal(connection: Connection, request: PostingRequest) -> tuple[str | None, Account | None]:
    query = sa.select(accounts).where(accounts.c.number == request.account)
    row = connection.execute(query).first()
    if row is None or row.kind != "deposit":
        return "account_not_found", None
    account = _account(row)
    if account.status != "open":
        return "account_closed", account
    if account.currency != request.currency:
        return "currency_mismatch", account
    if request.kind == "debit" and account.balance < request.amount:
        return "insufficient_funds", account
    return None, account


def _legs(connection: Connection, request: PostingRequest, customer: Account, gl: str,
          ) -> tuple[Account, Account]:  # fmt: skip
    row = connection.execute(sa.select(accounts).where(accounts.c.number == gl)).one()
    ledger = _account(row)
    return (ledger, customer) if request.kind == "credit" else (customer, ledger)


def _insert(connection: Connection, request: PostingRequest, digest: str, state: str,
            code: str | None, legs: tuple[Account, Account] | None, now_ms: int,
            reverses: str | None = None) -> None:  # fmt: skip
    connection.execute(postings.insert().values(
        posting_id=request.posting_id, request_hash=digest, kind=request.kind,
        account=request.account, amount=request.amount, currency=request.currency,
        reference=request.reference, state=state, code=code, reverses=reverses,
        debit_account=None if legs is None else legs[0].number,
        credit_account=None if legs is None else legs[1].number, time_ms=now_ms,
    ))  # fmt: skip


def post(engine: Engine, request: PostingRequest, now_ms: int, *, refuse: bool = False,
         gl: str | None = None) -> Posting:  # fmt: skip
    """Rule 2: the posting of `request.posting_id`, made now if it is new, against the
    Bakong GL of its currency (or `gl`). `refuse`: store it refused (`refused`), as a bank
    whose checks said no (a fault switch).
    `CorebankProblem` (409 `posting_id_reused`) if the id was used for another request."""
    digest = request_hash(request)
    try:
        with engine.begin() as connection:
            found = _find(connection, request.posting_id)
            if found is None:
                code, customer = ("refused", None) if refuse else _refusal(connection, request)
                legs = None
                if code is None:
                    assert customer is not None
                    ledger_gl = gl or gl_account(request.currency)
                    legs = _legs(connection, request, customer, ledger_gl)
                    # The conditional leg (a deposit debited) goes first: when it moves
                    # nothing, nothing was written.
                    if not _move(connection, *legs, request.amount, overdraw=False):
                        code = "insufficient_funds"  # a concurrent debit came first
                if code is None:
                    _insert(connection, request, digest, POSTED, None, legs, now_ms)
                else:
                    _insert(connection, request, digest, REFUSED, code, None, now_ms)
                found = _find(connection, request.posting_id)
    except sa.exc.IntegrityError:  # a concurrent retry of the same id stored it first
        found = find_posting(engine, request.posting_id)
    assert found is not None
    stored_hash = _stored_hash(engine, request.posting_id)
    if found.state != CANCELLED and stored_hash != digest:
        raise CorebankProblem(409, "posting_id_reused",
                              "this posting id was used for another posting")  # fmt: skip
    return found


def _stored_hash(engine: Engine, posting_id: str) -> str:
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(postings.c.request_hash).where(postings.c.posting_id == posting_id)
        ).scalar_one()
    return str(value)


def reverse(engine: Engine, posting_id: str, now_ms: int) -> Posting:
    """Rule 3: the original posting as it stands after its reversal (or its cancellation)."""
    try:
        with engine.begin() as connection:
            found = _find(connection, posting_id)
            if found is None:
                cancel = PostingRequest(posting_id, "cancelled", "", 0, "KHR", "cancelled")
                _insert(connection, cancel, "cancelled", CANCELLED, "posting_cancelled", None,
                        now_ms)  # fmt: skip
            elif found.state == POSTED and found.reversed_by is None and found.kind != "reversal":
                _reverse(connection, found, now_ms)
    except sa.exc.IntegrityError:  # a concurrent call did it
        pass
    done = find_posting(engine, posting_id)
    assert done is not None
    return done


def _reverse(connection: Connection, original: Posting, now_ms: int) -> None:
    row = connection.execute(
        sa.select(postings.c.debit_account, postings.c.credit_account)
        .where(postings.c.posting_id == original.posting_id)
    ).one()  # fmt: skip
    debit = connection.execute(sa.select(accounts).where(accounts.c.number == row.credit_account))
    credit = connection.execute(sa.select(accounts).where(accounts.c.number == row.debit_account))
    legs = (_account(debit.one()), _account(credit.one()))
    moved = _move(connection, *legs, original.amount, overdraw=True)
    assert moved, "a reversal is never refused"
    reversal_id = original.posting_id + REVERSAL_SUFFIX
    request = PostingRequest(reversal_id, "reversal", original.account, original.amount,
                             original.currency, original.reference)  # fmt: skip
    _insert(connection, request, "reversal", POSTED, None, legs, now_ms,
            reverses=original.posting_id)  # fmt: skip
    connection.execute(
        postings.update().where(postings.c.posting_id == original.posting_id)
        .values(reversed_by=reversal_id)
    )  # fmt: skip


def manual_posting(engine: Engine, posting_id: str, account: str, amount: int, kind: str,
                   now_ms: int) -> Posting:  # fmt: skip
    """A teller's posting between a deposit and the GL with no gateway behind it (what the
    reconciliation must flag)."""
    found = find_account(engine, account)
    if found is None:
        raise CorebankProblem(404, "account_not_found", "no account has this number")
    request = PostingRequest(posting_id, kind, account, amount, found.currency, "manual")
    return post(engine, request, now_ms)


def day_of(time_ms: int) -> str:
    """The Asia/Phnom_Penh day of `time_ms`, `YYYY-MM-DD`."""
    days = datetime.timedelta(days=phnom_penh_day(time_ms))
    return (datetime.date(1970, 1, 1) + days).isoformat()


def day_bounds_ms(day: str) -> tuple[int, int]:
    """[start, end) of an Asia/Phnom_Penh day `YYYY-MM-DD`, in Unix milliseconds."""
    date = datetime.date.fromisoformat(day)
    cambodia = datetime.timezone(datetime.timedelta(hours=7))  # UTC+7 all year
    midnight = datetime.datetime(date.year, date.month, date.day, tzinfo=cambodia)
    start = int(midnight.timestamp() * 1000)
    assert phnom_penh_day(start) == phnom_penh_day(start + 86_399_999)
    return start, start + 86_400_000


def journal(engine: Engine, day: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Rule 5: the GL entries of `day` after sequence number `after`, at most `limit`."""
    start, end = day_bounds_ms(day)
    gls = [gl_account(currency) for currency in CURRENCIES]
    table = postings
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table).where(
                table.c.state == POSTED, table.c.time_ms >= start, table.c.time_ms < end,
                table.c.seq > after,
                sa.or_(table.c.debit_account.in_(gls), table.c.credit_account.in_(gls)),
            ).order_by(table.c.seq).limit(limit)
        ).all()  # fmt: skip
    return [_entry(row, gls) for row in rows]


def _entry(row: Any, gls: list[str]) -> dict[str, Any]:
    side = "debit" if row.debit_account in gls else "credit"
    return {
        "seq": int(row.seq), "posting_id": row.posting_id, "kind": row.kind,
        "currency": row.currency, "amount": int(row.amount), "gl_side": side,
        "reverses": row.reverses, "reference": row.reference, "time_ms": int(row.time_ms),
    }  # fmt: skip
