"""Moving money: transfer, issue and redeem, and the debit/credit rules they share.

Transfer rungs, in order: `permission_denied`, `amount_must_be_positive`,
`accounts_must_be_different`, `source_account_not_found`, `target_account_not_found`,
`target_account_not_active`, then the direction rungs (`transfer_direction`):
`source_participant_receive_only`, `target_participant_send_only`; then debit, then credit.

Direction: a `send_only` participant's accounts may pay but not be paid, a `receive_only`
one's be paid but not pay, in transfers and holds alike. Issue and redeem are the central
bank's liquidity operations, not payments: they ignore direction, so a send-only participant
can still be issued to and a receive-only one redeemed from.

Debit rungs, in order: institutional accounts have a per-transfer cap
(`transfer_cap_exceeded`); other accounts a per-day outgoing limit by KYC tier, lowered by any
participant cap (`daily_limit_exceeded`); then `insufficient_funds`. Credit rungs:
`balance_overflow`, then the tier-0 balance cap (`balance_cap_exceeded`).
"""

from __future__ import annotations

from msgspec.structs import replace

from bakong import limits
from bakong.ledger.assets import pair_add
from bakong.ledger.commands import Issue, Redeem, Transfer
from bakong.ledger.context import Context, Creator
from bakong.ledger.permissions import PERMISSIONS, Role, role_of
from bakong.ledger.records import Account, AccountKind, KycTier, ParticipantStatus, Supply
from bakong.ledger.result import ResultCode
from bakong.ledger.state import SUPPLY_KEY, account_key

__all__ = [
    "credit",
    "debit",
    "issue",
    "permitted",
    "redeem",
    "transfer",
    "transfer_direction",
    "transfer_terms",
]

_send_only = ParticipantStatus.send_only  # module constants: an Enum attribute is a slow lookup
_receive_only = ParticipantStatus.receive_only


def permitted(
    context: Context, creator: Creator, command_type: type, subject_account: str | None
) -> bool:
    if not creator.is_participant:  # the common case, decided without string work
        role = Role.subject_account if creator.creator_id == subject_account else Role.other_account
        return role in PERMISSIONS[command_type]
    role = role_of(
        creator.creator_id, creator.is_participant, context.central_bank, subject_account
    )
    return role in PERMISSIONS[command_type]


def debit(
    context: Context, account: Account, index: int, amount: int
) -> tuple[ResultCode, Account]:
    """Take `amount` from `account`'s available balance, enforcing caps and limits."""
    assert amount > 0
    day, outgoing = account.day, account.outgoing
    if account.tier is KycTier.institutional:
        if amount > context.policy.institutional_per_transfer[index]:
            return ResultCode.transfer_cap_exceeded, account
    else:
        if day != context.day:
            day, outgoing = context.day, (0, 0)
        limit = context.daily_limit(account.account_id, account.tier, index)
        if outgoing[index] + amount > limit:
            return ResultCode.daily_limit_exceeded, account
        outgoing = pair_add(outgoing, index, amount)
    balance = account.balances[index]
    if balance < amount:
        return ResultCode.insufficient_funds, account
    balances = pair_add(account.balances, index, -amount)
    return ResultCode.ok, replace(account, balances=balances, day=day, outgoing=outgoing)


def credit(
    context: Context, account: Account, index: int, amount: int
) -> tuple[ResultCode, Account]:
    """Add `amount` to `account`'s available balance, enforcing the tier-0 balance cap."""
    assert amount > 0
    balance = account.balances[index] + amount
    if balance + account.held[index] > limits.amount_max:
        return ResultCode.balance_overflow, account
    if account.tier is KycTier.basic and balance > context.policy.basic_balance_max[index]:
        return ResultCode.balance_cap_exceeded, account
    balances = pair_add(account.balances, index, amount)
    return ResultCode.ok, replace(account, balances=balances)


