"""Which participants a transaction touches: the privacy filter of the API (design section 3).

A participant sees a committed transaction (in its commit stream, in its form of a block)
exactly when the transaction touches it. Rules:

1. The creator touches its participant: a participant code is itself; an account ID
   `name@code` is `code`. A creator that is neither touches nobody (the ledger refused it
   with `creator_invalid` anyway).
2. Every account field of every command touches the account's participant, as listed per
   command type in `ACCOUNT_FIELDS` (a transfer's source and target; a hold's source, target
   and poster; the account of an issue, a status change, an alias, ...).
3. A participant code field touches that participant (`register_participant`,
   `update_participant`: the participant learns of its own registration and key changes).
4. `post` and `void` name only a hold; they touch the hold's source, target and poster, read
   from committed state through the injected `hold_parties` (holds are never deleted, so the
   lookup answers for every hold that ever existed).
5. Chain-wide commands (`add_validator`, `remove_validator`, `set_limits`) name no account and
   touch nobody beyond rule 1: the central bank sees them. `remove_alias` names only the
   alias; rule 1 covers it because only the account's own participant may remove one.

The central bank sees every transaction whatever this module says. Strings that are not
well-formed account IDs or codes touch nobody: they come from outside and the ledger refused
them. Every command type must appear in exactly one table; that is asserted at import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    SetQuorum,
    Transfer,
    UpdateParticipant,
    VoidHold,
)
from bakong.ledger.identifiers import is_account_id, is_participant_code, participant_of
from bakong.ledger.transaction import TransactionPayload

__all__ = [
    "ACCOUNT_FIELDS",
    "CHAIN_WIDE",
    "HOLD_FIELDS",
    "PARTICIPANT_FIELDS",
    "HoldParties",
    "participants_touched",
]

#: hold id -> the accounts the hold names (source, target, poster); empty for an unknown hold.
HoldParties = Callable[[bytes], Sequence[str]]

ACCOUNT_FIELDS: dict[type[Command], tuple[str, ...]] = {
    Issue: ("account",),
    Redeem: ("account",),
    CreateAccount: ("account",),
    SetKycTier: ("account",),
    SetAccountStatus: ("account",),
    ReplaceSignatories: ("account",),
    SetQuorum: ("account",),
    AddSignatory: ("account",),
    RemoveSignatory: ("account",),
    Transfer: ("source", "target"),
    PlaceHold: ("source", "target", "poster"),
    RegisterAlias: ("account",),
}
PARTICIPANT_FIELDS: dict[type[Command], tuple[str, ...]] = {
    RegisterParticipant: ("code",),
    UpdateParticipant: ("code",),
}
HOLD_FIELDS: dict[type[Command], tuple[str, ...]] = {
    PostHold: ("hold_id",),
    VoidHold: ("hold_id",),
}
CHAIN_WIDE: frozenset[type[Command]] = frozenset(
    {AddValidator, RemoveValidator, SetLimits, RemoveAlias}
)

_tables = (set(ACCOUNT_FIELDS), set(PARTICIPANT_FIELDS), set(HOLD_FIELDS), set(CHAIN_WIDE))
assert set().union(*_tables) == set(COMMAND_TYPES), "every command type has a visibility rule"
assert sum(len(table) for table in _tables) == len(COMMAND_TYPES), "and exactly one"


def _account_participant(text: str) -> str | None:
    return participant_of(text) if is_account_id(text) else None


def _creator_participant(creator: str) -> str | None:
    if is_participant_code(creator):
        return creator
    return _account_participant(creator)


def _command_participants(command: Command, hold_parties: HoldParties) -> list[str | None]:
    kind = type(command)
    found: list[str | None] = []
    for name in ACCOUNT_FIELDS.get(kind, ()):
        found.append(_account_participant(getattr(command, name)))
    for name in PARTICIPANT_FIELDS.get(kind, ()):
        code = getattr(command, name)
        found.append(code if is_participant_code(code) else None)
    for name in HOLD_FIELDS.get(kind, ()):
        parties = hold_parties(getattr(command, name))
        found.extend(_account_participant(account) for account in parties)
    return found


def participants_touched(payload: TransactionPayload, hold_parties: HoldParties) -> frozenset[str]:
    """The participant codes a transaction touches (module rules 1-5)."""
    found: list[str | None] = [_creator_participant(payload.creator)]
    for command in payload.commands:
        found.extend(_command_participants(command, hold_parties))
    return frozenset(code for code in found if code is not None)
