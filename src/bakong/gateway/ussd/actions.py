"""What the USSD menus ask the gateway to do, done through the gateway's own services.

`perform(services, caller, action)` does one `menu` action and returns the result the menu
steps on. Rules:
- A PIN is checked as the app checks it (`wallets.check_pin`: the same argon2 hash, the same
  count of wrong PINs and the same lockout; a right PIN clears the count), used at once and
  kept nowhere: not in a variable that outlives the call, a log, a row or an answer.
- A payment (to a phone, to a shop) goes through `submission`, keyed `ussd:<session>:<step>`
  (the menu's step at the PIN), so the same session replayed or resumed returns the first
  payment's answer and never pays twice. A cash-out request is approved through
  `bakong.gateway.approvals` (the app's door too), whose key is the request's own: it pays its
  agent once, however often and wherever it is approved. Payer and payee are never the same
  account.
- Money for a phone with no wallet at any bank is placed as the app places it (`claims.send`:
  the claim and its hold stored under the same `ussd:<session>:<step>` key, so a replay finds
  the claim, even once the payee has a wallet). The number is handed to the menu only sealed
  (`PayeeClaimable`), so the session's stored state never holds it.
- Claiming money sent to the caller's phone goes where the app's claim goes
  (`claiming.redeem_at`, with the alias of the wallet's own phone and its account): the bank
  holding the money counts wrong codes and locks the claim.
- USSD-originated payments of a customer may not exceed the bank's daily cap in their asset
  (`[ussd] daily_cap_khr/usd`), checked before signing against the customer's USSD payments
  of the day (Asia/Phnom_Penh), one payment of a customer at a time in this process. The
  central bank's limit stays the upper bound: the ledger refuses beyond it, and the menu says
  what remains today. A cash-out is the agent's request, bounded by the agent's caps and the
  ledger's limits, not by this cap.
- Balances and the mini statement come from the projection (`balances`, `history`): what the
  gateway applied from the ledger, as the app shows it (a payment to a shop abroad with the
  shop and its price there, from `foreign_payments`).
- A wallet opened by USSD is basic tier and custodial, named by digits the customer chose; its
  phone is the one the aggregator vouches for (the mobile network's word), so no code is sent.
- The core or the payee's bank not answering is `Unavailable` (or an unknown name), never a
  failure of the session's other steps.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import msgspec
import nacl.exceptions
import nacl.secret
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.client import ApiError, NotFound, TransactionBuilder, alias_hash, transfer
from bakong.errors import DecodeError
from bakong.gateway import (
    approvals,
    claim_records,
    claiming,
    claims,
    custody,
    db,
    parties,
    pins,
    submission,
    wallets,
)
from bakong.gateway.crossborder import history as foreign_history
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.service import GatewayServices
from bakong.gateway.ussd import menu
from bakong.ledger.assets import Asset
from bakong.ledger.commands import PlaceHold, Transfer
from bakong.ledger.policy import DEFAULT_POLICY, daily_limit, phnom_penh_day
from bakong.ledger.records import KycTier
from bakong.ledger.transaction import Transaction, decode_transaction

__all__ = ["Caller", "KeyedLocks", "payment_key", "perform", "ussd_spent_today"]

log = logging.getLogger(__name__)

_CORE_DOWN = (ApiError, httpx.TransportError, OSError)
_REASONS = {
    "insufficient_funds": "insufficient_funds",
    "daily_limit_exceeded": "daily_limit",
    "target_account_not_found": "recipient_not_found",
    "account_not_found": "recipient_not_found",
    "source_account_not_active": "account_frozen",
    "creator_not_active": "account_frozen",
    "target_account_not_active": "recipient_frozen",
    "balance_cap_exceeded": "balance_cap",
}
_KEY_PREFIX = "ussd:"
_CLAIMS_SHOWN = (claim_records.PENDING, claim_records.CLAIMING, claim_records.RETURNING,
                 claim_records.RETURNED)  # fmt: skip


@dataclass(frozen=True)
class Caller:
    """Who dialled: the phone (as the aggregator vouches), its keyed hash, the session, and the
    customer row of that phone at this bank, if any."""

    phone: str
    phone_hash: str
    session_key: str
    customer: Any  # its `customers` row, or None (the menu asks a PIN of customers only)


class KeyedLocks:
    """One asyncio lock per key, held by whoever works on that key, forgotten when free."""

    def __init__(self) -> None:
        self._locks: dict[object, asyncio.Lock] = {}
        self._users: dict[object, int] = {}

    @asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


_payers = KeyedLocks()
_Done = TypeVar("_Done")


def payment_key(session_key: str, step: int) -> str:
    """The idempotency key of the payment a session makes at `step`."""
    return f"{_KEY_PREFIX}{session_key[:32]}:{step}"


# -- PINs -----------------------------------------------------------------------------------------


def _customer(engine: Engine, customer_id: int) -> Any:
    with engine.connect() as connection:
        return wallets.customer_by_id(connection, customer_id)


def _pin_verdict(
    engine: Engine, customer_id: int, pin: str, now_ms: int
) -> menu.PinWrong | menu.PinLocked | None:
    """None when `pin` is the customer's (the count of wrong ones cleared), else the verdict."""
    row = _customer(engine, customer_id)
    try:
        wallets.check_pin(engine, row, pin, now_ms)
    except GatewayProblem as problem:
        locked_until = problem.details.get("locked_until_ms")
        if locked_until is not None:
            return menu.PinLocked(int(locked_until))
        return menu.PinWrong(int(problem.details["attempts_left"]))
    reset: dict[str, Any] = {"pin_failures": 0}
    if pins.pin_needs_rehash(row.pin_hash):
        reset["pin_hash"] = pins.hash_pin(pin)
    if row.pin_failures or len(reset) > 1:
        with engine.begin() as connection:
            table = db.customers
            connection.execute(table.update().where(table.c.id == row.id).values(**reset))
    return None


