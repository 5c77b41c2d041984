"""Who may see a transaction: the privacy filter of the API (design section 3).

A participant receives only payments on which its users are counterparties, per command, not
per transaction. Rules:

1. The central bank sees every transaction (the callers of this module check that first).
2. A participant sees a committed transaction when every command of it touches the
   participant (`bakong.ledger.touches`, one definition with the ledger's rung 12), or when it
   is the creator's participant: it wrote the transaction, so nothing in it is news to it.
   The ledger refuses a transaction whose commands touch different participants, so an `ok`
   transaction is shown whole to every participant it touches; a refused mixed one is shown
   only to the participants all of its commands touch, never one command at a time.
3. `post` and `void` touch the parties of their hold, read from committed state by the
   caller's `HoldParties` (holds are never deleted, so the lookup answers for every hold
   that ever existed).
4. The status of a transaction (`GET /v1/transactions/{hash}`) is told to the participants
   that see it by rule 2 once committed, and before that only to the participants that
   submitted it to this node (`Submitters`, bounded: the oldest are forgotten first).
   Anyone else is answered as if the hash were unknown.
"""

from __future__ import annotations

from collections import OrderedDict

from bakong import limits
from bakong.ledger.touches import HoldParties, command_touches, creator_participant
from bakong.ledger.transaction import TransactionPayload

__all__ = ["HoldParties", "Submitters", "viewers"]


def viewers(payload: TransactionPayload, hold_parties: HoldParties) -> frozenset[str]:
    """The participant codes that may see a transaction beside the central bank (rule 2)."""
    creator = payload.creator
    shared: frozenset[str] | None = None
    for command in payload.commands:
        touched = command_touches(command, creator, hold_parties)
        shared = touched if shared is None else shared & touched
    own = creator_participant(creator)
    found = shared or frozenset()
    return found | {own} if own is not None else found


class Submitters:
    """Transaction hash -> the participants that submitted it to this node (rule 4)."""

    def __init__(self, entries_max: int = limits.api_submitters_remembered_max) -> None:
        assert entries_max > 0
        self._entries: OrderedDict[bytes, frozenset[str]] = OrderedDict()
        self._entries_max = entries_max

    def remember(self, tx_hash: bytes, participant: str) -> None:
        known = self._entries.pop(tx_hash, frozenset())
        self._entries[tx_hash] = known | {participant}
        while len(self._entries) > self._entries_max:
            self._entries.popitem(last=False)

    def submitted(self, tx_hash: bytes, participant: str) -> bool:
        return participant in self._entries.get(tx_hash, ())
