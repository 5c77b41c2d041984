"""Invariants of the ledger, asserted after every block and checked in full by the tests.

1. Conservation, per asset: the sum over all accounts of available plus held balances equals
   issued minus redeemed.
2. No balance, held amount or daily total is ever negative.

`check_block` verifies both incrementally from a block's writes (cheap enough to run on every
block in production); `check_store` scans a whole store (tests, audits, snapshot restore).
"""

from __future__ import annotations

from collections.abc import Iterable

from bakong.ledger.records import Account, Supply
from bakong.ledger.state import SUPPLY_KEY, StateView, decode_value

__all__ = ["InvariantViolation", "check_block", "check_store"]


class InvariantViolation(AssertionError):
    """The ledger broke one of its own invariants: a bug; the node must stop."""


def _account_total(account: Account | None, index: int) -> int:
    if account is None:
        return 0
    return account.balances[index] + account.held[index]


def _check_non_negative(account: Account) -> None:
    if min(*account.balances, *account.held, *account.outgoing) < 0:
        raise InvariantViolation(f"negative amount in {account.account_id}: {account}")


def check_block(view: StateView) -> None:
    """Conservation of this block's changes: account deltas equal the supply delta."""
    khr_delta, usd_delta, negative = view.account_deltas()
    if negative is not None:
        raise InvariantViolation(f"negative amount in {negative.account_id}: {negative}")
    supply_new: Supply | None = view.read(SUPPLY_KEY)
    supply_old: Supply | None = view.original(SUPPLY_KEY)
    for index, delta in ((0, khr_delta), (1, usd_delta)):
        expected = _net(supply_new, index) - _net(supply_old, index)
        if delta != expected:
            raise InvariantViolation(
                f"asset {index}: accounts changed by {delta}, supply by {expected}"
            )


def _net(supply: Supply | None, index: int) -> int:
    if supply is None:
        return 0
    return supply.issued[index] - supply.redeemed[index]


def check_store(items: Iterable[tuple[bytes, bytes]]) -> None:
    """Conservation and non-negativity over every account of a whole store."""
    totals = [0, 0]
    supply: Supply | None = None
    for key, raw in items:
        if key == SUPPLY_KEY:
            record = decode_value(key, raw)
            assert isinstance(record, Supply)
            supply = record
        elif key.startswith(b"a/"):
            account = decode_value(key, raw)
            assert isinstance(account, Account)
            _check_non_negative(account)
            totals[0] += _account_total(account, 0)
            totals[1] += _account_total(account, 1)
    for index in (0, 1):
        if totals[index] != _net(supply, index):
            raise InvariantViolation(
                f"asset {index}: accounts hold {totals[index]}, supply is {_net(supply, index)}"
            )