async def _pin(
    services: GatewayServices, caller: Caller, pin: str
) -> menu.PinWrong | menu.PinLocked | None:
    assert caller.customer is not None, "a PIN is asked of a customer only"
    return await services.db(
        _pin_verdict, services.engine, caller.customer.id, pin, services.clock_ms()
    )


# -- reading ---------------------------------------------------------------------------------------


def _balances(engine: Engine, account_id: str) -> menu.Balances:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(db.balances.c.asset, db.balances.c.available).where(
                db.balances.c.account_id == account_id
            )
        ).all()
    found = {row.asset: int(row.available) for row in rows}
    return menu.Balances(found.get("KHR", 0), found.get("USD", 0))


def _claim_entries(connection: Connection, account_id: str) -> list[tuple[int, str, int, str]]:
    """The payer's money sent to phones with no wallet that no history entry shows (waiting,
    or back), newest first."""
    table = db.claims
    rows = connection.execute(
        sa.select(table.c.created_ms, table.c.asset, table.c.amount, table.c.state)
        .where(table.c.payer_account == account_id, table.c.state.in_(_CLAIMS_SHOWN))
        .order_by(table.c.id.desc())
        .limit(limits.ussd_statement_entries_max)
    ).all()
    return [
        (int(row.created_ms), str(row.asset), -int(row.amount),
         "returned" if row.state == claim_records.RETURNED else "waiting")
        for row in rows
    ]  # fmt: skip


