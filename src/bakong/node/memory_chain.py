"""An in-memory `ChainStore`: committed blocks and state in memory, for the simulator and tests.

`put_block` hands each block with its write set to an optional journal first (the simulator's
disk, which may lose it in a crash), then applies it, and at a snapshot height digests the
state at once (`bakong.node.snapshot`; a simulated state is small). `rebuild` restores a chain
from such a journal, re-applying each write set and checking that the app hashes chain up to
what was stored, as a real node's store would have kept them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bakong.ledger.block import (
    BlockHeader,
    LedgerState,
    block_hash,
    chain_app_hash,
    decode_block,
)
from bakong.ledger.genesis import GenesisFile, genesis_hash, genesis_state
from bakong.ledger.state import MemoryStore, WriteSet, WrittenRecords
from bakong.ledger.validators import ValidatorSet
from bakong.node.host import CommittedTip
from bakong.node.service import StoredBlock
from bakong.node.snapshot import (
    Manifest,
    build_manifest,
    chain_config,
    is_snapshot_height,
    manifest_root,
)

__all__ = ["MemoryChain"]

Journal = Callable[[StoredBlock, WriteSet], None]


class MemoryChain:
    def __init__(self, genesis: GenesisFile, journal: Journal | None = None) -> None:
        self.chain_id = genesis.chain_id
        state, store = genesis_state(genesis)
        self.store: MemoryStore = store
        self.state: LedgerState = state
        self.blocks: list[StoredBlock] = []  # blocks[h - 1] is height h
        self._genesis_hash = genesis_hash(genesis)
        self._genesis_time_ms = genesis.genesis_time_ms
        self._tip_time_ms = genesis.genesis_time_ms
        self._journal = journal
        self.snapshots: dict[int, Manifest] = {}

    @classmethod
    def rebuild(
        cls,
        genesis: GenesisFile,
        blocks: Mapping[int, tuple[StoredBlock, WriteSet]],
        journal: Journal | None = None,
    ) -> MemoryChain:
        """The chain a journal holds: every height from 1 up to the first one missing."""
        chain = cls(genesis, journal)
        height = 1
        while height in blocks:
            stored, write_set = blocks[height]
            chain._apply(stored, decode_block(stored.block).header, write_set)
            height += 1
        return chain

    def tip(self) -> CommittedTip:
        if not self.blocks:
            genesis_time_ms = self._genesis_time_ms
            return CommittedTip(0, self.state, self._genesis_hash, genesis_time_ms, None, None)
        last = self.blocks[-1]
        return CommittedTip(
            last.height,
            self.state,
            last.commit.block_hash,
            self._tip_time_ms,
            last.commit,
            ValidatorSet(last.validators),
        )

    def put_block(
        self,
        stored: StoredBlock,
        header: BlockHeader,
        write_set: WriteSet,
        written: WrittenRecords | None = None,
    ) -> LedgerState:
        if self._journal is not None:
            self._journal(stored, write_set)
        return self._apply(stored, header, write_set, written)

    def snapshot_root(self, height: int) -> bytes | None:
        manifest = self.snapshots.get(height)
        return None if manifest is None else manifest_root(manifest)

    def stored_block(self, height: int) -> StoredBlock | None:
        if 1 <= height <= len(self.blocks):
            return self.blocks[height - 1]
        return None

    def _apply(
        self,
        stored: StoredBlock,
        header: BlockHeader,
        write_set: WriteSet,
        written: WrittenRecords | None = None,
    ) -> LedgerState:
        assert stored.height == len(self.blocks) + 1
        assert block_hash(header) == stored.commit.block_hash
        previous = self.blocks[-1].commit.block_hash if self.blocks else self._genesis_hash
        assert header.previous_hash == previous
        app_hash = chain_app_hash(self.chain_id, self.state.app_hash, write_set)
        assert app_hash == stored.app_hash == header.app_hash, "the journal returned what was put"
        self.store.apply(write_set, written)
        self.state = LedgerState(self.store, app_hash)
        self.blocks.append(stored)
        self._tip_time_ms = header.time_ms
        if is_snapshot_height(chain_config(self.store), stored.height):
            self.snapshots[stored.height] = build_manifest(
                self.chain_id, stored.height, block_hash(header), app_hash, self.store.items()
            )
        return self.state
