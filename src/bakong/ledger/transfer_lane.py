"""The transfer lane: one transfer, signed once by the paying account, in a single pass.

Nearly every transaction on a retail payment network is this shape, and the general path
(`bakong.ledger.ladder`, then the dispatch in `bakong.ledger.execute`, then
`bakong.ledger.money.transfer`) spends most of its time on the generality it does not need:
a tentative write overlay for rollback, per-rung function calls and records rebuilt by
`replace`. The lane runs the same rungs, in the same order, with the same result codes, and
writes the same records:

- envelope rungs 1-11 of the ladder (a participant creator leaves the lane before any rung);
- then the transfer's rungs: `permission_denied`, `amount_must_be_positive`,
  `accounts_must_be_different`, `target_account_not_found`, `target_account_not_active`, the
  debit rungs and the credit rungs of `bakong.ledger.money`.

Every check comes before the first write, so a rejection leaves nothing to roll back. The
general path stays the specification: `tests/ledger/test_transfer_lane.py` executes random
workloads through both and requires identical results, write sets and app hashes.

The lane is also compiled (`_lane.c`, built at install where a C compiler is present): the
same rungs, in C, over the same records and `StateView` dictionaries. Where it is built, a
block runs through it (`native_execute_transactions`); this module is its specification, and
the same differential test holds it to the general path too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bakong import limits
from bakong.ledger.assets import Asset
from bakong.ledger.commands import Transfer
from bakong.ledger.context import Context
from bakong.ledger.identifiers import is_account_id
from bakong.ledger.records import Account, AccountStatus, KycTier
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction

__all__ = ["native_execute_transactions", "run_transfer"]

_ok = ResultCode.ok
_institutional = KycTier.institutional
_basic = KycTier.basic
_khr = Asset.KHR


def _native() -> Callable[..., tuple[Any, ...]] | None:
    """The compiled lane (`_lane.c`), configured from this module's Python constants; None
    where it was not built (no C compiler at install), and the Python lane runs instead."""
    try:
        from bakong.ledger import _lane
    except ImportError:
        return None
    _lane.configure(
        {
            "transfer_type": Transfer,
            "account_type": Account,
            "khr": Asset.KHR,
            "institutional": KycTier.institutional,
            "basic": KycTier.basic,
            "active": AccountStatus.active,
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


def run_transfer(
    context: Context, transaction: Transaction, tx_hash: bytes
) -> tuple[ResultCode, int, bool] | None:
    """Execute `transaction` if it has the lane's shape, as `execute_transaction` would.

    Returns None, having changed nothing, when the transaction is not one transfer signed by
    one key of an account creator; the caller then takes the general path.
    """
    payload = transaction.payload
    commands = payload.commands
    creator = payload.creator
    # No "@": a participant code, or no identifier at all; the general path tells them apart.
    if len(commands) != 1 or len(transaction.signatures) != 1 or "@" not in creator:
        return None
    command = commands[0]
    if type(command) is not Transfer:
        return None
    code, source = _envelope(context, transaction, tx_hash, creator)
    if source is None:
        return code, -1, False
    code = _transfer(context, command, source)
    context.seen_in_block[tx_hash] = int(code)
    return code, (-1 if code is _ok else 0), True


def _envelope(
    context: Context, transaction: Transaction, tx_hash: bytes, creator: str
) -> tuple[ResultCode, Account | None]:
    """Rungs 1-11 for an account creator with one signature: `ok` and its account, or the
    first failing rung's code."""
    payload = transaction.payload
    if payload.chain_id != context.chain_id:
        return ResultCode.chain_id_mismatch, None
    time_ms = context.time_ms
    if payload.created_ms > time_ms + limits.tx_future_ms_max:
        return ResultCode.created_in_future, None
    if payload.created_ms < time_ms - limits.tx_past_ms_max:
        return ResultCode.expired, None
    view = context.view
    if tx_hash in context.seen_in_block or view.read(b"s/" + tx_hash) is not None:
        return ResultCode.duplicate_transaction, None
    account: Account | None = view.read(b"a/" + creator.encode())
    if account is None:  # every stored account's ID is valid, so rung 5 is decided only here
        if not is_account_id(creator):
            return ResultCode.creator_invalid, None
        return ResultCode.creator_not_found, None
    if not context.account_is_active(account):
        return ResultCode.creator_not_active, None
    entry = transaction.signatures[0]
    public_key = entry.public_key
    if not context.verify(public_key, context.signature_prefix + tx_hash, entry.signature):
        return ResultCode.signature_invalid, None
    if public_key not in account.signatories:
        return ResultCode.signature_key_not_signatory, None
    if account.quorum != 1:
        return ResultCode.signature_quorum_not_met, None
    return _ok, account


def _transfer(context: Context, command: Transfer, source: Account) -> ResultCode:
    """The transfer's rungs, then both writes; `source` is the creator's account, which the
    envelope found active."""
    source_id = source.account_id
    if command.source != source_id:
        return ResultCode.permission_denied
    amount = command.amount
    if amount <= 0:
        return ResultCode.amount_must_be_positive
    target_id = command.target
    if target_id == source_id:
        return ResultCode.accounts_must_be_different
    view = context.view
    target_key = b"a/" + target_id.encode()
    target: Account | None = view.read(target_key)
    if target is None:
        return ResultCode.target_account_not_found
    if not context.account_is_active(target):
        return ResultCode.target_account_not_active
    index = 0 if command.asset is _khr else 1
    # Debit rungs (`money.debit`).
    day, outgoing = source.day, source.outgoing
    if source.tier is _institutional:
        if amount > context.policy.institutional_per_transfer[index]:
            return ResultCode.transfer_cap_exceeded
    else:
        if day != context.day:
            day, outgoing = context.day, (0, 0)
        sent = outgoing[index] + amount
        if sent > context.daily_limit(source_id, source.tier, index):
            return ResultCode.daily_limit_exceeded
        outgoing = (sent, outgoing[1]) if index == 0 else (outgoing[0], sent)
    source_balances = source.balances
    remaining = source_balances[index] - amount
    if remaining < 0:
        return ResultCode.insufficient_funds
    # Credit rungs (`money.credit`).
    target_balances = target.balances
    received = target_balances[index] + amount
    if received + target.held[index] > limits.amount_max:
        return ResultCode.balance_overflow
    if target.tier is _basic and received > context.policy.basic_balance_max[index]:
        return ResultCode.balance_cap_exceeded
    if index == 0:
        source_balances = (remaining, source_balances[1])
        target_balances = (received, target_balances[1])
    else:
        source_balances = (source_balances[0], remaining)
        target_balances = (target_balances[0], received)
    view.put(b"a/" + source_id.encode(), _with(source, source_balances, day, outgoing))
    view.put(target_key, _with(target, target_balances, target.day, target.outgoing))
    return _ok


def _with(
    account: Account, balances: tuple[int, int], day: int, outgoing: tuple[int, int]
) -> Account:
    """`account` with new balances and daily totals (a positional build beats `replace`)."""
    return Account(
        account.account_id,
        account.kind,
        account.tier,
        account.status,
        account.signatories,
        account.quorum,
        balances,
        account.held,
        account.holds_pending,
        day,
        outgoing,
    )
