"""Wallet <-> bank account (issue 18): a bank account linked to a wallet, and money moved
between them as a two-phase operation on a ledger hold, so that no crash, timeout or retry
anywhere loses or duplicates money.

    placing --hold ok--> bank_pending --bank posted--> posting --post ok--> completed
       |                     |   |                        +--hold over--> reversing
       +--hold refused-->    |   +--bank refused--> voiding --void ok--> failed
          failed             +--hold over (expired)--> reversing --bank reversed--> reversed
                                                                 +--bank cancelled--> failed

Rules:
1. Linking: the core bank confirms that the account exists, is open, and that the phone it
   knows is the wallet's phone (the bank compares; the phone never comes back). The link
   keeps the account number (to address the bank) and shows only its last four digits and
   the holder's masked name. A wallet links at most `limits.bank_links_per_wallet_max`.
2. A transfer is stored before anything leaves the process: one database transaction stores
   its row (state `placing`) and the signed hold (the submission `bank-hold:<id>`). To the
   bank: the wallet places a hold toward the participant's settlement account, the
   participant (`settlement@<code>`) its poster; the ledger counts it against the wallet's
   daily limit. From the bank: the settlement account places a hold toward the wallet. The
   hold's reference is `bank:<id>`, its id derived from it; it lives `[core_banking] hold_ms`.
3. Once the hold commits (`bank_pending`), the core bank credits (to the bank) or debits
   (from the bank) the customer's deposit account under the posting id `<code>.<id>`: the
   same id on every try, so the bank applies it at most once. Its answer decides:
   posted -> the post is stored and sent (`posting`); refused (stored by the bank under the
   id: a later try gets the same refusal) -> the void is stored and sent (`voiding`).
4. No answer (a timeout, the core bank down or killed after committing) is never a refusal:
   the gateway asks the posting's status by id; unknown there, it asks again on a later
   round (the posting request itself is idempotent). It never voids a hold whose posting may
   have happened.
5. A hold that the ledger expired (or a post it refused because the hold is over) while the
   bank may have posted goes to `reversing`: the core bank reverses the posting id, which
   either posts a compensating reversal (the transfer ends `reversed`: both sides are back,
   reported) or, if the bank never posted it, cancels the id so that a late request is
   refused (the transfer ends `failed`, `hold_expired`).
6. Idempotency: a retry with the same key and request gets the same transfer (the first
   answer once it is final); the same key with another request is 409
   `idempotency_key_reused`. A restart resumes every unfinished transfer from its stored state
   (the worker, `run_bank_transfers`), and the resubmitter sends stored bytes again.
7. Nothing personal leaves the gateway for the ledger or a log: the hold carries the transfer
   id only; paths carry link and transfer ids, never an account number.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import TransactionBuilder, hold, hold_id_for, post, settlement_account, void
from bakong.gateway import custody, db, sessions, submission
from bakong.gateway.corebanking.adapter import (
    CoreBanking,
    CoreBankingError,
    CoreBankingUnavailable,
    Posting,
)
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.wallets import bind, check_pin, customer_by_id, query_params
from bakong.ledger.transaction import Transaction

__all__ = [
    "FINAL",
    "REFERENCE_PREFIX",
    "Transfer",
    "drive",
    "load_transfer",
    "posting_id",
    "routes",
    "sweep",
    "workers",
]

log = logging.getLogger(__name__)

TO_BANK, FROM_BANK = "to_bank", "from_bank"
PLACING, BANK_PENDING, POSTING, VOIDING, REVERSING = (
    "placing", "bank_pending", "posting", "voiding", "reversing",
)  # fmt: skip
COMPLETED, FAILED, REVERSED = "completed", "failed", "reversed"
FINAL = (COMPLETED, FAILED, REVERSED)
REFERENCE_PREFIX = "bank:"
_HOLD_OVER = ("hold_expired", "hold_already_voided")
#: The core bank's refusal codes, as the wallet is told them.
_BANK_CODES = {"insufficient_funds": "bank_insufficient_funds",
               "account_closed": "bank_account_closed"}  # fmt: skip
#: The ledger's refusal codes of a hold, as the wallet is told them.
_LEDGER_CODES = {"source_account_not_active": "account_frozen",
                 "target_account_not_active": "account_frozen",
                 "creator_not_active": "account_frozen"}  # fmt: skip


def posting_id(participant: str, transfer_id: str) -> str:
    """The core bank's posting id of a transfer: the same on every try (rule 3)."""
    return f"{participant}.{transfer_id}"


