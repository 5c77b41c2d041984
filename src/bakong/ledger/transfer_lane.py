"""The transfer lane: the common transaction's path through a block, compiled.

Nearly every transaction on a retail payment network is one transfer signed once by its paying
account. The general path (`bakong.ledger.ladder`, the dispatch in `bakong.ledger.execute`,
then `bakong.ledger.money.transfer`) pays for generality it does not need there: a tentative
write overlay for rollback, a call per rung, records rebuilt in Python. `_lane.c`, built at
install where a C compiler is present, runs that shape in C instead.

Rules:
1. One specification. The rungs, their order, their result codes and the records written are
   the general path's; the C has no rule of its own. `tests/ledger/test_transfer_lane.py` runs
   random blocks, mutated to reach every rung the lane has, through the lane and through the
   general path alone, and requires identical results, write sets and app hashes.
2. Without a compiler there is no second lane: every transaction takes the general path.
   `native_execute_transactions` is then None, and `make test` and `bakong bench
   ledger-apply` say which ran. Where a compiler and Python's headers are present, the
   extension must build: `tests/ledger/test_lane_build.py` fails otherwise.
3. The C reads only what Python declares for it: `Context`'s public attributes,
   `StateView.parts()`, records' fields by name, and the constants configured here. It writes
   a record as `msgspec.structs.replace` of the one it read, so a field added to a record is
   carried through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from bakong import limits
from bakong.ledger.assets import Asset
from bakong.ledger.commands import Transfer
from bakong.ledger.identifiers import is_account_id
from bakong.ledger.records import AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.result import ResultCode

__all__ = ["native_execute_transactions"]


def _native() -> Callable[..., tuple[Any, ...]] | None:
    """The compiled lane, configured from the ledger's own constants; None where it was not
    built (no C compiler at install)."""
    try:
        from bakong.ledger import _lane
    except ImportError:
        return None
    _lane.configure(
        {
            "transfer_type": Transfer,
            "replace": replace,
            "khr": Asset.KHR,
            "institutional": KycTier.institutional,
            "basic": KycTier.basic,
            "active": AccountStatus.active,
            "suspended": ParticipantStatus.suspended,
            "send_only": ParticipantStatus.send_only,
            "receive_only": ParticipantStatus.receive_only,
            "tx_future_ms_max": limits.tx_future_ms_max,
            "tx_past_ms_max": limits.tx_past_ms_max,
            "amount_max": limits.amount_max,
            "is_account_id": is_account_id,
        },
        {code.name: code.value for code in ResultCode},
    )
    return _lane.execute_transactions


#: execute_transactions(context, transactions, tx_hashes, general, result_type): a block's
#: transactions in order, each of the lane's shape through the compiled lane and any other one
#: through `general(context, transaction, tx_hash)`, which returns its result.
native_execute_transactions = _native()
