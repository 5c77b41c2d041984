"""The chain's LMDB environment as more than one process sees it: its named databases, the
committed tip record, and how a reader in another process opens it.

The validator's store (`bakong.node.store`) is its one writer; the snapshot process
(`bakong.node.snapshot_process`) and the central bank's audit of a home
(`bakong.console.chain_audit`) read beside it. The whole state of a height is `state` merged
with the write sets kept in `writes` (`bakong.node.pending_state`): `state_items`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lmdb
import msgspec

from bakong.ledger.state import WriteSet

__all__ = [
    "CHAIN_DBS",
    "CHAIN_DBS_MAX",
    "STATE_BASE_KEY",
    "TIP_KEY",
    "ChainTip",
    "decode_write_set",
    "encode_write_set",
    "open_read_only",
    "read_tip",
    "state_items",
]

#: The chain environment's named databases (the store's module docstring has the table).
CHAIN_DBS = (b"state", b"blocks", b"meta", b"aliases", b"writes")
#: Two more than ours: a store of the single-environment layout kept its log beside them.
CHAIN_DBS_MAX = len(CHAIN_DBS) + 2
#: The key of the committed tip in `meta`.
TIP_KEY = b"tip"
#: The key of the state base in `meta`: the height whose state `state` holds but for the kept
#: write sets (`bakong.node.pending_state`); absent in a store written before them.
STATE_BASE_KEY = b"state_base"


class ChainTip(msgspec.Struct, frozen=True, array_like=True):
    height: int
    block_hash: bytes
    time_ms: int
    app_hash: bytes


def read_tip(txn: lmdb.Transaction, meta_db: lmdb._Database) -> ChainTip:
    raw = txn.get(TIP_KEY, db=meta_db)
    assert raw is not None
    return msgspec.msgpack.decode(raw, type=ChainTip)


def encode_write_set(write_set: WriteSet) -> bytes:
    return msgspec.msgpack.encode(write_set)


def decode_write_set(raw: bytes) -> WriteSet:
    return msgspec.msgpack.decode(raw, type=WriteSet)


def open_read_only(
    path: Path, map_bytes: int
) -> tuple[lmdb.Environment, lmdb._Database, lmdb._Database, lmdb._Database]:
    """The environment at `path` for a reader in another process, with its `state`, `meta` and
    `writes` databases."""
    env = lmdb.open(str(path), map_size=map_bytes, max_dbs=CHAIN_DBS_MAX, readonly=True)
    return (
        env,
        env.open_db(b"state", create=False),
        env.open_db(b"meta", create=False),
        env.open_db(b"writes", create=False),
    )


def state_items(
    txn: lmdb.Transaction, state_db: lmdb._Database, writes_db: lmdb._Database | None
) -> Iterator[tuple[bytes, bytes]]:
    """The whole state of the height `txn` reads, in key order: `state`, with the kept write
    sets (all after the state base, in height order) applied over it. `txn` has buffers off."""
    pending: dict[bytes, bytes | None] = {}
    if writes_db is not None:
        for _, raw in txn.cursor(db=writes_db):
            assert isinstance(raw, bytes)
            pending.update(decode_write_set(raw))
    keys = sorted(pending)
    count, index = len(keys), 0
    for key, value in txn.cursor(db=state_db):
        assert isinstance(key, bytes) and isinstance(value, bytes)
        while index < count and keys[index] < key:
            written = pending[keys[index]]
            if written is not None:
                yield keys[index], written
            index += 1
        if index < count and keys[index] == key:
            written = pending[key]
            index += 1
            if written is not None:
                yield key, written
            continue
        yield key, value
    for key in keys[index:]:
        written = pending[key]
        if written is not None:
            yield key, written