def mask_account(number: str) -> str:
    return "\u2022\u2022\u2022\u2022 " + number[-4:]


def mask_holder(name: str) -> str:
    """Each word's first letter: enough for the customer to recognise the account."""
    words = name.split()[:4]
    return " ".join(word[0] + "***" for word in words) or "***"


@dataclass(frozen=True)
class Transfer:
    transfer_id: str
    customer_id: int
    idempotency_key: str
    request_hash: str
    link_id: str
    account_number: str
    wallet_account: str
    direction: str
    asset: str
    amount: int
    hold_id: bytes
    expires_ms: int
    state: str
    reason: str | None
    bank_state: str | None
    created_ms: int
    finished_ms: int | None

    def view(self) -> dict[str, Any]:
        return {
            "transfer_id": self.transfer_id, "direction": self.direction,
            "link_id": self.link_id, "account_masked": mask_account(self.account_number),
            "asset": self.asset, "amount": self.amount, "state": self.state,
            "reason": self.reason, "created_ms": self.created_ms,
            "finished_ms": self.finished_ms,
        }  # fmt: skip


def _transfer(row: Any) -> Transfer:
    return Transfer(
        row.transfer_id, int(row.customer_id), row.idempotency_key, row.request_hash,
        row.link_id, row.account_number, row.wallet_account, row.direction, row.asset,
        int(row.amount), bytes(row.hold_id), int(row.expires_ms), row.state, row.reason,
        row.bank_state, int(row.created_ms), row.finished_ms,
    )  # fmt: skip


def load_transfer(engine: Engine, transfer_id: str) -> Transfer | None:
    table = db.bank_transfers
    with engine.connect() as connection:
        row = connection.execute(sa.select(table).where(table.c.transfer_id == transfer_id)).first()
    return None if row is None else _transfer(row)


def _move(connection: Connection, transfer: Transfer, came_from: str, state: str, now_ms: int,
          **values: Any) -> bool:  # fmt: skip
    """A compare-and-set of the transfer's state: True if this call moved it."""
    table = db.bank_transfers
    if state in FINAL:
        values["finished_ms"] = now_ms
    moved = connection.execute(
        table.update()
        .where(table.c.transfer_id == transfer.transfer_id, table.c.state == came_from)
        .values(state=state, updated_ms=now_ms, **values)
    )  # fmt: skip
    return moved.rowcount == 1


def _touch(engine: Engine, transfer: Transfer, now_ms: int) -> None:
    table = db.bank_transfers
    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.transfer_id == transfer.transfer_id)
                           .values(updated_ms=now_ms))  # fmt: skip


# -- the ledger's steps -----------------------------------------------------------------------


def _step_key(step: str, transfer: Transfer) -> str:
    return f"bank-{step}:{transfer.transfer_id}"


def _participant_tx(services: GatewayServices, command: Any) -> Transaction:
    builder = TransactionBuilder(
        chain_id=services.chain_id, creator=settlement_account(services.participant),
        created_ms=services.clock_ms(), nonce=services.nonces(),
    )  # fmt: skip
    return builder.add(command).sign(services.admin_key)


def _store_step(connection: Connection, step: str, transfer: Transfer, transaction: Transaction,
                now_ms: int) -> None:  # fmt: skip
    key = _step_key(step, transfer)
    if submission.find_submission(connection, sessions.OFFICER, key) is not None:
        return
    request_hash = hashlib.sha256(key.encode()).hexdigest()
    submission.store_signed(connection, sessions.OFFICER, key, request_hash, transaction, now_ms)


def _step(engine: Engine, step: str, transfer: Transfer) -> submission.Submission | None:
    with engine.connect() as connection:
        return submission.find_submission(connection, sessions.OFFICER, _step_key(step, transfer))


async def _sent(services: GatewayServices, step: str, transfer: Transfer,
                wait_s: float) -> submission.Submission | None:  # fmt: skip
    stored = await services.db(_step, services.engine, step, transfer)
    if stored is None or stored.finished:
        return stored
    return await submission.send_signed(services, stored, wait_s)


def _hold_status(engine: Engine, transfer: Transfer) -> str | None:
    with engine.connect() as connection:
        status = connection.execute(
            sa.select(db.holds.c.status).where(db.holds.c.hold_id == transfer.hold_id)
        ).scalar_one_or_none()
    return None if status is None else str(status)


