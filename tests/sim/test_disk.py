"""The simulated disk and the double-sign guard: what a crash keeps, what a restart may sign.

Method: write blocks, guard records and log entries in a known order, crash with seeded
PRNGs, and compare what the disk returns with every prefix of the writes it could have kept.
"""

from __future__ import annotations

import random

from bakong.consensus.driver import Start
from bakong.ledger.commit import Commit
from bakong.node.service import StoredBlock
from bakong.node.signer import SignedStep, SignStep, may_sign
from bakong.sim.disk import Disk


def _block(height: int) -> StoredBlock:
    commit = Commit(height, 0, bytes(32), ())
    return StoredBlock(height, b"block", commit, (), bytes(32), ())


def test_synced_writes_survive_and_a_crash_keeps_a_prefix_of_the_rest() -> None:
    for seed in range(50):
        disk = Disk()
        disk.put_block(_block(1), ())
        disk.sync()
        for height in (2, 3, 4):
            disk.put_block(_block(height), ())
        lost = disk.crash(random.Random(seed))
        heights = sorted(disk.image().blocks)
        assert heights == list(range(1, 5 - lost))  # in order: a lost write loses its followers
    assert Disk().crash(random.Random(0)) == 0


def test_the_log_holds_one_height_and_a_new_height_starts_a_new_log() -> None:
    disk = Disk()
    disk.append_wal(1, Start())
    disk.append_wal(1, Start())
    disk.append_wal(2, Start())
    disk.sync()
    image = disk.image()
    assert image.wal_height == 2 and len(image.wal) == 1


def test_the_guard_allows_only_later_steps_or_the_very_same_message() -> None:
    last = SignedStep(5, 2, SignStep.PREVOTE, b"prevote for v")
    assert may_sign(None, last)
    assert may_sign(last, last)  # re-signing the same bytes gives the same signature
    assert not may_sign(last, SignedStep(5, 2, SignStep.PREVOTE, b"prevote for nil"))
    assert not may_sign(last, SignedStep(5, 2, SignStep.PROPOSE, b"proposal"))
    assert not may_sign(last, SignedStep(5, 1, SignStep.PRECOMMIT, b"older round"))
    assert not may_sign(last, SignedStep(4, 9, SignStep.PRECOMMIT, b"older height"))
    assert may_sign(last, SignedStep(5, 2, SignStep.PRECOMMIT, b"precommit"))
    assert may_sign(last, SignedStep(5, 3, SignStep.PROPOSE, b"next round"))
    assert may_sign(last, SignedStep(6, 0, SignStep.PREVOTE, b"next height"))


def test_the_guard_is_on_disk_once_synced() -> None:
    disk = Disk()
    step = SignedStep(3, 0, SignStep.PRECOMMIT, b"precommit")
    disk.put_signed(step)
    disk.sync()
    disk.append_wal(3, Start())
    disk.crash(random.Random(1))
    assert disk.image().signed == step
