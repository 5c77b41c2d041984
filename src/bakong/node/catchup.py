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
cannot make an honest node apply a block that 2f+1 validators did not sign. A block applied
here moves an open horizon of the guard on (`bakong.node.signer`).

`CatchUp` is both sides for one node, above its host (it reads the host's tip and hands it
verified blocks through `Host.commit_block`; the host never calls it):
- client: on a peer's `Status` above our height while our height is stalled (it has taken a
  status interval, or is held back), or when the replica sees a consensus message two or
  more heights ahead, ask that peer; a full response is followed by the next request; the
  first block that does not check out ends the response (`refused_block`);
- server: answer a request with the blocks we hold from its first height on (a store
  restored from a snapshot holds none below the snapshot).
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from bakong.consensus.commit import CommitStatus
from bakong.ledger.commit import Commit
from bakong.ledger.context import SignatureVerifier
from bakong.limits import sync_blocks_max
from bakong.node.envelope import MessageKind
from bakong.node.host import Host
from bakong.node.validity import Checked, CommitVerifier, Tip, check_block

__all__ = [
    "BlockRequest",
    "BlockResponse",
    "CatchUp",
    "CatchUpIO",
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


class CatchUpIO(Protocol):
    """What catch-up needs of the node's I/O. Peers are named by their public keys."""

    def now_ms(self) -> int:
        """The host's monotonic clock, ms."""
        ...

    def broadcast(self, kind: MessageKind, data: bytes) -> None: ...

    def send(self, peer: bytes, kind: MessageKind, data: bytes) -> None: ...

    def refused_block(self, height: int, reason: str | None) -> None: ...


class CatchUp:
    """Catch-up client and server of one node (module docstring)."""

    def __init__(self, host: Host, io: CatchUpIO) -> None:
        self.host = host
        self.io = io
        self.request: tuple[bytes, int] | None = None  # (peer, when sent)

    @property
    def catching_up(self) -> bool:
        return self.request is not None

    def announce(self) -> None:
        """Our committed height, to every peer (every status interval)."""
        self.io.broadcast(MessageKind.SYNC, encode_sync(Status(self.host.height)))

    def receive(self, source: bytes, message: SyncMessage) -> None:
        host = self.host
        match message:
            case Status(height=height):
                stalled = host.waited_ms() >= host.limits.status_interval_ms or host.waiting
                if height > host.height and stalled:
                    self.ask(source)
            case BlockRequest(first_height=first, count=count):
                self.answer(source, first, count)
            case BlockResponse(blocks=blocks):
                if self.request is not None and self.request[0] == source:
                    self.request = None
                if self._apply(blocks) == sync_blocks_max:
                    self.ask(source)

    def ask(self, peer: bytes) -> None:
        """One outstanding request at a time, sent again once it times out."""
        now_ms = self.io.now_ms()
        if self.request is not None:
            if now_ms - self.request[1] < self.host.limits.sync_request_timeout_ms:
                return
        self.request = (peer, now_ms)
        request = encode_sync(BlockRequest(self.host.height + 1, sync_blocks_max))
        self.io.send(peer, MessageKind.SYNC, request)

    def answer(self, peer: bytes, first: int, count: int) -> None:
        """The server side: the blocks we hold of the requested range, with their commits."""
        host = self.host
        blocks = []
        last = min(first + count, host.height + 1) if first >= 1 else first
        for height in range(first, last):
            stored = host.chain_store.stored_block(height)
            if stored is None:
                break  # a store restored from a snapshot starts at its height
            blocks.append(CommittedBlock(stored.block, stored.commit))
        if blocks:
            self.io.send(peer, MessageKind.SYNC, encode_sync(BlockResponse(tuple(blocks))))

    def _apply(self, blocks: tuple[CommittedBlock, ...]) -> int:
        """Commit each received block that is next and verifies; stop at the first that does
        not. How many were committed."""
        host = self.host
        memo = host.memo
        applied = 0
        for item in blocks:
            if item.commit.height != host.height + 1:
                continue
            checked = check_committed(
                host.tip(), item, verify=memo.verify, verify_commit=memo.commit_status
            )
            if checked.block is None or checked.outcome is None:
                self.io.refused_block(item.commit.height, checked.reason)
                return applied
            outcome = checked.outcome
            host.commit_block(checked.block, item.block, item.commit, outcome, caught_up=True)
            applied += 1
        return applied