def transfer_terms(command: Transfer) -> ResultCode:
    """The transfer's rungs that read no state: a positive amount between two accounts."""
    if command.amount <= 0:
        return ResultCode.amount_must_be_positive
    if command.source == command.target:
        return ResultCode.accounts_must_be_different
    return ResultCode.ok


def transfer_direction(context: Context, source_id: str, target_id: str) -> ResultCode:
    """The direction rungs of a transfer or a hold, between two existing accounts."""
    if context.account_participant_status(source_id) is _receive_only:
        return ResultCode.source_participant_receive_only
    if context.account_participant_status(target_id) is _send_only:
        return ResultCode.target_participant_send_only
    return ResultCode.ok


def transfer(context: Context, command: Transfer, creator: Creator) -> ResultCode:
    if not permitted(context, creator, Transfer, command.source):
        return ResultCode.permission_denied
    code = transfer_terms(command)
    if code is not ResultCode.ok:
        return code
    source = context.account(command.source)
    if source is None:
        return ResultCode.source_account_not_found
    target = context.account(command.target)
    if target is None:
        return ResultCode.target_account_not_found
    # The source is the creator (the permission rung), which rung 7 found active.
    if not context.account_is_active(target):
        return ResultCode.target_account_not_active
    code = transfer_direction(context, command.source, command.target)
    if code is not ResultCode.ok:
        return code
    index = command.asset.index
    code, source = debit(context, source, index, command.amount)
    if code is not ResultCode.ok:
        return code
    code, target = credit(context, target, index, command.amount)
    if code is not ResultCode.ok:
        return code
    context.view.write(account_key(command.source), source)
    context.view.write(account_key(command.target), target)
    return ResultCode.ok


def _reserve_account(context: Context, account_id: str) -> tuple[ResultCode, Account | None]:
    """Issue and redeem act on settlement accounts (and the central bank's treasury)."""
    account = context.account(account_id)
    if account is None:
        return ResultCode.account_not_found, None
    if account.kind not in (AccountKind.settlement, AccountKind.treasury):
        return ResultCode.account_kind_mismatch, None
    if not context.account_is_active(account):
        return ResultCode.target_account_not_active, None
    return ResultCode.ok, account


def _supply(context: Context) -> Supply:
    supply: Supply = context.view.read(SUPPLY_KEY)
    assert supply is not None, "genesis writes the supply record"
    return supply


def issue(context: Context, command: Issue, creator: Creator) -> ResultCode:
    if not permitted(context, creator, Issue, None):
        return ResultCode.permission_denied
    if command.amount <= 0:
        return ResultCode.amount_must_be_positive
    code, account = _reserve_account(context, command.account)
    if account is None:
        return code
    index = command.asset.index
    supply = _supply(context)
    issued = supply.issued[index] + command.amount
    if issued > limits.amount_max:
        return ResultCode.supply_overflow
    balance = account.balances[index] + command.amount
    if balance + account.held[index] > limits.amount_max:
        return ResultCode.balance_overflow
    account = replace(account, balances=pair_add(account.balances, index, command.amount))
    context.view.write(account_key(command.account), account)
    issued_pair = pair_add(supply.issued, index, command.amount)
    context.view.write(SUPPLY_KEY, replace(supply, issued=issued_pair))
    return ResultCode.ok


def redeem(context: Context, command: Redeem, creator: Creator) -> ResultCode:
    if not permitted(context, creator, Redeem, None):
        return ResultCode.permission_denied
    if command.amount <= 0:
        return ResultCode.amount_must_be_positive
    code, account = _reserve_account(context, command.account)
    if account is None:
        return code
    index = command.asset.index
    balance = account.balances[index]
    if balance < command.amount:
        return ResultCode.insufficient_funds
    supply = _supply(context)
    account = replace(account, balances=pair_add(account.balances, index, -command.amount))
    context.view.write(account_key(command.account), account)
    redeemed = pair_add(supply.redeemed, index, command.amount)
    context.view.write(SUPPLY_KEY, replace(supply, redeemed=redeemed))
    return ResultCode.ok