def _statement(engine: Engine, account_id: str) -> menu.StatementShown:
    """The latest payments, with money sent to phones with no wallet and its state: waiting,
    claimed (the hold's post, in the history) or returned."""
    table = db.history
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.time_ms, table.c.asset, table.c.amount, table.c.direction,
                      table.c.reference)
            .where(table.c.account_id == account_id, table.c.result == "ok")
            .order_by(table.c.id.desc())
            .limit(limits.ussd_statement_entries_max)
        ).all()  # fmt: skip
        prefix = claim_records.REFERENCE_PREFIX
        posts = {
            str(row.reference).removeprefix(prefix) for row in rows
            if row.direction == "out" and str(row.reference).startswith(prefix)
        }  # fmt: skip
        # A claim's post whose transfer the ledger refused (then refunded) claimed nothing.
        claimed = {prefix + claim_id for claim_id in connection.execute(
            sa.select(db.claims.c.claim_id).where(
                db.claims.c.claim_id.in_(posts), db.claims.c.state == claim_records.CLAIMED
            )
        ).scalars()}  # fmt: skip
        paid_abroad = foreign_history.foreign_of(connection, account_id, {
            str(row.reference) for row in rows if row.direction == "out" and row.reference
        })  # fmt: skip
        entries = [
            ((int(row.time_ms), str(row.asset),
              int(row.amount) * (1 if row.direction == "in" else -1),
              "claimed" if row.direction == "out" and row.reference in claimed else ""),
             _abroad(paid_abroad.get(str(row.reference)) if row.direction == "out" else None))
            for row in rows
        ] + [(entry, None) for entry in _claim_entries(connection, account_id)]  # fmt: skip
    entries.sort(key=lambda entry: -entry[0][0])
    shown = entries[: limits.ussd_statement_entries_max]
    return menu.StatementShown(
        tuple(entry for entry, _ in shown),
        {place: abroad for place, (_, abroad) in enumerate(shown) if abroad is not None},
    )


def _abroad(payment: dict[str, Any] | None) -> menu.Abroad | None:
    """A payment to a shop abroad (`foreign_history.foreign_of`) as the statement shows it."""
    if payment is None:
        return None
    return menu.Abroad(
        str(payment["merchant_name"]), str(payment["foreign_currency"]),
        int(payment["foreign_exponent"]), int(payment["foreign_amount"]),
    )  # fmt: skip


def _shop(engine: Engine, code: str) -> menu.ShopFound | menu.ShopMissing:
    merchants, customers = db.merchants, db.customers
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(customers.c.account_id, customers.c.name, customers.c.status)
            .join(merchants, merchants.c.account_id == customers.c.account_id)
            .where(merchants.c.short_code == int(code))
        ).first()
    if row is None or row.status != "active":
        return menu.ShopMissing()
    return menu.ShopFound(row.account_id, row.name[: limits.ussd_label_chars_max])


def _box(services: GatewayServices) -> nacl.secret.SecretBox:
    return nacl.secret.SecretBox(custody.derive_key(services.kek, "ussd/payee-phone"))


def _seal(services: GatewayServices, phone: str) -> str:
    """The payee's number as the session's state may keep it: sealed under a key of this
    gateway's, so the stored state never holds a number."""
    return _box(services).encrypt(phone.encode(), services.random_bytes(24)).hex()


def _unsealed(services: GatewayServices, sealed: str) -> str | None:
    try:
        return _box(services).decrypt(bytes.fromhex(sealed)).decode()
    except (ValueError, nacl.exceptions.CryptoError):
        return None


async def _payee(services: GatewayServices, caller: Caller, phone: str) -> menu.Result:
    try:
        account = (await services.core.alias(alias_hash(services.alias_key, phone))).account_id
    except NotFound:  # no wallet at any bank: the money can wait for its claim
        return menu.PayeeClaimable(claim_records.mask_phone(phone), _seal(services, phone))
    except _CORE_DOWN:
        return menu.Unavailable()
    if caller.customer is not None and account == caller.customer.account_id:
        return menu.PayeeMissing()  # the menu refuses one's own number before asking
    try:
        name = await parties.display_name_of(services, account)
    except GatewayProblem:  # the payee's bank says it has no such wallet
        return menu.PayeeMissing()
    return menu.PayeeFound(account, name)


# -- paying ---------------------------------------------------------------------------------------


