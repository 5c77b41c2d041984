"""The state's writes that the store's `state` database does not hold yet, and how they get there.

At 10^7 accounts a block's changed accounts each sit on a leaf page of their own, so writing a
block's write set into the state's B-tree rewrote one 4 KiB page (and its share of the branch
pages above it) per changed account: about 13.5 KB written per transfer per validator, and the
kernel's work for those writes took a quarter of the machine (docs/performance.md, session 18).
Written later, in key order, the same pages take many accounts' changes each.

Rules (the store, `bakong.node.store` rule 9, keeps them on disk):
1. A block's write set is stored with its block, in the `writes` database (height -> the write
   set), and kept here in memory (`active`). Nothing else of it is written then.
2. Every `checkpoint_blocks` blocks, or once `active` holds `checkpoint_entries` keys (the
   store sets it from the state's size: `limits.state_checkpoint_share`), `active` is frozen
   at that height F: its keys sorted, its values the state's at F. Each block after it writes
   the next slice of the frozen keys, in key order, into `state`: a `checkpoint_blocks`-th of
   them, or twice as many as the block itself wrote if that is more, so that the frozen
   writes are in `state` well before `active` is due again, and each leaf page is written
   once for all its keys that changed in the interval. The keys pending stay under about 1.5
   `checkpoint_entries`, which bounds this memory and what a reader in another process merges
   (the snapshot digest: about 0.65 µs per pending key). Should `active` ever reach
   `entries_max` first, the next block writes all that is left.
3. The block whose slice completes the frozen writes also moves the store's state base to F
   and deletes the write sets of heights up to F: `state` then holds the state at F, exactly.
4. So at every committed height, `state` holds for each key its value at the state base or at
   some later height up to the tip, and the write sets after the base, applied in height order,
   give the tip's state. A reader looks in `active`, then the frozen writes, then `state`; a
   store opened after a crash replays the kept write sets into `active`; another process reads
   a height's whole state by merging its kept write sets with `state` in key order
   (`bakong.node.chain_env.state_items`).
5. A clean close writes everything pending (`unwritten`) and moves the base to the tip (if
   these writes are the tip's: `height`; else the kept write sets are replayed), so a
   cleanly closed store's `state` is its tip's alone: it reopens without a replay, and code
   from before these rules, which knows no `writes`, reads it right (the store bounds how many
   keys it writes then: more would outlast the stop grace).

Pure: the store does the writing, in each block's write transaction, and calls `advance` once
that transaction has committed.
"""

from __future__ import annotations

import enum
import math
from typing import Final, NamedTuple

from bakong.ledger.state import WriteSet

__all__ = ["NOT_PENDING", "FlushStep", "PendingState"]


class _NotPending(enum.Enum):
    NOT_PENDING = enum.auto()


#: What `PendingState.get` answers for a key with no pending write: look in `state`.
NOT_PENDING: Final = _NotPending.NOT_PENDING


class FlushStep(NamedTuple):
    """What one block's write transaction writes into `state` (rule 2), and whether that
    completes the frozen writes (rule 3): then `base` is the new state base."""

    keys: list[bytes]
    values: list[bytes | None]  # None: the key is deleted
    base: int | None


class PendingState:
    """The writes since the state base (module rules), in memory."""

    def __init__(
        self, checkpoint_blocks: int, checkpoint_entries: int, entries_max: int, *, height: int
    ) -> None:
        assert checkpoint_blocks >= 1 and 1 <= checkpoint_entries <= entries_max
        # The height whose state these writes complete: the state base's, then each block's.
        self.height = height
        self.checkpoint_blocks = checkpoint_blocks
        self.checkpoint_entries = checkpoint_entries
        self.entries_max = entries_max
        self.active: dict[bytes, bytes | None] = {}
        self.active_blocks = 0
        self.frozen: dict[bytes, bytes | None] = {}
        self.frozen_height: int | None = None
        self._frozen_keys: list[bytes] = []
        self._flushed = 0
        self._slice = 0

    def get(self, key: bytes) -> bytes | None | _NotPending:
        """The key's pending value (None: deleted), or `NOT_PENDING`."""
        active = self.active.get(key, NOT_PENDING)
        if active is not NOT_PENDING or not self.frozen:
            return active
        return self.frozen.get(key, NOT_PENDING)

    def next_step(self, written: int) -> FlushStep:
        """The slice the next block, which writes `written` keys itself, writes (rule 2)."""
        if self.frozen_height is None:
            return FlushStep([], [], None)
        remaining = len(self._frozen_keys) - self._flushed
        wanted = max(self._slice, 2 * written)
        count = remaining if len(self.active) >= self.entries_max else min(wanted, remaining)
        keys = self._frozen_keys[self._flushed : self._flushed + count]
        base = self.frozen_height if count == remaining else None
        # Keys and values apart: no pair per key for the collector to count (docs/performance.md).
        return FlushStep(keys, list(map(self.frozen.__getitem__, keys)), base)

    def advance(self, step: FlushStep, height: int, write_set: WriteSet) -> None:
        """The block at `height` with `write_set` and `step` has committed."""
        assert height == self.height + 1, "blocks advance one height at a time"
        self.height = height
        self._flushed += len(step.keys)
        if step.base is not None:
            self.frozen, self._frozen_keys, self.frozen_height = {}, [], None
            self._flushed = self._slice = 0
        self.active.update(write_set)
        self.active_blocks += 1
        due = (
            self.active_blocks >= self.checkpoint_blocks
            or len(self.active) >= self.checkpoint_entries
        )
        if due and self.frozen_height is None:
            self._freeze(height)

    def unwritten(self) -> tuple[list[bytes], list[bytes | None]]:
        """Every pending write that `state` may not hold yet, in key order (rule 5): the keys,
        and their values."""
        left = self._frozen_keys[self._flushed :]
        writes = dict(zip(left, map(self.frozen.__getitem__, left), strict=True))
        writes.update(self.active)
        keys = sorted(writes)
        return keys, list(map(writes.__getitem__, keys))

    def replay(self, write_set: WriteSet) -> None:
        """A kept write set, read back in height order by a store opening (rule 4)."""
        self.height += 1
        self.active.update(write_set)
        self.active_blocks += 1

    def _freeze(self, height: int) -> None:
        self.frozen, self.active, self.active_blocks = self.active, {}, 0
        # Each block's write set is sorted and dict order keeps them in runs: timsort merges.
        self._frozen_keys = sorted(self.frozen)
        self.frozen_height = height
        self._flushed = 0
        self._slice = max(1, math.ceil(len(self._frozen_keys) / self.checkpoint_blocks))
