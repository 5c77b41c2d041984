"""The projection: the participant's verified commit stream, applied to the gateway's tables.

The gateway follows its participant's stream through `bakong.client` (`Client.follow`), which
verifies every header's commit and every transaction's Merkle proofs before yielding a block.
Each block is applied here, in ONE database transaction that also records `last_height` and
the follower's trust state (`meta`), so that after a crash or restart the gateway resumes at
the next height with nothing missed and nothing counted twice. Rules:

1. Exactly once. A block applies only at `last_height + 1`, checked and advanced inside the
   same transaction (a compare-and-set on `meta.last_height`): a block seen again (a second
   follower, a replay after a restart) changes nothing. `history` has a unique key per
   (transaction, command, account) as a second guard.
2. What it writes, for the participant's own accounts (`name@<participant>`) only:
   - `history`: one row per transfer, posted hold, issue and redeem of a committed
     transaction, with its result (a failed transaction's rows say what failed; they moved
     nothing);
   - `balances`: available and held per asset, moved only by transactions whose result is ok:
     transfers, issues, redeems, holds placed, posted, voided, and holds the ledger expired at
     the start of a block (rule of `ledger/holds.py`: a pending hold whose expiry is before the
     block's time);
   - `holds`: every hold the stream showed, since a post or void names only its id;
   - `khqr_codes.paid_tx_hash`: a dynamic code is paid by the first ok transfer to its
     account whose `reference` is its md5, of its amount and asset, at a block time not past
     its expiry. Static codes are never marked (they are paid again and again);
   - `submissions`: a transaction this gateway submitted is finished (committed, or rejected
     with its result code) the moment its block applies, even if the submitter has gone; once
     the block's transaction commits, the senders parked on its hashes are woken
     (`services.waiters`), and that is how a payment learns its end without polling the core.
3. Hooks (`ProjectionHooks`), for modules that react to money arriving:
   - `payment_applied(connection, payment)` and `khqr_paid(connection, md5, payment)` run
     INSIDE the projection's transaction, for ok payments: what they write (a webhook event)
     commits exactly when the payment does. They must not do I/O beyond that connection.
     `payments_applied(connection, payments)` is the same for all of a block's ok payments
     at once, for a hook that would otherwise query the store once per payment.
   - `payment_committed(payment)` (async) runs after the commit, for live pushes (server-sent
     events). It is best effort: a crash between the commit and the push loses the push, not
     the payment, which the history shows.
   A hook that raises aborts the block's transaction: the block is applied again later.
4. A stream that fails (the core unreachable, a verification failure) is reopened from the
   last applied height after a backoff; a verification failure is logged as an error, since
   it means the core sent what its validators did not sign.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.client import ApiError, TrustState, VerificationError, VerifiedBlock
from bakong.client.responses import result_name
from bakong.gateway import db
from bakong.gateway.submission import Submission, finish_submissions
from bakong.ledger.commands import Issue, PlaceHold, PostHold, Redeem, Transfer, VoidHold
from bakong.ledger.genesis import GenesisFile
from bakong.ledger.identifiers import participant_of, treasury_account
from bakong.ledger.result import ResultCode

if TYPE_CHECKING:
    from bakong.gateway.service import GatewayServices

__all__ = [
    "Payment",
    "ProjectionHooks",
    "apply_block",
    "last_height",
    "load_trust",
    "mark_khqr_paid",
    "projection_height",
    "run_projection",
]

log = logging.getLogger(__name__)

LAST_HEIGHT = "last_height"
TRUST = "trust"


@dataclass(frozen=True)
class Payment:
    """Money moving into or out of one of the participant's accounts, as the ledger decided."""

    height: int
    tx_index: int
    command_index: int
    tx_hash: bytes
    account_id: str  # the participant's own account
    counterparty: str
    direction: str  # "in" | "out"
    asset: str
    amount: int  # minor units
    memo: str
    reference: str
    external_ref: str
    result: str  # "ok", or the code of the transaction's failure (then nothing moved)
    time_ms: int  # the block's time

    @property
    def ok(self) -> bool:
        return self.result == "ok"


