"""Catch-up: a node that is behind fetches blocks with their commits from a peer (design
section 4) and verifies each before applying it.

Messages (msgpack, tagged arrays):
- `Status(height)`: every node announces its committed height every `status_interval_ms`;
- `BlockRequest(first_height, count)`: a node behind a peer asks it for the next blocks, one
  request outstanding at a time, sent again after `sync_request_timeout_ms`;
- `BlockResponse(blocks)`: the blocks the peer holds in that range, each with the commit
  (2f+1 precommit signatures) it holds for it.

A received block is applied only if it is exactly the next height and: its commit verifies
against the validator set of that height for that block hash, and then the block itself
passes `valid(v)` without the clock rule (`bakong.node.validity`, rules 1-3, 5-7). A peer
cannot make an honest node apply a block that 2f+1 validators did not sign.
"""

from __future__ import annotations

import msgspec

from bakong.consensus.commit import CommitStatus
from bakong.ledger.commit import Commit
from bakong.ledger.context import SignatureVerifier
from bakong.limits import sync_blocks_max
from bakong.node.validity import Checked, CommitVerifier, Tip, check_block

__all__ = [
    "BlockRequest",
    "BlockResponse",
    "CommittedBlock",
    "Status",
    "SyncMessage",
    "check_committed",
    "decode_sync",
    "encode_sync",
]


class Status(msgspec.Struct, frozen=True, array_like=True, tag="status"):
    height: int


class BlockRequest(msgspec.Struct, frozen=True, array_like=True, tag="request"):
    first_height: int
    count: int


class CommittedBlock(msgspec.Struct, frozen=True, array_like=True):
    block: bytes
    commit: Commit


class BlockResponse(msgspec.Struct, frozen=True, array_like=True, tag="blocks"):
    blocks: tuple[CommittedBlock, ...]


SyncMessage = Status | BlockRequest | BlockResponse

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SyncMessage)


def encode_sync(message: SyncMessage) -> bytes:
    if isinstance(message, BlockResponse):
        assert len(message.blocks) <= sync_blocks_max
    return _encoder.encode(message)


def decode_sync(data: bytes) -> SyncMessage | None:
    """The message, or None for bytes that are not one (a peer's garbage is dropped)."""
    try:
        message: SyncMessage = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if isinstance(message, BlockRequest) and not 0 < message.count <= sync_blocks_max:
        return None
    if isinstance(message, BlockResponse) and len(message.blocks) > sync_blocks_max:
        return None
    return message


def check_committed(
    tip: Tip,
    item: CommittedBlock,
    *,
    verify: SignatureVerifier,
    verify_commit: CommitVerifier,
) -> Checked:
    """The module's rule for a received block: its commit first, then `valid(v)`."""
    commit = item.commit
    if commit.height != tip.height:
        return Checked("commit_height")
    status = verify_commit(commit, tip.validator_set, tip.height, commit.block_hash)
    if status is not CommitStatus.OK:
        return Checked("commit")
    checked = check_block(
        tip, item.block, commit.block_hash, now_ms=None, verify=verify, verify_commit=verify_commit
    )
    assert checked.reason is not None or checked.outcome is not None
    return checked
