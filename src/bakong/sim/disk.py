"""A node's simulated disk: writes in order, `sync()`, and a crash that loses unsynced writes.

The disk is a journal: writes are applied in the order they were made. `sync()` makes every
write so far durable (an fsync of a sequential file). A crash keeps the synced writes and a
random prefix of the unsynced ones (a torn tail: the order is kept, the end is lost), then the
node restarts from `image()`.

What a node keeps on it:
- `blocks[h]`: each committed block with its commit, results and app hash, and its write set
  (the node's LMDB write transaction per block, design section 5);
- `signed`: the last signed (height, round, step), and the guard's horizon, see
  `bakong.node.signer`;
- `wal`: the consensus inputs of the current height, in order, for replay after a restart
  (a write for a new height starts a new log);
- `own`: the proposals and votes the node signed at the current height, each written with the
  guard before it leaves (its own copy may not have reached the log yet).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import cast

from bakong import limits
from bakong.consensus.driver import DriverInput
from bakong.ledger.state import WriteSet
from bakong.node.envelope import MessageKind
from bakong.node.host import LogImage
from bakong.node.service import StoredBlock
from bakong.node.signer import Horizon, SignedStep

__all__ = ["Disk", "DiskImage"]


@dataclass(slots=True)
class DiskImage(LogImage):
    """What the disk holds, as a restart reads it: the consensus log and the blocks."""

    blocks: dict[int, tuple[StoredBlock, WriteSet]] = field(default_factory=dict)


Write = tuple[str, int, object]  # (what, height, value)


class Disk:
    """The journal of module rules."""

    def __init__(self) -> None:
        self._synced = DiskImage()
        self._pending: list[Write] = []
        self.syncs = 0

    def put_block(self, stored: StoredBlock, write_set: WriteSet) -> None:
        self._write(("block", stored.height, (stored, write_set)))

    def put_signed(self, signed: SignedStep) -> None:
        self._write(("signed", signed.height, signed))

    def append_wal(self, height: int, event: DriverInput) -> None:
        self._write(("wal", height, event))

    def append_own(self, height: int, kind: MessageKind, message: bytes) -> None:
        self._write(("own", height, (kind, message)))

    def sync(self) -> None:
        for write in self._pending:
            _apply(self._synced, write)
        self._pending.clear()
        self.syncs += 1

    def crash(self, rng: random.Random, kept: int | None = None) -> int:
        """Lose a random tail of the unsynced writes (or keep exactly `kept` of them); return
        how many were lost."""
        if kept is None:
            kept = rng.randint(0, len(self._pending))
        assert 0 <= kept <= len(self._pending)
        lost = len(self._pending) - kept
        for write in self._pending[:kept]:
            _apply(self._synced, write)
        self._pending.clear()
        return lost

    def image(self) -> DiskImage:
        """The disk as a restart reads it (only right after a crash: nothing is pending)."""
        assert not self._pending, "read the disk after a crash"
        image = self._synced
        return DiskImage(
            signed=image.signed,
            horizon=image.horizon,
            wal_height=image.wal_height,
            wal=list(image.wal),
            own_height=image.own_height,
            own=list(image.own),
            blocks=dict(image.blocks),
        )

    def lose(self, restored: int, horizon: Horizon) -> None:
        """The disk is lost and the store restored from a snapshot of height `restored`, with
        the `horizon` the restore gives it (`bakong.node.signer`): the blocks up to there come
        back (the simulated chain rebuilds from them), the log does not. Only right after a
        crash."""
        assert not self._pending, "lose the disk after a crash"
        blocks = {h: block for h, block in self._synced.blocks.items() if h <= restored}
        self._synced = DiskImage(horizon=horizon, blocks=blocks)

    def put_horizon(self, horizon: Horizon) -> None:
        self._write(("horizon", horizon.height, horizon))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _write(self, write: Write) -> None:
        self._pending.append(write)
        if len(self._pending) >= limits.sim_pending_writes_max:
            self.sync()


def _apply(image: DiskImage, write: Write) -> None:
    what, height, value = write
    if what == "block":
        assert isinstance(value, tuple)
        image.blocks[height] = cast(tuple[StoredBlock, WriteSet], value)
    elif what == "signed":
        assert isinstance(value, SignedStep)
        assert image.signed is None or value.position >= image.signed.position
        image.signed = value
    elif what == "horizon":
        assert isinstance(value, Horizon)
        image.horizon = value
    elif what == "own":
        assert isinstance(value, tuple)
        if height != image.own_height:
            image.own_height = height
            image.own = []
        assert len(image.own) < limits.sim_wal_inputs_max
        image.own.append(value)
    else:
        assert what == "wal"
        if height != image.wal_height:
            image.wal_height = height
            image.wal = []
        assert len(image.wal) < limits.sim_wal_inputs_max
        image.wal.append(cast(DriverInput, value))
