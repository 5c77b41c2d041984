"""Account lifecycle: create, KYC tier, status (freeze, close), signatories and quorum.

Rules:
- A participant creates accounts only in its own domain, of kinds personal, merchant, agent
  or link. Settlement accounts come with `register_participant`, the treasury with genesis.
- Institutional kinds (settlement, link, treasury) have the `institutional` tier and keep it;
  the others have tiers basic, partial or full.
- Closing needs zero balances and no pending holds, and is final. Settlement and treasury
  accounts cannot be closed. The central bank may freeze and unfreeze any account.
- Signatories are distinct Ed25519 keys, at most `signatories_max`, kept sorted;
  1 <= quorum <= number of signatories.
"""

from __future__ import annotations

from msgspec.structs import replace

from bakong import limits
from bakong.ledger.commands import (
    AddSignatory,
    CreateAccount,
    RemoveSignatory,
    ReplaceSignatories,
    SetAccountStatus,
    SetKycTier,
    SetQuorum,
)
from bakong.ledger.context import Context, Creator
from bakong.ledger.identifiers import is_account_id
from bakong.ledger.money import permitted
from bakong.ledger.records import (
    INSTITUTIONAL_KINDS,
    Account,
    AccountKind,
    AccountStatus,
    KycTier,
)
from bakong.ledger.result import ResultCode
from bakong.ledger.state import account_key

__all__ = [
    "add_signatory",
    "check_signatories",
    "create_account",
    "new_account",
    "remove_signatory",
    "replace_signatories",
    "set_account_status",
    "set_kyc_tier",
    "set_quorum",
]

_creatable_kinds = frozenset(
    {AccountKind.personal, AccountKind.merchant, AccountKind.agent, AccountKind.link}
)


def check_signatories(signatories: tuple[bytes, ...], quorum: int) -> ResultCode:
    if not signatories:
        return ResultCode.signatories_empty
    if len(signatories) > limits.signatories_max:
        return ResultCode.signatories_limit_exceeded
    if len(set(signatories)) != len(signatories):
        return ResultCode.signatories_duplicate
    if not 1 <= quorum <= len(signatories):
        return ResultCode.quorum_invalid
    return ResultCode.ok


def _tier_fits_kind(kind: AccountKind, tier: KycTier) -> bool:
    return (tier is KycTier.institutional) == (kind in INSTITUTIONAL_KINDS)


def new_account(
    account_id: str,
    kind: AccountKind,
    tier: KycTier,
    signatories: tuple[bytes, ...],
    quorum: int,
) -> Account:
    assert is_account_id(account_id), account_id
    assert _tier_fits_kind(kind, tier)
    return Account(
        account_id=account_id,
        kind=kind,
        tier=tier,
        status=AccountStatus.active,
        signatories=tuple(sorted(signatories)),
        quorum=quorum,
        balances=(0, 0),
        held=(0, 0),
        holds_pending=0,
        day=0,
        outgoing=(0, 0),
    )


def create_account(context: Context, command: CreateAccount, creator: Creator) -> ResultCode:
    if not is_account_id(command.account):
        return ResultCode.account_id_invalid
    if not permitted(context, creator, CreateAccount, command.account):
        return ResultCode.permission_denied
    if context.account(command.account) is not None:
        return ResultCode.account_exists
    if command.kind not in _creatable_kinds:
        return ResultCode.account_kind_not_creatable
    if not _tier_fits_kind(command.kind, command.tier):
        return ResultCode.kyc_tier_invalid
    code = check_signatories(command.signatories, command.quorum)
    if code is not ResultCode.ok:
        return code
    account = new_account(
        command.account, command.kind, command.tier, command.signatories, command.quorum
    )
    context.view.write(account_key(command.account), account)
    return ResultCode.ok


def _existing(
    context: Context, creator: Creator, command_type: type, account_id: str
) -> tuple[ResultCode, Account | None]:
    """The format, permission, existence and not-closed rungs shared by account commands."""
    if not is_account_id(account_id):
        return ResultCode.account_id_invalid, None
    if not permitted(context, creator, command_type, account_id):
        return ResultCode.permission_denied, None
    account = context.account(account_id)
    if account is None:
        return ResultCode.account_not_found, None
    if account.status is AccountStatus.closed:
        return ResultCode.account_closed, None
    return ResultCode.ok, account


def set_kyc_tier(context: Context, command: SetKycTier, creator: Creator) -> ResultCode:
    code, account = _existing(context, creator, SetKycTier, command.account)
    if account is None:
        return code
    if not _tier_fits_kind(account.kind, command.tier):
        return ResultCode.kyc_tier_invalid
    context.view.write(account_key(account.account_id), replace(account, tier=command.tier))
    return ResultCode.ok


def set_account_status(context: Context, command: SetAccountStatus, creator: Creator) -> ResultCode:
    code, account = _existing(context, creator, SetAccountStatus, command.account)
    if account is None:
        return code
    if command.status is account.status:
        return ResultCode.status_unchanged
    if command.status is AccountStatus.closed:
        if account.kind in (AccountKind.settlement, AccountKind.treasury):
            return ResultCode.account_kind_not_closable
        if account.balances != (0, 0) or account.held != (0, 0) or account.holds_pending:
            return ResultCode.account_not_empty
    updated = replace(account, status=command.status)
    context.view.write(account_key(account.account_id), updated)
    return ResultCode.ok


def replace_signatories(
    context: Context, command: ReplaceSignatories, creator: Creator
) -> ResultCode:
    code, account = _existing(context, creator, ReplaceSignatories, command.account)
    if account is None:
        return code
    code = check_signatories(command.signatories, command.quorum)
    if code is not ResultCode.ok:
        return code
    updated = replace(
        account, signatories=tuple(sorted(command.signatories)), quorum=command.quorum
    )
    context.view.write(account_key(account.account_id), updated)
    return ResultCode.ok


def set_quorum(context: Context, command: SetQuorum, creator: Creator) -> ResultCode:
    code, account = _existing(context, creator, SetQuorum, command.account)
    if account is None:
        return code
    if not 1 <= command.quorum <= len(account.signatories):
        return ResultCode.quorum_invalid
    context.view.write(account_key(account.account_id), replace(account, quorum=command.quorum))
    return ResultCode.ok


def add_signatory(context: Context, command: AddSignatory, creator: Creator) -> ResultCode:
    code, account = _existing(context, creator, AddSignatory, command.account)
    if account is None:
        return code
    if command.public_key in account.signatories:
        return ResultCode.signatory_exists
    if len(account.signatories) >= limits.signatories_max:
        return ResultCode.signatories_limit_exceeded
    signatories = tuple(sorted((*account.signatories, command.public_key)))
    context.view.write(account_key(account.account_id), replace(account, signatories=signatories))
    return ResultCode.ok


def remove_signatory(context: Context, command: RemoveSignatory, creator: Creator) -> ResultCode:
    code, account = _existing(context, creator, RemoveSignatory, command.account)
    if account is None:
        return code
    if command.public_key not in account.signatories:
        return ResultCode.signatory_not_found
    signatories = tuple(key for key in account.signatories if key != command.public_key)
    if len(signatories) < account.quorum:
        return ResultCode.quorum_invalid
    context.view.write(account_key(account.account_id), replace(account, signatories=signatories))
    return ResultCode.ok