def ussd_spent_today(engine: Engine, customer_id: int, asset: Asset, now_ms: int) -> int:
    """What the customer's USSD-originated payments in `asset` took today (in flight or
    committed; refused ones took nothing)."""
    table = db.submissions
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.signed_tx, table.c.created_ms)
            .where(
                table.c.customer_id == customer_id,
                table.c.idempotency_key.startswith(_KEY_PREFIX, autoescape=True),
                table.c.state != submission.State.rejected.value,
                table.c.signed_tx.is_not(None),
                table.c.created_ms > now_ms - 2 * 86_400_000,
            )
            .order_by(table.c.id.desc())
            .limit(limits.ussd_payments_counted_max)
        ).all()
    today = phnom_penh_day(now_ms)
    spent = 0
    for row in rows:
        if phnom_penh_day(row.created_ms) != today:
            continue
        try:
            command = decode_transaction(bytes(row.signed_tx)).payload.commands[0]
        except DecodeError:  # never stored by this gateway; counted as nothing
            continue
        if isinstance(command, Transfer | PlaceHold) and command.asset is asset:
            spent += command.amount  # a transfer, or a claim's hold
    return spent


def _stored(engine: Engine, customer_id: int, key: str) -> bool:
    with engine.connect() as connection:
        return submission.find_submission(connection, customer_id, key) is not None


def _signer(
    services: GatewayServices, customer: Any, payee: str, asset: Asset, amount: int
) -> submission.Signer:
    def sign(created_ms: int, nonce: int) -> Transaction:
        key = custody.open_seed(services.kek, customer.account_id, customer.key_sealed)
        builder = TransactionBuilder(
            chain_id=services.chain_id, creator=customer.account_id, created_ms=created_ms,
            nonce=nonce,
        )  # fmt: skip
        return builder.add(transfer(customer.account_id, payee, asset, amount)).sign(key)

    return sign


def _spent_on_ledger_today(engine: Engine, account_id: str, asset: Asset, now_ms: int) -> int:
    """What the ledger counts against today's limit: transfers out, and claims' holds on the
    day they were placed (never their posts)."""
    table = db.history
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.amount, table.c.time_ms).where(
                table.c.account_id == account_id, table.c.direction == "out",
                table.c.asset == asset.value, table.c.result == "ok",
                table.c.time_ms > now_ms - 2 * 86_400_000,
                ~table.c.reference.startswith(claim_records.REFERENCE_PREFIX),
            )
        ).all()  # fmt: skip
        held = claims.held_today(connection, account_id, asset.value, now_ms)
    day = phnom_penh_day(now_ms)
    return held + sum(int(row.amount) for row in rows if phnom_penh_day(row.time_ms) == day)


async def _refusal(
    services: GatewayServices, customer: Any, found: submission.Submission, asset: Asset
) -> menu.Refused:
    reason = _REASONS.get(found.result or "", "refused")
    if reason != "daily_limit":
        return menu.Refused(reason)
    policy = services.genesis.limits or DEFAULT_POLICY
    limit = daily_limit(policy, services.participant, KycTier(customer.tier), asset.index)
    spent = await services.db(
        _spent_on_ledger_today, services.engine, customer.account_id, asset, services.clock_ms()
    )
    return menu.Refused(reason, max(0, limit - spent), asset.value)


@dataclass(frozen=True)
class _Payment:
    key: str
    payee: str
    asset: Asset
    amount: int


async def _capped(
    services: GatewayServices, customer: Any, key: str, asset: Asset, amount: int,
    go: Callable[[], Awaitable[_Done]],
) -> _Done | menu.Refused:  # fmt: skip
    """`go()` under the USSD cap (checked unless `key` was stored before, so a replay is
    answered, not refused), one payment at a time per customer in this process."""
    async with _payers.hold((id(services), customer.id)):  # a gateway's own, on its own loop
        if not await services.db(_stored, services.engine, customer.id, key):
            cap = services.config.ussd.cap(asset)
            spent = await services.db(
                ussd_spent_today, services.engine, customer.id, asset, services.clock_ms()
            )
            if spent + amount > cap:
                return menu.Refused("ussd_cap", max(0, cap - spent), asset.value)
        return await go()


