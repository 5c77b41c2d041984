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
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["SignStep", "SignedStep", "may_sign"]


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
