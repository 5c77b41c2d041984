"""The double-sign guard: the last signed (height, round, step), checked before every signature.

Design section 4: a node never signs two different messages for one height, round and step.
The driver asserts this within one run of a height; across a crash the host enforces it with
this record, persisted and synced to disk before the signed message leaves the process.

Steps are ordered PROPOSE < PREVOTE < PRECOMMIT within a round (as in Tendermint's private
validator). `may_sign(last, next)` allows a signature when
1. nothing was signed yet, or
2. (height, round, step) is strictly after the last signed one, or
3. it is the same (height, round, step) and the very same bytes (re-signing is harmless:
   Ed25519 is deterministic, so the signature is identical).
Anything else, an earlier step or a different message for the same step, is refused.

A validator whose store is lost loses this record with it, and rejoins with `bakong node
restore`, whose new store cannot know what the key signed before. That store's guard starts
with an open horizon (`Horizon`) at the snapshot's carrier + 1: up to the horizon's height
the host proposes nothing and signs every vote for a block as a vote for nil
(`amnesiac_vote`). While it is open, every block the node commits by catch-up (verified: more
than two thirds of the power signed it) moves the horizon to the next height, so that it
covers the height the network had reached, the highest the lost record can hold. The first
height the node decides by consensus at or above the horizon closes it, for good: the network
has moved past every height the lost record could hold. A store created from genesis starts
with a closed horizon at 0: that is how a new network starts, and a validator that lost its
store must not rejoin that way (an empty store cannot tell the two apart).

A nil vote never counts toward a block's polka or commit, so whatever the lost record held,
nothing the new store signs can help a second block to a quorum at those heights; nil votes
still move the rounds on, so the others decide the height when they hold more than two thirds
of the power without this node. If more than a third of the power lost its stores at a height
not yet decided, that height stalls: no software can know whether their block votes would be
safe (safety before liveness). So does it while this node and validators holding a third of
the power are both missing from it (down, or Byzantine): the node counts for no block there
until the others decide it. A horizon on rounds as well as heights, from the rounds its peers
are seen at, would lift that; it is not built.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec

from bakong.consensus.messages import VoteBody

__all__ = ["Horizon", "SignStep", "SignedStep", "amnesiac_vote", "may_sign"]


class SignStep(enum.IntEnum):
    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


@dataclass(frozen=True, slots=True)
class SignedStep:
    height: int
    round: int
    step: SignStep
    sign_bytes: bytes  # exactly what the signature covers

    @property
    def position(self) -> tuple[int, int, int]:
        return (self.height, self.round, int(self.step))


def may_sign(last: SignedStep | None, step: SignedStep) -> bool:
    """The module's three rules."""
    assert step.height >= 1
    assert step.round >= 0
    if last is None or step.position > last.position:
        return True
    return step.position == last.position and step.sign_bytes == last.sign_bytes


@dataclass(frozen=True, slots=True)
class Horizon:
    """Up to `height`, no proposals and only nil votes; `open`: still following catch-up."""

    height: int = 0
    open: bool = False

    def caught_up(self, height: int) -> Horizon:
        """After catch-up committed `height`."""
        if not self.open or height < self.height:
            return self
        return Horizon(height + 1, True)

    def decided(self, height: int) -> Horizon:
        """After the node decided `height` by consensus."""
        if not self.open or height < self.height:
            return self
        return Horizon(self.height, False)


def amnesiac_vote(body: VoteBody, horizon: Horizon) -> VoteBody:
    """The vote to sign instead of `body`: nil up to the horizon (module docstring)."""
    if body.height > horizon.height or body.value_id is None:
        return body
    return msgspec.structs.replace(body, value_id=None)
