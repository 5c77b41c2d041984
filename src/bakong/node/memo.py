"""Memoised pure functions shared by the nodes of one run (simulator rule 3).

Every node of a real network decodes and verifies each message it receives. In one process
that is the same pure computation N times over: decoding a vote is a function of its bytes,
verifying a commit a function of the commit and the set. The memo runs the real function
(`decode_vote`, `decode_proposal`, `verify_commit`, and Ed25519 through
`VerifiedSignatures`) once per distinct input and answers the same thing afterwards, so the
simulator spends its time on consensus and the ledger rather than on repeated signature
checks. Each table is bounded: when full it is emptied (a miss only costs a recomputation).
"""

from __future__ import annotations

from typing import TypeVar

from bakong import limits
from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.consensus.messages import Proposal, Vote, decode_proposal, decode_vote
from bakong.errors import RemoteError
from bakong.ledger.commit import Commit
from bakong.ledger.validators import ValidatorSet
from bakong.wire.codec import encode
from bakong.wire.keys import VerifiedSignatures

__all__ = ["Memo"]

_K = TypeVar("_K")
_V = TypeVar("_V")


class Memo:
    """The run's memo tables (module docstring)."""

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self.signatures = VerifiedSignatures(entries_max=limits.memo_entries_max)
        self._votes: dict[bytes, Vote | None] = {}
        self._proposals: dict[bytes, Proposal | None] = {}
        self._commits: dict[tuple[bytes, bytes, int, bytes], CommitStatus] = {}
        self._set_bytes: dict[int, tuple[ValidatorSet, bytes]] = {}

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """The ledger's signature verifier (a `SignatureVerifier`)."""
        return self.signatures.verify(public_key, message, signature)

    def vote(self, data: bytes) -> Vote | None:
        """`decode_vote`, or None where it raises."""
        if data in self._votes:
            return self._votes[data]
        try:
            vote: Vote | None = decode_vote(self.chain_id, data)
        except RemoteError:  # DecodeError is a RemoteError
            vote = None
        _bounded(self._votes)[data] = vote
        return vote

    def proposal(self, data: bytes) -> Proposal | None:
        """`decode_proposal`, or None where it raises."""
        if data in self._proposals:
            return self._proposals[data]
        try:
            proposal: Proposal | None = decode_proposal(self.chain_id, data)
        except RemoteError:
            proposal = None
        _bounded(self._proposals)[data] = proposal
        return proposal

    def commit_status(
        self, commit: Commit, validator_set: ValidatorSet, height: int, block_hash: bytes
    ) -> CommitStatus:
        """`verify_commit(chain_id, commit, validator_set, height=, block_hash=)`."""
        key = (encode(commit), self._encoded_set(validator_set), height, block_hash)
        status = self._commits.get(key)
        if status is None:
            status = verify_commit(
                self.chain_id, commit, validator_set, height=height, block_hash=block_hash
            )
            _bounded(self._commits)[key] = status
        return status

    def _encoded_set(self, validator_set: ValidatorSet) -> bytes:
        cached = self._set_bytes.get(id(validator_set))
        if cached is not None and cached[0] is validator_set:
            return cached[1]
        data = encode(validator_set)
        _bounded(self._set_bytes)[id(validator_set)] = (validator_set, data)
        return data


def _bounded(table: dict[_K, _V]) -> dict[_K, _V]:
    if len(table) >= limits.memo_entries_max:
        table.clear()
    return table