async def _submit(
    services: GatewayServices, customer: Any, payment: _Payment
) -> submission.Submission | menu.Refused:
    """The payment under the USSD cap (`_capped`)."""
    request = [payment.payee, payment.asset.value, payment.amount, "ussd"]
    request_hash = hashlib.sha256(msgspec.msgpack.encode(request)).hexdigest()
    sign = _signer(services, customer, payment.payee, payment.asset, payment.amount)

    async def go() -> submission.Submission | menu.Refused:
        try:
            return await submission.submit(
                services, customer.id, payment.key, request_hash, sign, limits.ussd_payment_wait_s
            )
        except GatewayProblem:  # the key was used for another request: a tampered replay
            return menu.Refused("refused")

    return await _capped(services, customer, payment.key, payment.asset, payment.amount, go)


async def _paid(
    services: GatewayServices, customer: Any, payment: _Payment
) -> menu.Paid | menu.Underway | menu.Refused:
    if customer.custody != "custodial":
        return menu.Refused("self_custody")
    if payment.payee == customer.account_id:
        return menu.Refused("recipient_not_found")
    found = await _submit(services, customer, payment)
    if isinstance(found, menu.Refused):
        return found
    if found.state is submission.State.committed:
        assert found.tx_hash is not None
        return menu.Paid(found.tx_hash.hex()[:8])
    if found.state is submission.State.rejected:
        return await _refusal(services, customer, found, payment.asset)
    return menu.Underway()


async def _pay(services: GatewayServices, caller: Caller, action: menu.Pay) -> menu.Result:
    verdict = await _pin(services, caller, action.pin)
    if verdict is not None:
        return verdict
    key = payment_key(caller.session_key, action.step)
    placed = await _claim_placed(services, caller.customer, key)
    if placed is not None:  # replayed after the payee opened a wallet: the claim it made
        return placed
    payment = _Payment(key, action.payee, Asset(action.asset), action.amount)
    return await _paid(services, caller.customer, payment)


# -- money for a phone with no wallet (`bakong.gateway.claims`) ----------------------------------


def _claim_and_hold(
    engine: Engine, customer_id: int, key: str
) -> tuple[dict[str, Any], submission.Submission] | None:
    view = claims.claim_for_payment(engine, customer_id, key)
    if view is None:
        return None
    with engine.connect() as connection:
        stored = submission.find_submission(connection, customer_id, key)
    assert stored is not None, "a claim is stored with its hold"
    return view, stored


async def _claim_answer(
    services: GatewayServices, customer: Any, held: submission.Submission, view: dict[str, Any]
) -> menu.Result:
    if held.state is submission.State.rejected:
        return await _refusal(services, customer, held, Asset(view["asset"]))
    if held.state is submission.State.committed and view["state"] != claim_records.PLACING:
        assert held.tx_hash is not None
        return menu.ClaimPlaced(held.tx_hash.hex()[:8])
    return menu.Underway()


async def _claim_placed(services: GatewayServices, customer: Any, key: str) -> menu.Result | None:
    """The answer of the claim a session's step already made, if it made one."""
    found = await services.db(_claim_and_hold, services.engine, customer.id, key)
    return None if found is None else await _claim_answer(services, customer, found[1], found[0])


async def _pay_claim(
    services: GatewayServices, caller: Caller, action: menu.PayClaim
) -> menu.Result:
    """Money for a phone with no wallet at any bank, as the app sends it (`claims.send`):
    keyed by the session's step, so a replayed or resumed session places one claim."""
    verdict = await _pin(services, caller, action.pin)
    if verdict is not None:
        return verdict
    customer, asset = caller.customer, Asset(action.asset)
    if customer.custody != "custodial":
        return menu.Refused("self_custody")
    phone = _unsealed(services, action.sealed)
    if phone is None:
        return menu.Refused("refused")
    key = payment_key(caller.session_key, action.step)
    request = [phone, asset.value, action.amount, "ussd-claim"]
    request_hash = hashlib.sha256(msgspec.msgpack.encode(request)).hexdigest()

    async def go() -> menu.Result:
        outgoing = claims.Outgoing(phone, asset, action.amount, "", None)
        try:
            held, view = await claims.send(
                services, customer, key, request_hash, outgoing, limits.ussd_payment_wait_s
            )
        except GatewayProblem as problem:
            if problem.code == "core_unavailable":
                return menu.Unavailable()
            return menu.Refused("refused")  # the key was used for another request
        return await _claim_answer(services, customer, held, view)

    return await _capped(services, customer, key, asset, action.amount, go)