PaymentHook = Callable[[Connection, Payment], None]
PaymentsHook = Callable[[Connection, Sequence[Payment]], None]
KhqrPaidHook = Callable[[Connection, str, Payment], None]
CommittedHook = Callable[[Payment], Awaitable[None]]


@dataclass
class ProjectionHooks:
    """Callbacks of other modules (rule 3). Register at start-up, before the app serves."""

    payment_applied: list[PaymentHook] = field(default_factory=list)
    payments_applied: list[PaymentsHook] = field(default_factory=list)  # a block's, at once
    khqr_paid: list[KhqrPaidHook] = field(default_factory=list)
    payment_committed: list[CommittedHook] = field(default_factory=list)


# -- meta: the last applied height and the follower's trust ------------------------------------


def last_height(connection: Connection) -> int:
    value = connection.execute(
        sa.select(db.meta.c.value).where(db.meta.c.key == LAST_HEIGHT)
    ).scalar_one_or_none()
    return 0 if value is None else int(value)


def load_trust(engine: Engine, genesis: GenesisFile) -> TrustState:
    """The trust state saved with the last applied block, or the genesis' before block 1."""
    with engine.connect() as connection:
        raw = connection.execute(
            sa.select(db.meta.c.value).where(db.meta.c.key == TRUST)
        ).scalar_one_or_none()
    if raw is None:
        return TrustState.from_genesis(genesis)
    trust = msgspec.json.decode(raw, type=TrustState)
    assert trust.chain_id == genesis.chain_id, "the store belongs to another chain"
    return trust


def _advance(connection: Connection, height: int, trust: TrustState) -> bool:
    """Move `last_height` from `height - 1` to `height`; False if another got there first."""
    encoded = msgspec.json.encode(trust).decode()
    if height == 1:
        present = connection.execute(
            sa.select(db.meta.c.key).where(db.meta.c.key == LAST_HEIGHT)
        ).first()
        if present is not None:
            return False
        connection.execute(db.meta.insert().values(key=LAST_HEIGHT, value="1"))
        connection.execute(db.meta.insert().values(key=TRUST, value=encoded))
        return True
    moved = connection.execute(_ADVANCE, {"b_from": str(height - 1), "b_to": str(height)})
    if moved.rowcount != 1:
        return False
    connection.execute(_SAVE_TRUST, {"b_trust": encoded})
    return True


# Statements of every block, built once (SQLAlchemy then finds their compiled form at once).
_ADVANCE = (
    db.meta.update()
    .where(db.meta.c.key == LAST_HEIGHT, db.meta.c.value == sa.bindparam("b_from"))
    .values(value=sa.bindparam("b_to"))
)
_SAVE_TRUST = db.meta.update().where(db.meta.c.key == TRUST).values(value=sa.bindparam("b_trust"))


# -- balances and holds -----------------------------------------------------------------------


def _move(connection: Connection, account: str, asset: str, available: int, held: int) -> None:
    balance = db.balances
    where = (balance.c.account_id == account, balance.c.asset == asset)
    updated = connection.execute(
        balance.update()
        .where(*where)
        .values(available=balance.c.available + available, held=balance.c.held + held)
    )
    if updated.rowcount == 0:
        connection.execute(
            balance.insert().values(account_id=account, asset=asset, available=available, held=held)
        )


def _add_to_balances(connection: Connection, movements: list[Movement]) -> None:
    """A block's movements of local balances, summed per balance, in one statement: an
    insert of each balance that adds to the row when there is one (SQLite and PostgreSQL
    share the `ON CONFLICT ... DO UPDATE` form)."""
    sums: dict[tuple[str, str], list[int]] = {}
    for account, asset, available, held in movements:
        total = sums.setdefault((account, asset), [0, 0])
        total[0] += available
        total[1] += held
    if sums:
        connection.execute(
            _UPSERT_BALANCE[connection.dialect.name],
            [
                {"account_id": account, "asset": asset, "available": available, "held": held}
                for (account, asset), (available, held) in sums.items()
            ],
        )


