"""A validator's own state, read from its store beside the running process, and the chain
re-executed here from genesis: what the restart tests compare (issue 14, item 3).

A restarted or restored node that fetched the right headers could still hold a wrong state
(a write lost in the kill, a bad snapshot entry); comparing headers would not show it.
So the tests read the node's LMDB store directly and compare it with an independent
execution of the same blocks by the pure ledger:

- `read_store(data)` opens the node's environment read-only (LMDB lets readers in other
  processes run beside the writer) and reads, in one read transaction, the app hash the node
  stored for each height it holds and every state entry. One transaction sees one committed
  height: the store writes a block and its write set in one write transaction
  (`bakong.node.store` rule 1), so `state` merged with the kept write sets
  (`bakong.node.chain_env.state_items`) is exactly the state after the highest block.
- `replay(genesis, blocks)` executes the blocks with `apply_block` from the genesis state and
  returns the app hash after each height and the final state entries.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import lmdb
import msgspec

from bakong import limits
from bakong.client import SyncClient
from bakong.ledger.block import Block, LedgerState, apply_block
from bakong.ledger.genesis import GenesisFile, genesis_state
from bakong.ledger.records import Account
from bakong.ledger.state import account_key, decode_value
from bakong.node.chain_env import state_items
from bakong.node.service import StoredBlock

_dbs_max = 16  # at least the store's named databases


@dataclass(frozen=True)
class OwnState:
    height: int  # the highest block in the store
    app_hashes: dict[int, bytes]  # height -> the app hash the node computed and stored
    state: dict[bytes, bytes]  # every state entry after `height`

    def balance(self, account_id: str, asset_index: int) -> int:
        key = account_key(account_id)
        record = decode_value(key, self.state[key])
        assert isinstance(record, Account)
        return record.balances[asset_index]


def read_store(data: Path) -> OwnState:
    """The node's own blocks' app hashes and state, from its store at `data` (module doc)."""
    env = lmdb.open(
        str(data),
        readonly=True,
        max_dbs=_dbs_max,
        map_size=limits.lmdb_map_bytes_default,
        lock=True,
    )
    try:
        with env.begin() as txn:
            blocks = env.open_db(b"blocks", txn=txn, create=False)
            state_db = env.open_db(b"state", txn=txn, create=False)
            app_hashes = {}
            for key, raw in txn.cursor(db=blocks):
                stored = msgspec.msgpack.decode(raw, type=StoredBlock)
                assert struct.unpack(">Q", key)[0] == stored.height
                app_hashes[stored.height] = stored.app_hash
            writes = env.open_db(b"writes", txn=txn, create=False)
            state = dict(state_items(txn, state_db, writes))
    finally:
        env.close()
    return OwnState(max(app_hashes), app_hashes, state)


@dataclass(frozen=True)
class Replayed:
    app_hashes: dict[int, bytes]  # height -> app hash after it, as executed here
    block_hashes: dict[int, bytes]
    state: dict[bytes, bytes]


def replay(genesis: GenesisFile, central_bank: SyncClient, up_to: int) -> Replayed:
    """Blocks 1..`up_to` fetched whole (as the central bank) and executed from genesis."""
    state, store = genesis_state(genesis)
    app_hashes, block_hashes = {}, {}
    for height in range(1, up_to + 1):
        info = central_bank.block(height)
        assert info.tx_count == len(info.transactions)  # the whole block
        block = Block(info.header, tuple(item.transaction for item in info.transactions))
        outcome = apply_block(state, block)
        assert outcome.app_hash == info.header.app_hash, f"height {height}"
        store.apply(outcome.write_set, outcome.written)
        state = LedgerState(store, outcome.app_hash)
        app_hashes[height] = outcome.app_hash
        block_hashes[height] = info.block_hash
    return Replayed(app_hashes, block_hashes, dict(store.items()))


def differences(own: OwnState, replayed: Replayed) -> list[str]:
    """Where the node's own store departs from the replay: app hashes by height, state keys."""
    found = [
        f"app hash at height {height}"
        for height, app_hash in sorted(own.app_hashes.items())
        if replayed.app_hashes.get(height) != app_hash
    ]
    keys = sorted(own.state.keys() | replayed.state.keys())
    found += [f"state {key!r}" for key in keys if own.state.get(key) != replayed.state.get(key)]
    return found