def _next_step(services: GatewayServices, transfer: Transfer, came_from: str, state: str,
               step: str | None, **values: Any) -> None:  # fmt: skip
    """Move the transfer on and, in the same database transaction, store the signed post or
    void the new state sends (so the state never names a step that was not stored)."""
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        if not _move(connection, transfer, came_from, state, now_ms, **values):
            return
        if step is not None:
            command = post(transfer.hold_id, transfer.amount) if step == "post" else void(
                transfer.hold_id)  # fmt: skip
            _store_step(connection, step, transfer, _participant_tx(services, command), now_ms)


def _ledger_reason(transfer: Transfer, result: str | None) -> str:
    code = result or "rejected"
    if transfer.direction == FROM_BANK and code == "insufficient_funds":
        return "bank_settlement_insufficient"
    return _LEDGER_CODES.get(code, code)


async def _drive_placing(services: GatewayServices, transfer: Transfer, wait_s: float) -> None:
    placed = await _sent(services, "hold", transfer, wait_s)
    if placed is None or not placed.finished:
        return
    if placed.state is submission.State.committed:
        await services.db(_next_step, services, transfer, PLACING, BANK_PENDING, None)
    else:
        reason = _ledger_reason(transfer, placed.result)
        await services.db(_next_step, services, transfer, PLACING, FAILED, None, reason=reason)


async def _bank_answer(bank: CoreBanking, transfer: Transfer, participant: str) -> Posting | None:
    """Rules 3-4: the core bank's posting of the transfer, made now if needed; None when the
    outcome is unknown (ask again later)."""
    pid = posting_id(participant, transfer.transfer_id)
    reference = REFERENCE_PREFIX + transfer.transfer_id
    move = bank.credit if transfer.direction == TO_BANK else bank.debit
    try:
        return await move(pid, transfer.account_number, transfer.amount, transfer.asset,
                          reference)  # fmt: skip
    except CoreBankingUnavailable:
        pass
    except CoreBankingError as error:  # refused the request itself: its status tells
        log.warning("the core bank refused a posting request", extra={"code": error.code})
    try:
        return await bank.posting(pid)
    except CoreBankingError:  # unavailable, or worse: a later round asks again
        return None


async def _drive_bank(services: GatewayServices, transfer: Transfer) -> None:
    bank = services.core_banking
    assert bank is not None
    if await services.db(_hold_status, services.engine, transfer) in ("expired", "voided"):
        await services.db(_next_step, services, transfer, BANK_PENDING, REVERSING, None)
        return
    posting = await _bank_answer(bank, transfer, services.participant)
    if posting is None:
        await services.db(_touch, services.engine, transfer, services.clock_ms())
        return
    if posting.moved and (posting.amount, posting.currency) != (transfer.amount, transfer.asset):
        log.error("the core bank's posting differs from the transfer: left for an officer")
        return
    if posting.moved:
        await services.db(_next_step, services, transfer, BANK_PENDING, POSTING, "post",
                          bank_state=posting.state)  # fmt: skip
    else:
        reason = _BANK_CODES.get(posting.code or "", "bank_refused")
        await services.db(_next_step, services, transfer, BANK_PENDING, VOIDING, "void",
                          bank_state=posting.state, reason=reason)  # fmt: skip


def _after_refused_step(services: GatewayServices, transfer: Transfer, step: str,
                        stored: submission.Submission) -> None:  # fmt: skip
    """The ledger refused the post or the void: if the hold is over, a post goes to reversing
    and a void is done (the money is back); else the step is signed again next round."""
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        status = connection.execute(
            sa.select(db.holds.c.status).where(db.holds.c.hold_id == transfer.hold_id)
        ).scalar_one_or_none()
        if stored.result in _HOLD_OVER or status in ("expired", "voided"):
            if step == "post":
                _move(connection, transfer, POSTING, REVERSING, now_ms)
            else:
                _move(connection, transfer, VOIDING, FAILED, now_ms)
            return
        if submission.discard_rejected(connection, stored.id):
            command = post(transfer.hold_id, transfer.amount) if step == "post" else void(
                transfer.hold_id)  # fmt: skip
            _store_step(connection, step, transfer, _participant_tx(services, command), now_ms)
            log.warning("a bank transfer's step was refused; signed again",
                        extra={"code": stored.result})  # fmt: skip


