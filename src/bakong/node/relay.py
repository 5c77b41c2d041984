"""Relaying: the proposals and votes of a height, kept to be sent again (host rule 6).

Algorithm 1 assumes that what one correct process receives every correct process eventually
receives; links lose messages and peers restart, so a node whose height is taking long sends
what it holds again, to one peer at a time.

Rules:
1. Each signed message is kept once per round, our own and others' alike, at most
   `per_round_max` per round (the first ones: a flood cannot grow the memory).
2. `relay` sends, to one peer, every kept message of the rounds a peer may still need: the
   current and previous round, the locked and valid rounds, and the proof-of-lock rounds of
   the current round's proposals. Rounds go in increasing order, messages in arrival order.
3. What is kept belongs to one height: the host empties it when it begins the next.
"""

from __future__ import annotations

from collections.abc import Callable

from bakong.consensus.driver import Driver
from bakong.node.envelope import MessageKind

__all__ = ["Relays"]

#: send(kind, message) to the chosen peer.
Send = Callable[[MessageKind, bytes], None]


class Relays:
    """The kept messages of the current height (module rules)."""

    def __init__(self, per_round_max: int) -> None:
        assert per_round_max > 0
        self.per_round_max = per_round_max
        self._rounds: dict[int, dict[bytes, MessageKind]] = {}

    def holds(self, round: int, data: bytes) -> bool:
        return data in self._rounds.get(round, {})

    def keep(self, kind: MessageKind, round: int, data: bytes) -> None:
        kept = self._rounds.setdefault(round, {})
        if len(kept) < self.per_round_max:
            kept[data] = kind

    def clear(self) -> None:
        self._rounds = {}

    def relay(self, driver: Driver, send: Send) -> None:
        """Rule 2, for the height `driver` is deciding."""
        state = driver.state
        rounds = {driver.round, driver.round - 1, state.valid_round, state.locked_round}
        rounds.update(proposal.pol_round for proposal, _ in driver.proposals(driver.round))
        for round in sorted(rounds):
            for data, kind in self._rounds.get(round, {}).items():
                send(kind, data)
