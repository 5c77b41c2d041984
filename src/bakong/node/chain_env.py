"""The chain's LMDB environment as more than one process sees it: its named databases, the
committed tip record, and how a reader in another process opens it.

The validator's store (`bakong.node.store`) is its one writer; the snapshot process
(`bakong.node.snapshot_process`) reads beside it.
"""

from __future__ import annotations

from pathlib import Path

import lmdb
import msgspec

__all__ = ["CHAIN_DBS", "CHAIN_DBS_MAX", "TIP_KEY", "ChainTip", "open_read_only", "read_tip"]

#: The chain environment's named databases (the store's module docstring has the table).
CHAIN_DBS = (b"state", b"blocks", b"meta", b"aliases")
#: Two more than ours: a store of the single-environment layout kept its log beside them.
CHAIN_DBS_MAX = len(CHAIN_DBS) + 2
#: The key of the committed tip in `meta`.
TIP_KEY = b"tip"


class ChainTip(msgspec.Struct, frozen=True, array_like=True):
    height: int
    block_hash: bytes
    time_ms: int
    app_hash: bytes


def read_tip(txn: lmdb.Transaction, meta_db: lmdb._Database) -> ChainTip:
    raw = txn.get(TIP_KEY, db=meta_db)
    assert raw is not None
    return msgspec.msgpack.decode(raw, type=ChainTip)


def open_read_only(
    path: Path, map_bytes: int
) -> tuple[lmdb.Environment, lmdb._Database, lmdb._Database]:
    """The environment at `path` for a reader in another process, with its `state` and `meta`
    databases."""
    env = lmdb.open(str(path), map_size=map_bytes, max_dbs=CHAIN_DBS_MAX, readonly=True)
    return env, env.open_db(b"state", create=False), env.open_db(b"meta", create=False)