def _upsert_balance(insert: Callable[[sa.Table], Any]) -> Any:
    statement = insert(db.balances)
    return statement.on_conflict_do_update(
        index_elements=[db.balances.c.account_id, db.balances.c.asset],
        set_={
            "available": db.balances.c.available + statement.excluded.available,
            "held": db.balances.c.held + statement.excluded.held,
        },
    )


_UPSERT_BALANCE = {
    "sqlite": _upsert_balance(sqlite_dialect.insert),
    "postgresql": _upsert_balance(postgresql_dialect.insert),
}

_EXPIRED_HOLDS = sa.select(
    db.holds.c.hold_id, db.holds.c.source, db.holds.c.asset, db.holds.c.amount
).where(db.holds.c.status == "pending", db.holds.c.expires_ms < sa.bindparam("b_time"))


def _expire_holds(connection: Connection, local: Callable[[str], bool], time_ms: int) -> None:
    """The ledger's sweep before a block: pending holds past expiry return to their source."""
    hold = db.holds
    expired = connection.execute(_EXPIRED_HOLDS, {"b_time": time_ms}).all()
    for hold_id, source, asset, amount in expired:
        if local(source):
            _move(connection, source, asset, amount, -amount)
        connection.execute(hold.update().where(hold.c.hold_id == hold_id).values(status="expired"))


# -- commands to payments and balance movements ----------------------------------------------


@dataclass(frozen=True)
class _Context:
    height: int
    tx_index: int
    tx_hash: bytes
    result: str
    time_ms: int
    treasury: str


#: (account, asset, change of available, change of held)
Movement = tuple[str, str, int, int]


@dataclass
class _Effects:
    payments: list[Payment] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)

    def pay(
        self,
        context: _Context,
        index: int,
        parties: tuple[str, str],
        asset: str,
        amount: int,
        notes: tuple[str, str, str],
    ) -> None:
        """A payment from `parties[0]` to `parties[1]`: a history row on each side."""
        source, target = parties
        memo, reference, external_ref = notes
        legs = [(source, target, "out"), (target, source, "in")]
        for account, counterparty, direction in legs[: 1 if source == target else 2]:
            payment = Payment(
                context.height, context.tx_index, index, context.tx_hash, account, counterparty,
                direction, asset, amount, memo, reference, external_ref, context.result,
                context.time_ms,
            )  # fmt: skip
            self.payments.append(payment)


def _place(connection: Connection, command: PlaceHold) -> None:
    connection.execute(
        db.holds.insert().values(
            hold_id=command.hold_id, source=command.source, target=command.target,
            asset=command.asset.value, amount=command.amount, expires_ms=command.expires_ms,
            memo=command.memo, reference=command.reference, status="pending",
        )
    )  # fmt: skip


def _finish_hold(
    connection: Connection, hold_id: bytes, status: str
) -> tuple[str, str, str, int, str, str]:
    hold = db.holds
    row = connection.execute(
        sa.select(
            hold.c.source, hold.c.target, hold.c.asset, hold.c.amount, hold.c.memo, hold.c.reference
        ).where(hold.c.hold_id == hold_id, hold.c.status == "pending")
    ).first()
    assert row is not None, "an ok post or void names a pending hold the stream showed"
    connection.execute(hold.update().where(hold.c.hold_id == hold_id).values(status=status))
    source, target, asset, amount, memo, reference = row
    return source, target, asset, amount, memo, reference


