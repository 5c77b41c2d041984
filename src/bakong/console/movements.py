"""Movements: what each committed block did to money, one row per money command, for the console.

The console follows the central bank's complete stream. `block_movements` turns one verified
block into `Movement` rows: a pure function of the block's header, its transactions with their
proven results, and the pending holds the console knows (a post, a void or an expiry names a
hold placed in an earlier block; the block itself does not say what that hold was). It does no
I/O and reads no clock: the same block and holds always give the same rows, which is what lets
the store, the settlement report and the monitoring rules be rebuilt from the stream.

Rows, per block, in the ledger's own order (`ledger/block.py`):
1. The expiry sweep: each pending hold whose `expires_ms` is before the block's time returns to
   its source (`hold_expired`, `tx_index` -1, numbered in hold-id order, no transaction hash).
2. Each transaction, each command that touches money: `transfer`, `issue` (treasury to a
   settlement account), `redeem` (the reverse), `hold_placed`, `hold_posted` (the posted
   amount; the rest returns to the source), `hold_voided` (the held amount returns).
   `(height, tx_index, command_index)` names a row uniquely.
A failed transaction changed nothing, but its rows are still there, with the kind of command
they record and the transaction's result code: `moves_money` is False for them. A failed post
or void of a hold that is not pending is left out, since what it named is not known here.

What a row leaves out on purpose: the memo and the external reference, free text a customer or
a bank typed, which may carry personal data. `reference` is the KHQR md5 of a payment, a
hold's reference, or an issue's or redemption's reserve entry.

The caller passes, as `holds`, every pending hold it knows whose expiry is before the block's
time and every hold the block's commands name (`hold_ids_named`); it stores back what the block
placed (`holds_placed`) and forgets what it finished (`holds_finished`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import msgspec

from bakong.errors import LocalError
from bakong.ledger.assets import Asset
from bakong.ledger.block import Block, BlockHeader, TxResult
from bakong.ledger.commands import Issue, PlaceHold, PostHold, Redeem, Transfer, VoidHold
from bakong.ledger.identifiers import participant_of, treasury_account
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction

__all__ = [
    "MONEY_MOVING_KINDS",
    "SWEEP_TX_INDEX",
    "BlockItem",
    "BlockMovements",
    "LedgerItem",
    "Movement",
    "MovementKind",
    "PendingHold",
    "block_movements",
    "hold_ids_named",
    "ledger_items",
    "result_name",
]

SWEEP_TX_INDEX = -1  # the block's expiry sweep runs before its first transaction


class MovementKind(enum.Enum):
    transfer = "transfer"
    hold_placed = "hold_placed"
    hold_posted = "hold_posted"
    hold_voided = "hold_voided"
    hold_expired = "hold_expired"
    issue = "issue"
    redeem = "redeem"


#: Kinds whose ok rows move money from one account's balance to another's (or create or destroy
#: it); a placed hold only sets money aside, and a voided or expired one gives it back.
MONEY_MOVING_KINDS = frozenset(
    {MovementKind.transfer, MovementKind.hold_posted, MovementKind.issue, MovementKind.redeem}
)


class Movement(msgspec.Struct, frozen=True, kw_only=True):
    """One money command of a committed block (or one hold its sweep expired)."""

    height: int
    time_ms: int  # the block's time
    tx_index: int  # SWEEP_TX_INDEX for an expired hold
    tx_hash: bytes  # b"" for an expired hold
    command_index: int  # within the transaction; for an expired hold, its place in the sweep
    kind: MovementKind
    source: str
    target: str
    source_participant: str
    target_participant: str
    asset: Asset
    amount: int  # minor units, always positive
    result: str  # "ok", or the name of the transaction's result code
    reference: str
    hold_id: bytes  # b"" unless the row is about a hold

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    @property
    def moves_money(self) -> bool:
        """True when the ledger moved `amount` from `source` to `target` with this row."""
        return self.ok and self.kind in MONEY_MOVING_KINDS


class PendingHold(msgspec.Struct, frozen=True, kw_only=True):
    """What the console keeps of a hold between its placing and its end."""

    hold_id: bytes
    source: str
    target: str
    asset: Asset
    amount: int
    expires_ms: int
    reference: str


class BlockMovements(msgspec.Struct, frozen=True, kw_only=True):
    movements: tuple[Movement, ...]
    holds_placed: tuple[PendingHold, ...]  # pending after this block, placed in it
    holds_finished: tuple[bytes, ...]  # ids of holds passed in that this block ended


class BlockItem(Protocol):
    """One transaction of a block with its result: `bakong.client.StreamItem` is one."""

    @property
    def index(self) -> int: ...

    @property
    def tx_hash(self) -> bytes: ...

    @property
    def transaction(self) -> Transaction: ...

    @property
    def result(self) -> TxResult: ...


class LedgerItem(msgspec.Struct, frozen=True):
    """A `BlockItem` from a ledger `Block` and the results its execution gave."""

    index: int
    tx_hash: bytes
    transaction: Transaction
    result: TxResult


def ledger_items(block: Block, results: Sequence[TxResult]) -> tuple[LedgerItem, ...]:
    if len(results) != len(block.transactions):
        raise LocalError(f"{len(results)} results for {len(block.transactions)} transactions")
    return tuple(
        LedgerItem(index, result.tx_hash, transaction, result)
        for index, (transaction, result) in enumerate(zip(block.transactions, results, strict=True))
    )


def result_name(code: int) -> str:
    """The name of a result code, or `code_<n>` for one this version predates."""
    try:
        return ResultCode(code).name
    except ValueError:
        return f"code_{code}"


def hold_ids_named(items: Iterable[BlockItem]) -> frozenset[bytes]:
    """The holds the block's post and void commands name, ok or not."""
    return frozenset(
        command.hold_id
        for item in items
        for command in item.transaction.payload.commands
        if isinstance(command, PostHold | VoidHold)
    )


