"""A decided block's commit: 2f+1 precommit signatures (L49), built and verified.

`bakong.ledger.commit.Commit(height, round, block_hash, signatures)` carries, per validator,
its signature over `VoteBody(PRECOMMIT, height, round, block_hash)` under `Domain.VOTE`
(`bakong.consensus.messages`, rule 3). The driver builds a commit from the precommits that
made its decision; catch-up and light clients check one with `verify_commit`.

`verify_commit` is a flat ladder of checks in this fixed order; the first failure is the
answer, and signatures, the expensive part, are verified last:

1. `malformed`: height or round out of range, a block hash that is not 32 bytes, more
   signatures than validators, a key or signature of the wrong length.
2. `height_mismatch`, `block_hash_mismatch`: the caller expected another block.
3. `duplicate_signer`, then `signatures_unsorted`: keys strictly increasing, each once.
4. `unknown_validator`: every signer is in the validator set for that height.
5. `insufficient_power`: the signers hold more than two thirds of the total power.
6. `signature_invalid`: every signature verifies (one bad one fails the whole commit).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from bakong import limits
from bakong.consensus.messages import Vote as SignedVote
from bakong.consensus.messages import VoteBody, VoteType, value_id_size, vote_sign_bytes
from bakong.consensus.vote_keeper import has_quorum
from bakong.ledger.commit import Commit, CommitSignature
from bakong.ledger.validators import ValidatorSet
from bakong.wire.keys import public_key_size, signature_size, verify

__all__ = ["CommitStatus", "build_commit", "verify_commit"]


class CommitStatus(enum.Enum):
    OK = "ok"
    MALFORMED = "malformed"
    HEIGHT_MISMATCH = "height_mismatch"
    BLOCK_HASH_MISMATCH = "block_hash_mismatch"
    DUPLICATE_SIGNER = "duplicate_signer"
    SIGNATURES_UNSORTED = "signatures_unsorted"
    UNKNOWN_VALIDATOR = "unknown_validator"
    INSUFFICIENT_POWER = "insufficient_power"
    SIGNATURE_INVALID = "signature_invalid"


def build_commit(
    height: int, round: int, block_hash: bytes, precommits: Sequence[SignedVote]
) -> Commit:
    """The commit made of `precommits` for (height, round, block_hash), sorted by key."""
    assert len(block_hash) == value_id_size
    body = VoteBody(VoteType.PRECOMMIT, height, round, block_hash)
    assert all(vote.body == body for vote in precommits), "precommits for another value"
    ordered = sorted(precommits, key=lambda vote: vote.validator)
    signatures = tuple(CommitSignature(vote.validator, vote.signature) for vote in ordered)
    assert all(a.validator < b.validator for a, b in zip(signatures, signatures[1:], strict=False))
    return Commit(height, round, block_hash, signatures)


def verify_commit(
    chain_id: str,
    commit: Commit,
    validator_set: ValidatorSet,
    *,
    height: int | None = None,
    block_hash: bytes | None = None,
) -> CommitStatus:
    """Check `commit` against the validator set of its height (module ladder)."""
    assert validator_set.total_power > 0
    if _is_malformed(commit, validator_set):
        return CommitStatus.MALFORMED
    if height is not None and commit.height != height:
        return CommitStatus.HEIGHT_MISMATCH
    if block_hash is not None and commit.block_hash != block_hash:
        return CommitStatus.BLOCK_HASH_MISMATCH
    keys = [signature.validator for signature in commit.signatures]
    if len(set(keys)) != len(keys):
        return CommitStatus.DUPLICATE_SIGNER
    if keys != sorted(keys):
        return CommitStatus.SIGNATURES_UNSORTED
    powers = [validator_set.power_of(key) for key in keys]
    if 0 in powers:
        return CommitStatus.UNKNOWN_VALIDATOR
    if not has_quorum(sum(powers), validator_set.total_power):
        return CommitStatus.INSUFFICIENT_POWER
    body = VoteBody(VoteType.PRECOMMIT, commit.height, commit.round, commit.block_hash)
    message = vote_sign_bytes(chain_id, body)
    for signature in commit.signatures:
        if not verify(signature.validator, message, signature.signature):
            return CommitStatus.SIGNATURE_INVALID
    assert 0 < len(keys) <= len(validator_set.validators)
    return CommitStatus.OK


def _is_malformed(commit: Commit, validator_set: ValidatorSet) -> bool:
    return (
        not 0 <= commit.height <= limits.height_max
        or not 0 <= commit.round <= limits.round_max
        or len(commit.block_hash) != value_id_size
        or len(commit.signatures) > len(validator_set.validators)
        or any(len(s.validator) != public_key_size for s in commit.signatures)
        or any(len(s.signature) != signature_size for s in commit.signatures)
    )
