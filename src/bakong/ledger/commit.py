"""A block's commit: the 2f+1 precommit signatures that finalised it (design section 2).

The commit of block h travels in the header of block h + 1 and beside block h in the block
store and the commit stream. What a signature covers (the precommit vote's canonical bytes
under the `vote` domain) is defined by `bakong.consensus`, which also verifies commits against a
validator set; the ledger only carries them.
"""

from __future__ import annotations

from bakong.wire.codec import Record

__all__ = ["Commit", "CommitSignature"]


class CommitSignature(Record, frozen=True):
    validator: bytes  # the validator's Ed25519 public key
    signature: bytes  # over the precommit for (height, round, block_hash)


class Commit(Record, frozen=True):
    height: int
    round: int
    block_hash: bytes
    signatures: tuple[CommitSignature, ...]  # sorted by validator key, one per validator