_CLAIM_CLOSED = {
    "claim_not_found": "claim_none", "claim_taken": "claim_none",
    "claim_phone_mismatch": "claim_none", "forbidden": "claim_none",
    "claim_locked": "claim_locked", "claim_returned": "claim_gone", "claim_expired": "claim_gone",
}  # fmt: skip


async def _redeem(
    services: GatewayServices, caller: Caller, action: menu.RedeemClaim
) -> menu.Result:
    """Claim money sent to the caller's phone into its wallet, at the bank holding it, as the
    app does (`claiming.redeem_at`): the holding bank counts wrong codes and locks."""
    customer = caller.customer
    redeem = claims.Redeem(
        alias=alias_hash(services.alias_key, caller.phone).hex(), code=action.code,
        account=customer.account_id, kind=claims.WALLET,
    )  # fmt: skip
    try:
        status, answer = await claiming.redeem_at(services, action.bank, redeem)
    except GatewayProblem as problem:
        if problem.code == "claim_code_wrong":
            return menu.ClaimCodeWrong(int(problem.details.get("attempts_left", 0)))
        screen = _CLAIM_CLOSED.get(problem.code)
        return menu.Unavailable() if screen is None else menu.ClaimClosed(screen)
    except _CORE_DOWN:
        return menu.Unavailable()
    if status == 200:
        return menu.Claimed(str(answer["asset"]), int(answer["amount"]))
    return menu.ClaimUnderway()


# -- cash-out approvals (`bakong.gateway.approvals`, shared with the app) ------------------------


def _waiting(engine: Engine, customer_id: int, now_ms: int) -> menu.WaitingApprovals:
    found = approvals.pending(engine, customer_id, now_ms)[: limits.ussd_approvals_shown_max]
    return menu.WaitingApprovals(tuple(
        menu.Item(approval.payee_name, approval.asset, approval.amount, str(approval.id))
        for approval in found
    ))  # fmt: skip


async def _approve(services: GatewayServices, caller: Caller, action: menu.Approve) -> menu.Result:
    """Approve with the PIN: the request pays its agent once, whatever the session or channel
    (the approval's own key, `approvals` rule 2)."""
    verdict = await _pin(services, caller, action.pin)
    if verdict is not None:
        return verdict
    customer = caller.customer
    try:
        approval, paid = await approvals.approve(
            services, customer.id, action.approval_id, limits.ussd_payment_wait_s
        )
    except GatewayProblem as problem:  # gone, not this customer's, or a self-custody wallet
        return menu.Refused("self_custody") if problem.code == "self_custody" else (
            menu.ApprovalGone()
        )  # fmt: skip
    if paid.state is submission.State.committed:
        assert paid.tx_hash is not None
        return menu.Approved(paid.tx_hash.hex()[:8])
    if paid.state is submission.State.rejected:
        return await _refusal(services, customer, paid, Asset(approval.asset))
    return menu.Underway()


def _decline(engine: Engine, approval_id: int, customer_id: int, now_ms: int) -> menu.Result:
    try:
        declined = approvals.decline(engine, customer_id, approval_id, now_ms)
    except GatewayProblem:  # not this customer's, or approved already
        return menu.ApprovalGone()
    return menu.Declined() if declined.state == approvals.DECLINED else menu.ApprovalGone()


# -- the wallet itself ----------------------------------------------------------------------------


def _save_language(engine: Engine, phone_hash: str, language: str, now_ms: int) -> None:
    table = db.ussd_profiles
    with engine.begin() as connection:
        updated = connection.execute(
            table.update()
            .where(table.c.phone_hash == phone_hash)
            .values(language=language, updated_ms=now_ms)
        )
        if updated.rowcount == 0:
            connection.execute(
                table.insert().values(phone_hash=phone_hash, language=language, updated_ms=now_ms)
            )


def _handle_taken(engine: Engine, handle: str) -> bool:
    with engine.connect() as connection:
        return (
            connection.execute(
                sa.select(db.customers.c.id).where(db.customers.c.handle == handle)
            ).first()
            is not None
        )