def _command_effects(
    connection: Connection, context: _Context, index: int, command: object, effects: _Effects
) -> None:
    """Record what one command of an ok transaction did (`context.result == "ok"`)."""
    if isinstance(command, Transfer):
        notes = (command.memo, command.reference, command.external_ref)
        parties = (command.source, command.target)
        effects.pay(context, index, parties, command.asset.value, command.amount, notes)
        effects.movements.append((command.source, command.asset.value, -command.amount, 0))
        effects.movements.append((command.target, command.asset.value, command.amount, 0))
    elif isinstance(command, Issue | Redeem):
        issued = isinstance(command, Issue)
        parties = (
            (context.treasury, command.account) if issued else (command.account, context.treasury)
        )
        notes = ("", command.reserve_ref, "")
        effects.pay(context, index, parties, command.asset.value, command.amount, notes)
        change = command.amount if issued else -command.amount
        effects.movements.append((command.account, command.asset.value, change, 0))
    elif isinstance(command, PlaceHold):
        _place(connection, command)
        effects.movements.append(
            (command.source, command.asset.value, -command.amount, command.amount)
        )
    elif isinstance(command, PostHold):
        source, target, asset, amount, memo, reference = _finish_hold(
            connection, command.hold_id, "posted"
        )
        effects.pay(context, index, (source, target), asset, command.amount, (memo, reference, ""))
        # The whole hold leaves the held balance; what is not posted returns to available.
        effects.movements.append((source, asset, amount - command.amount, -amount))
        effects.movements.append((target, asset, command.amount, 0))
    elif isinstance(command, VoidHold):
        source, _, asset, amount, _, _ = _finish_hold(connection, command.hold_id, "voided")
        effects.movements.append((source, asset, amount, -amount))


def _failed_effects(context: _Context, commands: tuple[object, ...], effects: _Effects) -> None:
    """A failed transaction moved nothing; its transfers still show, with its result."""
    for index, command in enumerate(commands):
        if isinstance(command, Transfer):
            notes = (command.memo, command.reference, command.external_ref)
            parties = (command.source, command.target)
            effects.pay(context, index, parties, command.asset.value, command.amount, notes)


# -- one block, in one database transaction ---------------------------------------------------


def mark_khqr_paid(connection: Connection, payment: Payment) -> bool:
    """Rule 2: the first matching ok payment marks a dynamic code paid; True if this one did
    (a code already marked is left as it is, so applying a payment twice is harmless)."""
    if not payment.ok or payment.direction != "in" or not payment.reference:
        return False
    code = db.khqr_codes
    marked = connection.execute(
        code.update()
        .where(
            code.c.md5 == payment.reference,
            code.c.account_id == payment.account_id,
            code.c.dynamic == 1,
            code.c.paid_tx_hash.is_(None),
            code.c.amount == payment.amount,
            code.c.asset == payment.asset,
            sa.or_(code.c.expires_ms.is_(None), code.c.expires_ms >= payment.time_ms),
        )
        .values(paid_tx_hash=payment.tx_hash)
    )
    return marked.rowcount == 1


def _history_row(payment: Payment) -> dict[str, object]:
    return {
        "height": payment.height,
        "tx_index": payment.tx_index,
        "command_index": payment.command_index,
        "tx_hash": payment.tx_hash,
        "account_id": payment.account_id,
        "counterparty": payment.counterparty,
        "direction": payment.direction,
        "asset": payment.asset,
        "amount": payment.amount,
        "memo": payment.memo,
        "reference": payment.reference,
        "external_ref": payment.external_ref,
        "result": payment.result,
        "time_ms": payment.time_ms,
    }


def apply_block(
    connection: Connection,
    participant: str,
    central_bank: str,
    block: VerifiedBlock,
    trust: TrustState,
    hooks: ProjectionHooks,
) -> list[Payment] | None:
    """Apply `block` inside the caller's transaction; None if it was applied before (rule 1)."""
    applied = _apply_block(connection, participant, central_bank, block, trust, hooks)
    return None if applied is None else applied.payments


@dataclass(frozen=True)
class _Applied:
    payments: list[Payment]  # of the participant's accounts
    finished: list[Submission]  # this gateway's submissions the block finished


