"""Executing one transaction: the envelope ladder, then each command's handler, all-or-nothing.

The dispatch table maps each command type to its handler; every handler returns a result code
and writes only through the state view, so a rejection rolls back every command before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bakong.ledger import accounts, aliases, governance, holds, money
from bakong.ledger.commands import (
    COMMAND_TYPES,
    AddSignatory,
    AddValidator,
    Command,
    CreateAccount,
    Issue,
    PlaceHold,
    PostHold,
    Redeem,
    RegisterAlias,
    RegisterParticipant,
    RemoveAlias,
    RemoveSignatory,
    RemoveValidator,
    ReplaceSignatories,
    SetAccountStatus,
    SetKycTier,
    SetLimits,
    SetParticipantEndpoint,
    SetQuorum,
    Transfer,
    UpdateParticipant,
    VoidHold,
)
from bakong.ledger.context import Context, Creator
from bakong.ledger.ladder import check_envelope, mixed_command_index
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction

__all__ = ["HANDLERS", "execute_transaction"]

Handler = Callable[[Context, Any, Creator], ResultCode]

HANDLERS: dict[type[Command], Handler] = {
    RegisterParticipant: governance.register_participant,
    UpdateParticipant: governance.update_participant,
    AddValidator: governance.add_validator,
    RemoveValidator: governance.remove_validator,
    SetLimits: governance.set_limits,
    Issue: money.issue,
    Redeem: money.redeem,
    CreateAccount: accounts.create_account,
    SetKycTier: accounts.set_kyc_tier,
    SetAccountStatus: accounts.set_account_status,
    ReplaceSignatories: accounts.replace_signatories,
    SetQuorum: accounts.set_quorum,
    AddSignatory: accounts.add_signatory,
    RemoveSignatory: accounts.remove_signatory,
    Transfer: money.transfer,
    PlaceHold: holds.place_hold,
    PostHold: holds.post_hold,
    VoidHold: holds.void_hold,
    RegisterAlias: aliases.register_alias,
    RemoveAlias: aliases.remove_alias,
    SetParticipantEndpoint: governance.set_participant_endpoint,
}
assert set(HANDLERS) == set(COMMAND_TYPES), "every command has exactly one handler"


def execute_transaction(
    context: Context, transaction: Transaction, tx_hash: bytes
) -> tuple[ResultCode, int, bool]:
    """Apply `transaction` atomically.

    Returns (code, index of the failing command or -1, whether the transaction is authentic
    and so now remembered in the replay window).
    """
    view = context.view
    code, creator = check_envelope(context, transaction, tx_hash)
    if creator is None:
        assert code is not ResultCode.ok
        view.rollback_transaction()
        return code, -1, False
    failed_index = mixed_command_index(context, transaction.payload)
    if failed_index >= 0:
        code = ResultCode.participants_mixed
    else:
        for index, command in enumerate(transaction.payload.commands):
            code = HANDLERS[type(command)](context, command, creator)
            if code is not ResultCode.ok:
                failed_index = index
                break
    if code is not ResultCode.ok:
        view.rollback_transaction()
    view.commit_transaction()
    context.seen_in_block[tx_hash] = int(code)
    return code, failed_index, True