async def _drive_step(services: GatewayServices, transfer: Transfer, step: str,
                      wait_s: float) -> None:  # fmt: skip
    sent = await _sent(services, step, transfer, wait_s)
    if sent is None or not sent.finished:
        return
    if sent.state is submission.State.committed:
        came_from, state = (POSTING, COMPLETED) if step == "post" else (VOIDING, FAILED)
        await services.db(_next_step, services, transfer, came_from, state, None)
    else:
        await services.db(_after_refused_step, services, transfer, step, sent)


async def _drive_reversing(services: GatewayServices, transfer: Transfer) -> None:
    bank = services.core_banking
    assert bank is not None
    try:
        undone = await bank.reverse(posting_id(services.participant, transfer.transfer_id))
    except CoreBankingError:  # no answer: a later round asks again
        await services.db(_touch, services.engine, transfer, services.clock_ms())
        return
    if undone.moved:
        log.warning("a bank transfer's hold expired after the bank posted: reversed")
        await services.db(_next_step, services, transfer, REVERSING, REVERSED, None,
                          bank_state="reversed", reason="bank_posting_reversed")  # fmt: skip
    else:
        await services.db(_next_step, services, transfer, REVERSING, FAILED, None,
                          bank_state=undone.state, reason=transfer.reason or "hold_expired")


async def drive(services: GatewayServices, transfer_id: str, wait_s: float) -> Transfer:
    """Take a transfer as far as it goes now (rules 2-5), waiting up to `wait_s` per block."""
    transfer = await services.db(load_transfer, services.engine, transfer_id)
    assert transfer is not None
    for _ in range(len(FINAL) + 4):  # at most one pass per state
        if transfer.state == PLACING:
            await _drive_placing(services, transfer, wait_s)
        elif transfer.state == BANK_PENDING:
            await _drive_bank(services, transfer)
        elif transfer.state in (POSTING, VOIDING):
            await _drive_step(services, transfer, "post" if transfer.state == POSTING else "void",
                              wait_s)  # fmt: skip
        elif transfer.state == REVERSING:
            await _drive_reversing(services, transfer)
        after = await services.db(load_transfer, services.engine, transfer_id)
        assert after is not None
        if after.state == transfer.state or after.state in FINAL:
            return after
        transfer = after
    return transfer


# -- the worker -------------------------------------------------------------------------------


def _unfinished(engine: Engine, updated_before_ms: int) -> list[str]:
    table = db.bank_transfers
    with engine.connect() as connection:
        return list(connection.execute(
            sa.select(table.c.transfer_id)
            .where(table.c.state.not_in(FINAL), table.c.updated_ms <= updated_before_ms)
            .order_by(table.c.id).limit(limits.bank_transfers_sweep_batch_max)
        ).scalars())  # fmt: skip


async def sweep(services: GatewayServices, wait_s: float = 0.0, *, everything: bool = False,
                ) -> int:  # fmt: skip
    """One round of the worker (rule 6): every unfinished transfer not touched within a round
    (`everything`: all of them) driven on; the number looked at."""
    before_ms = services.clock_ms() - (0 if everything else int(limits.bank_transfers_sweep_s
                                                                * 1000))  # fmt: skip
    due = await services.db(_unfinished, services.engine, before_ms)
    for transfer_id in due:
        await drive(services, transfer_id, wait_s)
    return len(due)


async def run_bank_transfers(services: GatewayServices) -> None:
    """`sweep` every `limits.bank_transfers_sweep_s` until cancelled (everything at start)."""
    first = True
    while True:
        try:
            await sweep(services, everything=first)
            first = False
        except Exception as error:  # the core, the core bank or the database is down
            log.warning("bank transfers worker: round failed",
                        extra={"error": type(error).__name__})  # fmt: skip
        await asyncio.sleep(limits.bank_transfers_sweep_s)


def workers(services: GatewayServices) -> list[Worker]:
    if services.core_banking is None:
        return []
    return [lambda: run_bank_transfers(services)]


# -- linking (rule 1) -------------------------------------------------------------------------

AccountNumber = Annotated[str, Meta(pattern=r"^[0-9]{6,20}$")]
Pin = Annotated[str, Meta(max_length=limits.pin_digits_max)]
IdempotencyKey = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
LinkId = Annotated[str, Meta(pattern=r"^bl_[0-9a-f]{16}$")]


class LinkRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    account_number: AccountNumber
    pin: Pin


class TransferRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    idempotency_key: IdempotencyKey
    link_id: LinkId
    direction: Literal["to_bank", "from_bank"]
    amount: Annotated[int, Meta(gt=0, le=limits.corebank_amount_max)]
    pin: Pin


def _bank(services: GatewayServices) -> CoreBanking:
    if services.core_banking is None:
        raise GatewayProblem(404, "core_banking_not_configured",
                             "this bank offers no link to a bank account")  # fmt: skip
    return services.core_banking


def _checked_customer(engine: Engine, customer_id: int, pin: str, now_ms: int) -> Any:
    """The customer, once its PIN is right (checked as a payment's is; a right one clears
    the count of wrong ones)."""
    with engine.connect() as connection:
        customer = customer_by_id(connection, customer_id)
    check_pin(engine, customer, pin, now_ms)
    if customer.pin_failures:
        with engine.begin() as connection:
            connection.execute(db.customers.update().where(db.customers.c.id == customer.id)
                               .values(pin_failures=0))  # fmt: skip
    return customer


def _link_view(row: Any) -> dict[str, Any]:
    return {"link_id": row.link_id, "account_masked": row.account_masked,
            "holder_masked": row.holder_masked, "asset": row.asset,
            "created_ms": int(row.created_ms)}  # fmt: skip


def _links(engine: Engine, customer_id: int) -> list[Any]:
    table = db.bank_links
    with engine.connect() as connection:
        return list(connection.execute(
            sa.select(table).where(table.c.customer_id == customer_id, table.c.state == "linked")
            .order_by(table.c.id)
        ).all())  # fmt: skip


async def list_links(services: GatewayServices, request: Request) -> Response:
    """The bank accounts linked to this wallet (masked)."""
    session = await sessions.authenticate(services, request, "customer")
    rows = await services.db(_links, services.engine, session.customer_id)
    return json_response({"bank": services.participant,
                          "available": services.core_banking is not None,
                          "accounts": [_link_view(row) for row in rows]})  # fmt: skip


def _store_link(services: GatewayServices, customer_id: int, number: str, asset: str,
                holder: str) -> tuple[Any, bool]:  # fmt: skip
    """The link row (made or linked again) and whether it is new; 409 when the wallet has its
    number of links already."""
    table = db.bank_links
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        found = connection.execute(sa.select(table).where(
            table.c.customer_id == customer_id, table.c.account_number == number)).first()
        if found is not None and found.state == "linked":
            return found, False
        linked = connection.execute(sa.select(sa.func.count()).select_from(table).where(
            table.c.customer_id == customer_id, table.c.state == "linked")).scalar_one()
        if linked >= limits.bank_links_per_wallet_max:
            raise GatewayProblem(409, "bank_links_full", "this wallet has its most links")
        values = {"asset": asset, "account_masked": mask_account(number),
                  "holder_masked": mask_holder(holder), "state": "linked", "updated_ms": now_ms}
        if found is not None:
            connection.execute(table.update().where(table.c.id == found.id).values(**values))
        else:
            link_id = "bl_" + services.random_bytes(8).hex()
            connection.execute(table.insert().values(
                link_id=link_id, customer_id=customer_id, account_number=number,
                created_ms=now_ms, **values))  # fmt: skip
        row = connection.execute(sa.select(table).where(
            table.c.customer_id == customer_id, table.c.account_number == number)).one()
    return row, True


