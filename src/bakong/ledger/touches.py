"""Which participants a command touches: one definition for the ledger's privacy rung and the
node's visibility filter (design section 3: a participant receives only the payments on which
its users are counterparties).

Rules:
1. Every account field of a command touches the account's participant, as listed per command
   type in `ACCOUNT_FIELDS` (a transfer's source and target; a hold's source, target and
   poster; the account of an issue, a status change, an alias, ...).
2. A participant code field touches that participant (`register_participant`,
   `update_participant`, `set_participant_endpoint`: the participant learns of its own
   registration, key changes and published gateway URL).
3. `post` and `void` name only a hold; they touch the hold's source, target and poster, read
   through the injected `HoldParties` (holds are never deleted and a hold id is never reused,
   so the ledger before the command and a node reading committed state later agree).
4. `remove_alias` names only the alias hash, which only the alias account's own participant
   may remove: it touches the creator's participant (the creator's code, or the participant of
   an account creator, which the permission matrix refuses anyway).
5. Chain-wide commands (`add_validator`, `remove_validator`, `set_limits`) touch nobody.
6. Strings that are not well-formed account IDs or codes touch nobody: the ledger refuses them.
7. A transaction is *unmixed* when every command touches the same participants, the central
   bank left out (it sees everything anyway). The ledger refuses a mixed one
   (`participants_mixed`, `bakong.ledger.ladder` rung 12), so a committed `ok` transaction is
   shown whole to every participant it touches, and a participant is never shown a command
   that does not touch it (`bakong.node.visibility`).

Every command type appears in exactly one table; that is asserted at import.
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
    SetParticipantEndpoint,
    SetQuorum,
    Transfer,
    UpdateParticipant,
    VoidHold,
)
from bakong.ledger.identifiers import is_account_id, is_participant_code, participant_of

__all__ = [
    "ACCOUNT_FIELDS",
    "CHAIN_WIDE",
    "CREATOR_SCOPED",
    "HOLD_FIELDS",
    "PARTICIPANT_FIELDS",
    "HoldParties",
    "command_touches",
    "creator_participant",
    "first_mixed_command",
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
    SetParticipantEndpoint: ("code",),
}
HOLD_FIELDS: dict[type[Command], tuple[str, ...]] = {
    PostHold: ("hold_id",),
    VoidHold: ("hold_id",),
}
CREATOR_SCOPED: frozenset[type[Command]] = frozenset({RemoveAlias})
CHAIN_WIDE: frozenset[type[Command]] = frozenset({AddValidator, RemoveValidator, SetLimits})

_tables = (
    set(ACCOUNT_FIELDS),
    set(PARTICIPANT_FIELDS),
    set(HOLD_FIELDS),
    set(CREATOR_SCOPED),
    set(CHAIN_WIDE),
)
assert set().union(*_tables) == set(COMMAND_TYPES), "every command type has a touch rule"
assert sum(len(table) for table in _tables) == len(COMMAND_TYPES), "and exactly one"


def _account_participant(text: str) -> str | None:
    return participant_of(text) if is_account_id(text) else None


def creator_participant(creator: str) -> str | None:
    """The participant a creator acts for: itself, or its account's participant (rule 4)."""
    if is_participant_code(creator):
        return creator
    return _account_participant(creator)


def command_touches(command: Command, creator: str, hold_parties: HoldParties) -> frozenset[str]:
    """The participant codes `command`, created by `creator`, touches (rules 1-6)."""
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
    if kind in CREATOR_SCOPED:
        found.append(creator_participant(creator))
    return frozenset(code for code in found if code is not None)


def first_mixed_command(
    commands: Sequence[Command], creator: str, central_bank: str, hold_parties: HoldParties
) -> int:
    """The index of the first command that touches other participants than the first one
    does, the central bank left out (rule 7); -1 when the transaction is unmixed."""
    if len(commands) == 1:  # the common case
        return -1
    outside = frozenset({central_bank})
    first = command_touches(commands[0], creator, hold_parties) - outside
    for index in range(1, len(commands)):
        if command_touches(commands[index], creator, hold_parties) - outside != first:
            return index
    return -1
