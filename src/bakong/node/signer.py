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

A validator whose record is lost with its store does not know what it signed. `bakong node
restore` therefore records a horizon beside the new store's empty guard: the height the network
had reached (the restoring peer's committed height + 1), at or below which the lost incarnation
may have signed. Up to the horizon the host proposes nothing and signs every vote for a block
as a vote for nil instead (`amnesiac_vote`). A nil vote never counts toward a block's polka or
commit, so whatever the lost incarnation signed, nothing the new one signs can help a second
block to a quorum; and nil votes still let the rounds advance, so the others decide the height
when they hold more than two thirds of the power without it. If more than a third of the power
lost its records at a height not yet decided, that height stalls: no software can know whether
their block votes would be safe (safety before liveness).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec

from bakong.consensus.messages import VoteBody

__all__ = ["SignStep", "SignedStep", "amnesiac_vote", "may_sign"]


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


def amnesiac_vote(body: VoteBody, horizon: int) -> VoteBody:
    """The vote to sign instead of `body`: nil at or below the horizon (module docstring)."""
    if body.height > horizon or body.value_id is None:
        return body
    return msgspec.structs.replace(body, value_id=None)
