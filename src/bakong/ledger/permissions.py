"""Who may sign which command: the permission matrix, as data in one place (design section 2).

A transaction's creator relates to each command's *subject* in exactly one role:

| role              | creator is ...                                              |
|-------------------|-------------------------------------------------------------|
| own_participant   | the participant whose domain the subject account is in      |
| central_bank      | the central bank, acting on something not in its own domain |
| other_participant | any other participant                                       |
| subject_account   | the subject account itself                                  |
| other_account     | any other account                                           |

The subject of a command is the account it acts on (a transfer's or hold's source, a post's or
void's poster, the account of an alias), or nothing for the central bank's chain-wide commands
(participants, validators, limits, issue and redeem). Precedence: a participant acting on its
own domain is `own_participant` even when it is the central bank.
"""

from __future__ import annotations

import enum

from bakong.ledger.commands import (
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

__all__ = ["PERMISSIONS", "Role", "is_permitted", "role_of"]


class Role(enum.Enum):
    own_participant = "own_participant"
    central_bank = "central_bank"
    other_participant = "other_participant"
    subject_account = "subject_account"
    other_account = "other_account"


_central_bank_only = frozenset({Role.central_bank})
_own_participant = frozenset({Role.own_participant})
_the_account = frozenset({Role.subject_account})

PERMISSIONS: dict[type[Command], frozenset[Role]] = {
    RegisterParticipant: _central_bank_only,
    UpdateParticipant: _central_bank_only,
    AddValidator: _central_bank_only,
    RemoveValidator: _central_bank_only,
    SetLimits: _central_bank_only,
    SetParticipantEndpoint: _central_bank_only,
    Issue: _central_bank_only,
    Redeem: _central_bank_only,
    CreateAccount: _own_participant,
    SetKycTier: _own_participant,
    SetAccountStatus: frozenset({Role.own_participant, Role.central_bank}),  # freezing
    ReplaceSignatories: _own_participant,
    RegisterAlias: _own_participant,
    RemoveAlias: _own_participant,
    SetQuorum: _the_account,
    AddSignatory: _the_account,
    RemoveSignatory: _the_account,
    Transfer: _the_account,
    PlaceHold: _the_account,
    PostHold: _the_account,  # the subject of a post or void is the hold's poster
    VoidHold: _the_account,
}


def role_of(
    creator: str,
    creator_is_participant: bool,
    central_bank: str,
    subject_account: str | None,
) -> Role:
    """The creator's role towards a command whose subject is `subject_account` (or none)."""
    if creator_is_participant:
        if subject_account is not None and subject_account.endswith("@" + creator):
            return Role.own_participant
        if creator == central_bank:
            return Role.central_bank
        return Role.other_participant
    if subject_account is not None and creator == subject_account:
        return Role.subject_account
    return Role.other_account


def is_permitted(command_type: type[Command], role: Role) -> bool:
    return role in PERMISSIONS[command_type]