async def _check_handle(services: GatewayServices, caller: Caller, handle: str) -> menu.Result:
    if await services.db(_handle_taken, services.engine, handle):
        return menu.HandleTaken()
    try:
        await services.core.alias(alias_hash(services.alias_key, caller.phone))
    except NotFound:
        return menu.HandleFree()
    except _CORE_DOWN:
        return menu.Unavailable()
    return menu.PhoneElsewhere()


async def _register(
    services: GatewayServices, caller: Caller, action: menu.Register
) -> menu.Result:
    account_id = f"{action.handle}@{services.participant}"
    public_key, sealed = wallets.wallet_keys(services, None, account_id)
    onboarding = wallets.Onboarding(
        handle=action.handle, account_id=account_id, phone=caller.phone, name=action.handle,
        birth_date=None, kind="personal", tier=int(KycTier.basic), public_key=public_key,
        sealed=sealed, pin_hash=await services.db(pins.hash_pin, action.pin),
    )  # fmt: skip
    try:
        _, on_ledger = await wallets.onboard(services, onboarding, None, action.pin)
    except GatewayProblem as problem:
        if problem.code == "handle_taken":
            return menu.HandleTaken()
        log.warning("a USSD registration was refused", extra={"code": problem.code})
        return menu.Unavailable()
    except _CORE_DOWN:
        return menu.Opening()  # stored and signed: the resubmitter sends it
    return menu.Registered(account_id) if on_ledger else menu.Opening()


def _set_pin(engine: Engine, customer_id: int, pin: str) -> None:
    assert pins.pin_problem(pin) is None, "the menu takes only a PIN that may be chosen"
    pin_hash = pins.hash_pin(pin)
    table = db.customers
    with engine.begin() as connection:
        connection.execute(
            table.update().where(table.c.id == customer_id).values(pin_hash=pin_hash,
                                                                    pin_failures=0)
        )  # fmt: skip


async def _with_pin(
    services: GatewayServices, caller: Caller, pin: str, then: Any, *args: Any
) -> menu.Result:
    """`then(*args)` in a worker thread once `pin` is right; the PIN verdict otherwise."""
    verdict = await _pin(services, caller, pin)
    if verdict is not None:
        return verdict
    result: menu.Result = await services.db(then, *args)
    return result


async def perform(services: GatewayServices, caller: Caller, action: menu.Action) -> menu.Result:
    """Do `action` for `caller` (module rules); the result the menu steps on."""
    engine, now_ms, customer = services.engine, services.clock_ms(), caller.customer
    match action:
        case menu.SetLanguage(language):
            await services.db(_save_language, engine, caller.phone_hash, language, now_ms)
            return menu.LanguageSaved()
        case menu.CheckHandle(handle):
            return await _check_handle(services, caller, handle)
        case menu.Register():
            return await _register(services, caller, action)
        case menu.LookupPayee(phone):
            return await _payee(services, caller, phone)
        case menu.LookupShop(code):
            return await services.db(_shop, engine, code)
        case menu.Balance(pin):
            return await _with_pin(services, caller, pin, _balances, engine, customer.account_id)
        case menu.Statement(pin):
            return await _with_pin(services, caller, pin, _statement, engine, customer.account_id)
        case menu.VerifyPin(pin):
            return await _with_pin(services, caller, pin, lambda: menu.PinOk())
        case menu.SetPin(pin):
            await services.db(_set_pin, engine, customer.id, pin)
            return menu.PinChanged()
        case menu.Pay():
            return await _pay(services, caller, action)
        case menu.PayClaim():
            return await _pay_claim(services, caller, action)
        case menu.RedeemClaim():
            return await _redeem(services, caller, action)
        case menu.ListApprovals():
            return await services.db(_waiting, engine, customer.id, now_ms)
        case menu.Approve():
            return await _approve(services, caller, action)
        case menu.Decline(approval_id):
            return await services.db(_decline, engine, approval_id, customer.id, now_ms)
    raise AssertionError(f"no such action: {type(action).__name__}")