class _Row(msgspec.Struct, frozen=True):
    """Where a row sits in the block: shared by every command of one transaction."""

    height: int
    time_ms: int
    tx_index: int
    tx_hash: bytes
    result: str

    def movement(
        self,
        command_index: int,
        kind: MovementKind,
        parties: tuple[str, str],
        money: tuple[Asset, int],
        reference: str,
        hold_id: bytes = b"",
    ) -> Movement:
        source, target = parties
        asset, amount = money
        return Movement(
            height=self.height, time_ms=self.time_ms, tx_index=self.tx_index,
            tx_hash=self.tx_hash, command_index=command_index, kind=kind, source=source,
            target=target, source_participant=participant_of(source),
            target_participant=participant_of(target), asset=asset, amount=amount,
            result=self.result, reference=reference, hold_id=hold_id,
        )  # fmt: skip


def _hold_movement(
    row: _Row, command_index: int, kind: MovementKind, hold: PendingHold, amount: int
) -> Movement:
    parties = (hold.source, hold.target)
    return row.movement(
        command_index, kind, parties, (hold.asset, amount), hold.reference, hold.hold_id
    )


def _sweep(
    height: int, time_ms: int, pending: dict[bytes, PendingHold], movements: list[Movement]
) -> None:
    """The ledger's sweep before the block's transactions: due holds return to their source."""
    row = _Row(height, time_ms, SWEEP_TX_INDEX, b"", ResultCode.ok.name)
    due = sorted(hold_id for hold_id, hold in pending.items() if hold.expires_ms < time_ms)
    for place, hold_id in enumerate(due):
        hold = pending.pop(hold_id)
        movements.append(_hold_movement(row, place, MovementKind.hold_expired, hold, hold.amount))


def _placed(command: PlaceHold) -> PendingHold:
    return PendingHold(
        hold_id=command.hold_id, source=command.source, target=command.target,
        asset=command.asset, amount=command.amount, expires_ms=command.expires_ms,
        reference=command.reference,
    )  # fmt: skip


def _finished_hold(
    pending: dict[bytes, PendingHold], hold_id: bytes, ok: bool
) -> PendingHold | None:
    """The hold a post or void names; an ok one ends it. None: a failed one of an unknown hold."""
    if not ok:
        return pending.get(hold_id)
    hold = pending.pop(hold_id, None)
    if hold is None:
        raise LocalError(f"an ok post or void names hold {hold_id.hex()}, which was not passed in")
    return hold


def _command_movement(
    row: _Row, index: int, command: object, pending: dict[bytes, PendingHold], treasury: str
) -> Movement | None:
    """The row of one command (None for a command that does not touch money), and what it
    does to the pending holds when its transaction is ok."""
    ok = row.result == ResultCode.ok.name
    if isinstance(command, Transfer):
        parties = (command.source, command.target)
        money = (command.asset, command.amount)
        return row.movement(index, MovementKind.transfer, parties, money, command.reference)
    if isinstance(command, Issue | Redeem):
        issued = isinstance(command, Issue)
        kind = MovementKind.issue if issued else MovementKind.redeem
        parties = (treasury, command.account) if issued else (command.account, treasury)
        money = (command.asset, command.amount)
        return row.movement(index, kind, parties, money, command.reserve_ref)
    if isinstance(command, PlaceHold):
        hold = _placed(command)
        if ok:
            pending[hold.hold_id] = hold
        return _hold_movement(row, index, MovementKind.hold_placed, hold, hold.amount)
    if isinstance(command, PostHold):
        posted = _finished_hold(pending, command.hold_id, ok)
        if posted is None:
            return None
        return _hold_movement(row, index, MovementKind.hold_posted, posted, command.amount)
    if isinstance(command, VoidHold):
        voided = _finished_hold(pending, command.hold_id, ok)
        if voided is None:
            return None
        return _hold_movement(row, index, MovementKind.hold_voided, voided, voided.amount)
    return None


def block_movements(
    header: BlockHeader,
    items: Iterable[BlockItem],
    holds: Mapping[bytes, PendingHold],
    *,
    central_bank: str,
) -> BlockMovements:
    """The movements of one block whose every transaction is in `items`, in index order.

    `holds` are pending holds known before the block (see the module docstring for which);
    `central_bank` is the central bank's participant code, whose treasury issues."""
    pending = dict(holds)
    movements: list[Movement] = []
    _sweep(header.height, header.time_ms, pending, movements)
    treasury = treasury_account(central_bank)
    for item in items:
        row = _Row(
            header.height, header.time_ms, item.index, item.tx_hash, result_name(item.result.code)
        )
        for index, command in enumerate(item.transaction.payload.commands):
            movement = _command_movement(row, index, command, pending, treasury)
            if movement is not None:
                movements.append(movement)
    placed = tuple(hold for hold_id, hold in pending.items() if hold_id not in holds)
    finished = tuple(hold_id for hold_id in holds if hold_id not in pending)
    return BlockMovements(movements=tuple(movements), holds_placed=placed, holds_finished=finished)
