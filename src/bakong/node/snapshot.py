"""State snapshots: what a snapshot is, when one is taken, and how a joining node checks one.

The app hash chains each block's write set onto the previous one (`bakong.ledger.block`): it
shows any divergence between replicas at once, but it commits to the history of writes, not to
the state's content, so a node that was not there cannot check a copy of the state against it.
A snapshot root is that missing commitment, computed only every so often:

1. Schedule (chain parameters in genesis, `ChainConfig`): the state after every height that is a
   multiple of `snapshot_interval` is a snapshot; the block `snapshot_lag` heights later
   carries its root in its header (`BlockHeader.snapshot`). The lag gives each validator time
   to digest a large state in the background without holding consensus up.
2. Content: every state entry (key, value) in key order, cut into chunks: a chunk closes at the
   first entry that takes its keys and values to `snapshot_chunk_bytes`. A chunk is the
   canonical msgpack array of its `[key, value]` pairs; its hash is
   `digest("snapshot-chunk", chain_id, chunk)`. Identical states give identical chunks.
3. The manifest names the height, its block hash and app hash, the entry count and the chunk
   hashes; the root is `digest("snapshot", chain_id, canonical manifest)`.
4. Validity (`bakong.node.validity` rule 7): a block carries `SnapshotRoot(h, root)` exactly
   when its height is `h + snapshot_lag` for a snapshot height h, and the root must be the one
   this validator computed. A validator that lost its digest (killed before the background
   digest finished, and restarted past h) cannot recompute it: for that one block it checks
   only the height, and relies on the other validators for the root.
5. A joining node trusts a snapshot only through a committed header carrying its root: the
   manifest must hash to that root, every chunk to its hash in the manifest, the keys must
   be strictly increasing across chunks, and the block of the snapshot height must hash to
   the manifest's block hash (`bakong.node.restore`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Annotated

import msgspec
from msgspec import Meta

from bakong import limits
from bakong.errors import DecodeError, LocalError
from bakong.ledger.records import ChainConfig
from bakong.ledger.state import CHAIN_KEY, StateReader, decode_value
from bakong.node.service import StoredBlock
from bakong.types import Hash
from bakong.wire.codec import Record, decode_canonical, encode
from bakong.wire.hashing import Domain, digest

__all__ = [
    "ChunkSink",
    "Manifest",
    "SnapshotOffer",
    "build_manifest",
    "chain_config",
    "chunk_entries",
    "chunk_hash",
    "decode_chunk",
    "decode_manifest",
    "decode_offer",
    "due_snapshot",
    "is_snapshot_height",
    "manifest_root",
]

_Hash32 = Annotated[bytes, Meta(min_length=32, max_length=32)]


class Manifest(Record, frozen=True):
    chain_id: str
    height: Annotated[int, Meta(ge=1, le=limits.height_max)]
    block_hash: _Hash32
    app_hash: _Hash32
    entries: Annotated[int, Meta(ge=0)]
    chunk_hashes: Annotated[tuple[_Hash32, ...], Meta(max_length=limits.snapshot_chunks_max)]


class SnapshotOffer(Record, frozen=True):
    """What a node serves to a joiner (`GET /v1/snapshots/{height}`): the manifest and the two
    stored blocks that prove it (rule 5)."""

    manifest: bytes
    base: StoredBlock  # the block at the snapshot height
    carrier: StoredBlock  # the block that carries the snapshot's root


def decode_offer(data: bytes) -> SnapshotOffer:
    return decode_canonical(data, SnapshotOffer, bytes_max=limits.snapshot_offer_bytes_max)


def manifest_root(manifest: Manifest) -> Hash:
    return digest(Domain.SNAPSHOT, manifest.chain_id, encode(manifest))


def decode_manifest(data: bytes) -> Manifest:
    return decode_canonical(data, Manifest, bytes_max=limits.snapshot_manifest_bytes_max)


def chunk_hash(chain_id: str, chunk: bytes) -> Hash:
    return digest(Domain.SNAPSHOT_CHUNK, chain_id, chunk)


def chunk_entries(entries: Iterable[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, int]]:
    """Rule 2: the chunks of `entries` (in key order), each with its number of entries."""
    pending: list[tuple[bytes, bytes]] = []
    size = 0
    for key, value in entries:
        pending.append((key, value))
        size += len(key) + len(value)
        if size >= limits.snapshot_chunk_bytes:
            yield encode(pending), len(pending)
            pending, size = [], 0
    if pending:
        yield encode(pending), len(pending)


#: Receives each chunk with its index while a manifest is built (to write it to a file).
ChunkSink = Callable[[int, bytes], None]


def build_manifest(
    chain_id: str,
    height: int,
    block_hash: bytes,
    app_hash: bytes,
    entries: Iterable[tuple[bytes, bytes]],
    sink: ChunkSink | None = None,
) -> Manifest:
    """Rules 2 and 3 over the state after `height`, whose entries come in key order."""
    hashes: list[bytes] = []
    count = 0
    for index, (chunk, chunk_count) in enumerate(chunk_entries(entries)):
        if index >= limits.snapshot_chunks_max:
            raise LocalError("the state is larger than a snapshot may be")
        hashes.append(chunk_hash(chain_id, chunk))
        count += chunk_count
        if sink is not None:
            sink(index, chunk)
    return Manifest(chain_id, height, block_hash, app_hash, count, tuple(hashes))


_chunk_decoder = msgspec.msgpack.Decoder(list[tuple[bytes, bytes]])


def decode_chunk(data: bytes, after: bytes | None) -> list[tuple[bytes, bytes]]:
    """The entries of a chunk whose hash was already checked; keys must increase strictly
    from `after` (the last key of the previous chunk)."""
    if len(data) > limits.snapshot_chunk_bytes_max:
        raise DecodeError("oversized", "snapshot chunk is too large")
    try:
        entries = _chunk_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise DecodeError("malformed", f"snapshot chunk: {error}") from None
    if not entries:
        raise DecodeError("malformed", "snapshot chunk is empty")
    previous = after
    for key, _ in entries:
        if previous is not None and key <= previous:
            raise DecodeError("malformed", "snapshot keys are not in increasing order")
        previous = key
    return entries


def chain_config(state: StateReader) -> ChainConfig:
    raw = state.get(CHAIN_KEY)
    assert raw is not None, "a state always holds its chain configuration"
    config = decode_value(CHAIN_KEY, raw)
    assert isinstance(config, ChainConfig)
    return config


def is_snapshot_height(config: ChainConfig, height: int) -> bool:
    return height >= 1 and height % config.snapshot_interval == 0


def due_snapshot(config: ChainConfig, height: int) -> int | None:
    """Rule 1: the snapshot height whose root the block at `height` carries, if any."""
    snapshot_height = height - config.snapshot_lag
    return snapshot_height if is_snapshot_height(config, snapshot_height) else None