async def link(services: GatewayServices, request: Request) -> Response:
    """Link a bank account to this wallet: the bank confirms it is the wallet's phone's."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, LinkRequest, limits.bank_transfer_body_bytes_max)
    bank = _bank(services)
    customer = await services.db(_checked_customer, services.engine, session.customer_id,
                                 body.pin, services.clock_ms())  # fmt: skip
    if customer.phone is None:
        raise GatewayProblem(409, "wallet_has_no_phone", "this wallet has no phone to match")
    try:
        account = await bank.lookup(body.account_number, customer.phone)
    except CoreBankingUnavailable:
        raise GatewayProblem(503, "core_banking_unavailable",
                             "the bank's core system did not answer: try again") from None
    except CoreBankingError as error:
        if error.code == "bank_account_not_found":
            raise GatewayProblem(404, "bank_account_not_found",
                                 "the bank has no account with this number") from None
        raise GatewayProblem(502, "core_banking_refused", "the bank refused the look-up") from None
    if not account.phone_matches:
        raise GatewayProblem(403, "bank_phone_mismatch",
                             "this account belongs to another phone at the bank")  # fmt: skip
    if account.status != "open":
        raise GatewayProblem(409, "bank_account_closed", "this bank account is closed")
    row, new = await services.db(_store_link, services, customer.id, body.account_number,
                                 account.currency, account.holder_name)  # fmt: skip
    return json_response({"link": _link_view(row)}, 201 if new else 200)


def _unlink(engine: Engine, customer_id: int, link_id: str, now_ms: int) -> bool:
    table = db.bank_links
    with engine.begin() as connection:
        done = connection.execute(table.update().where(
            table.c.customer_id == customer_id, table.c.link_id == link_id,
            table.c.state == "linked").values(state="removed", updated_ms=now_ms))  # fmt: skip
    return done.rowcount == 1


async def unlink(services: GatewayServices, request: Request) -> Response:
    """Remove a link (transfers under way finish)."""
    session = await sessions.authenticate(services, request, "customer")
    link_id = str(request.path_params["link_id"])
    removed = await services.db(_unlink, services.engine, session.customer_id, link_id,
                                services.clock_ms())  # fmt: skip
    if not removed:
        raise GatewayProblem(404, "bank_link_not_found", "no link of yours has this id")
    return json_response({"link_id": link_id, "removed": True})


# -- transferring (rules 2-6) -------------------------------------------------------------------


def _request_hash(body: TransferRequest) -> str:
    fields = [body.link_id, body.direction, body.amount]
    return hashlib.sha256(msgspec.msgpack.encode(fields)).hexdigest()


def _by_key(connection: Connection, customer_id: int, key: str) -> Transfer | None:
    table = db.bank_transfers
    row = connection.execute(sa.select(table).where(
        table.c.customer_id == customer_id, table.c.idempotency_key == key)).first()
    return None if row is None else _transfer(row)


def _hold_tx(services: GatewayServices, customer: Any, transfer: Transfer) -> Transaction:
    settlement = settlement_account(services.participant)
    reference = REFERENCE_PREFIX + transfer.transfer_id
    if transfer.direction == TO_BANK:
        source, target, memo = customer.account_id, settlement, "to bank account"
    else:
        source, target, memo = settlement, customer.account_id, "from bank account"
    command = hold(transfer.hold_id, source, target, transfer.asset, transfer.amount,
                   expires_ms=transfer.expires_ms, poster=settlement, memo=memo,
                   reference=reference)  # fmt: skip
    if transfer.direction == FROM_BANK:
        return _participant_tx(services, command)
    builder = TransactionBuilder(chain_id=services.chain_id, creator=customer.account_id,
                                 created_ms=services.clock_ms(), nonce=services.nonces())
    key = custody.open_seed(services.kek, customer.account_id, customer.key_sealed)
    return builder.add(command).sign(key)


def _create(services: GatewayServices, customer: Any, body: TransferRequest,
            digest: str) -> Transfer:  # fmt: skip
    """Rule 2: the transfer of this key, stored with its signed hold if it is new."""
    table = db.bank_transfers
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        found = _by_key(connection, customer.id, body.idempotency_key)
        if found is not None:
            return found
        link_row = connection.execute(sa.select(db.bank_links).where(
            db.bank_links.c.customer_id == customer.id, db.bank_links.c.link_id == body.link_id,
            db.bank_links.c.state == "linked")).first()  # fmt: skip
        if link_row is None:
            raise GatewayProblem(404, "bank_link_not_found", "no link of yours has this id")
        transfer_id = "bt_" + services.random_bytes(12).hex()
        reference = REFERENCE_PREFIX + transfer_id
        transfer = Transfer(
            transfer_id, customer.id, body.idempotency_key, digest, body.link_id,
            link_row.account_number, customer.account_id, body.direction, link_row.asset,
            body.amount, hold_id_for(settlement_account(services.participant), reference),
            now_ms + services.config.core_banking.hold_ms, PLACING, None, None, now_ms, None,
        )  # fmt: skip
        connection.execute(table.insert().values(
            transfer_id=transfer.transfer_id, customer_id=transfer.customer_id,
            idempotency_key=transfer.idempotency_key, request_hash=digest,
            link_id=transfer.link_id, account_number=transfer.account_number,
            wallet_account=transfer.wallet_account, direction=transfer.direction,
            asset=transfer.asset, amount=transfer.amount, hold_id=transfer.hold_id,
            expires_ms=transfer.expires_ms, state=PLACING, created_ms=now_ms, updated_ms=now_ms,
        ))  # fmt: skip
        _store_step(connection, "hold", transfer, _hold_tx(services, customer, transfer), now_ms)
    return transfer


def _answer(transfer: Transfer) -> Response:
    if transfer.state == COMPLETED:
        return json_response({"transfer": transfer.view()})
    if transfer.state not in FINAL:
        return json_response({"transfer": transfer.view()}, 202)
    code = transfer.reason or transfer.state
    message = {
        "bank_posting_reversed": "the transfer was undone on both sides: nothing moved",
        "insufficient_funds": "the wallet's balance is too low",
        "bank_insufficient_funds": "the bank account's balance is too low",
        "daily_limit_exceeded": "the wallet's daily limit is reached",
    }.get(code, f"the transfer did not go through ({code})")
    return json_response({"error": {"code": code, "message": message},
                          "transfer": transfer.view()}, 422)  # fmt: skip


async def transfer_money(services: GatewayServices, request: Request) -> Response:
    """Move money between the wallet and a linked bank account; a retry moves it once."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, TransferRequest, limits.bank_transfer_body_bytes_max)
    _bank(services)
    customer = await services.db(_checked_customer, services.engine, session.customer_id,
                                 body.pin, services.clock_ms())  # fmt: skip
    if customer.custody != "custodial" and body.direction == TO_BANK:
        raise GatewayProblem(409, "self_custody", "a self-custody wallet signs its own holds")
    digest = _request_hash(body)
    try:
        transfer = await services.db(_create, services, customer, body, digest)
    except sa.exc.IntegrityError:  # a concurrent retry stored the key first
        transfer = await services.db(_create, services, customer, body, digest)
    if transfer.request_hash != digest:
        raise GatewayProblem(409, "idempotency_key_reused",
                             "this idempotency key was used for another request")  # fmt: skip
    if transfer.state not in FINAL:
        transfer = await drive(services, transfer.transfer_id, limits.bank_transfer_step_wait_s)
    return _answer(transfer)


class TransfersQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    limit: Annotated[int, Meta(ge=1, le=limits.bank_transfers_page_max)] = 20
    before: Annotated[int, Meta(ge=1)] | None = None


def _mine(engine: Engine, customer_id: int, query: TransfersQuery) -> dict[str, Any]:
    table = db.bank_transfers
    select = sa.select(table).where(table.c.customer_id == customer_id)
    if query.before is not None:
        select = select.where(table.c.id < query.before)
    with engine.connect() as connection:
        rows = connection.execute(select.order_by(table.c.id.desc()).limit(query.limit)).all()
    more = len(rows) == query.limit
    return {"transfers": [_transfer(row).view() for row in rows],
            "next_before": int(rows[-1].id) if more else None}  # fmt: skip


async def list_transfers(services: GatewayServices, request: Request) -> Response:
    """This wallet's bank transfers, newest first."""
    session = await sessions.authenticate(services, request, "customer")
    query = query_params(request, TransfersQuery)
    return json_response(await services.db(_mine, services.engine, session.customer_id, query))


async def one_transfer(services: GatewayServices, request: Request) -> Response:
    """One of this wallet's bank transfers, by its id."""
    session = await sessions.authenticate(services, request, "customer")
    found = await services.db(load_transfer, services.engine,
                              str(request.path_params["transfer_id"]))  # fmt: skip
    if found is None or found.customer_id != session.customer_id:
        raise GatewayProblem(404, "bank_transfer_not_found", "no transfer of yours has this id")
    return json_response({"transfer": found.view()})


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [
        Route("/v1/wallet/bank-accounts", bind(services, list_links), methods=["GET"]),
        Route("/v1/wallet/bank-accounts", bind(services, link, LinkRequest), methods=["POST"]),
        Route("/v1/wallet/bank-accounts/{link_id}", bind(services, unlink), methods=["DELETE"]),
        Route("/v1/wallet/bank-transfers", bind(services, list_transfers), methods=["GET"]),
        Route("/v1/wallet/bank-transfers", bind(services, transfer_money, TransferRequest),
              methods=["POST"]),  # fmt: skip
        Route("/v1/wallet/bank-transfers/{transfer_id}", bind(services, one_transfer),
              methods=["GET"]),  # fmt: skip
    ]