def _apply_block(
    connection: Connection,
    participant: str,
    central_bank: str,
    block: VerifiedBlock,
    trust: TrustState,
    hooks: ProjectionHooks,
) -> _Applied | None:
    # Advancing the height comes first: on SQLite its write takes the store's write lock, so
    # nothing changes under the reads below until this transaction ends.
    if not _advance(connection, block.height, trust):
        return None

    def local(account: str) -> bool:
        return participant_of(account) == participant

    time_ms = block.header.time_ms
    _expire_holds(connection, local, time_ms)
    effects = _Effects()
    results: list[tuple[bytes, str]] = []
    for item in block.items:
        result = result_name(item.result.code)
        context = _Context(
            block.height, item.index, item.tx_hash, result, time_ms, treasury_account(central_bank)
        )
        commands = item.transaction.payload.commands
        if item.result.code == ResultCode.ok:
            for index, command in enumerate(commands):
                _command_effects(connection, context, index, command, effects)
        else:
            _failed_effects(context, commands, effects)
        results.append((item.tx_hash, result))
    finished = finish_submissions(connection, results, block.height, time_ms)
    _add_to_balances(connection, [move for move in effects.movements if local(move[0])])
    payments = [payment for payment in effects.payments if local(payment.account_id)]
    if payments:
        connection.execute(_INSERT_HISTORY, [_history_row(p) for p in payments])
    for payment in payments:
        if not payment.ok:
            continue
        for applied in hooks.payment_applied:
            applied(connection, payment)
        if mark_khqr_paid(connection, payment):
            for paid in hooks.khqr_paid:
                paid(connection, payment.reference, payment)
    if hooks.payments_applied:
        ok = [payment for payment in payments if payment.ok]
        for applied_all in hooks.payments_applied:
            applied_all(connection, ok)
    return _Applied(payments, finished)


_INSERT_HISTORY = db.history.insert()


def _apply(services: GatewayServices, block: VerifiedBlock, trust: TrustState) -> _Applied | None:
    central_bank = services.genesis.central_bank.code
    with services.engine.begin() as connection:
        return _apply_block(
            connection, services.participant, central_bank, block, trust, services.hooks
        )


async def _announce(services: GatewayServices, payments: list[Payment]) -> None:
    for payment in payments:
        if not payment.ok:
            continue
        for committed in services.hooks.payment_committed:
            try:
                await committed(payment)
            except Exception:  # a live push failing must not stop the projection
                log.exception("a payment_committed hook failed", extra={"height": payment.height})


async def _follow(services: GatewayServices) -> None:
    """Apply blocks from the last applied height until the stream fails or is overtaken."""
    trust = await services.db(load_trust, services.engine, services.genesis)
    follower = services.core.follow(trust)
    # Closed on the way out, cancellation included, so the WebSocket closes with it.
    stream = cast(AsyncGenerator[VerifiedBlock, None], follower.blocks())  # an async def
    services.waiters.following = True
    try:
        async with aclosing(stream) as blocks:
            async for block in blocks:
                applied = await services.db(_apply, services, block, follower.trust)
                # Committed now (or before, when None): senders parked on these hashes find
                # their submissions finished, and are handed them as they were stored.
                finished = () if applied is None else applied.finished
                services.waiters.wake((item.tx_hash for item in block.items), finished)
                if applied is None:
                    log.warning(
                        "block already applied: resuming from the store",
                        extra={"height": block.height},
                    )
                    return
                services.metrics.count("blocks_applied")
                await _announce(services, applied.payments)
    finally:
        services.waiters.following = False


async def run_projection(services: GatewayServices) -> None:
    """Follow the participant's stream for ever (rule 4). Cancel the task to stop it."""
    delay = limits.client_reconnect_delay_s_min
    while True:
        try:
            await _follow(services)
            delay = limits.client_reconnect_delay_s_min
            continue
        except VerificationError as error:
            log.error("the core sent a block that does not verify", extra={"code": error.code})
        except (ApiError, httpx.TransportError, OSError) as error:
            log.warning("the commit stream failed", extra={"error": type(error).__name__})
        services.metrics.count("stream_failures")
        await asyncio.sleep(delay)
        delay = min(2 * delay, limits.gateway_projection_retry_s_max)


def projection_height(engine: Engine) -> int:
    """The last height applied to the store."""
    with engine.connect() as connection:
        return last_height(connection)
