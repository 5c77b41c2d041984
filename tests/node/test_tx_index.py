"""The transaction index in sorted runs: every committed transaction is found where it sits,
from memory, from a run, after merges, after a reopen, and after `kill -9` at any instant of
its writes and merges; a merge whose parent died gives up.

Method: blocks are synthetic (the hashes of block h are a function of h), so the blocks a
reopened index reads again are the ones it was given; the limits are shrunk so that a few
hundred blocks flush and merge several times.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bakong import limits
from bakong.node.tx_index import TransactionIndex, write_run

_per_block = 7


def hashes(height: int) -> list[bytes]:
    return [hashlib.sha256(f"{height}/{i}".encode()).digest() for i in range(_per_block)]


def blocks(first: int, last: int) -> Iterator[tuple[int, list[bytes]]]:
    return ((height, hashes(height)) for height in range(first, last + 1))


@pytest.fixture(autouse=True)
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "tx_index_flush_entries", 50)
    monkeypatch.setattr(limits, "tx_index_merge_width", 3)


def assert_indexed(index: TransactionIndex, first: int, last: int) -> None:
    for height in range(first, last + 1):
        for position, tx_hash in enumerate(hashes(height)):
            assert index.location(tx_hash) == (height, position), (height, position)


def test_every_transaction_is_found_from_memory_runs_and_merges(tmp_path: Path) -> None:
    index = TransactionIndex(tmp_path, 1, 0, blocks)
    for height, tx_hashes in blocks(1, 200):
        index.add(height, tx_hashes)
        assert index.location(tx_hashes[-1]) == (height, _per_block - 1)  # at once
    index.wait()
    runs = index.runs
    # 1,400 entries: flushes of 56 (8 blocks), merged three to one, level after level.
    assert [first for first, _, _ in runs][0] == 1
    assert all(a[1] + 1 == b[0] for a, b in zip(runs, runs[1:], strict=False)), runs
    assert max(count for _, _, count in runs) >= 3 * 3 * 56
    assert len(list(tmp_path.glob("*.run"))) == len(runs)
    assert_indexed(index, 1, 200)
    assert index.location(hashlib.sha256(b"never").digest()) is None
    assert index.location(b"\xff" * 32) is None and index.location(b"\x00" * 32) is None
    index.close()


def test_a_reopened_index_reads_what_it_lacks_from_the_blocks(tmp_path: Path) -> None:
    index = TransactionIndex(tmp_path, 1, 0, blocks)
    for height, tx_hashes in blocks(1, 100):
        index.add(height, tx_hashes)
    index.close()  # writes what it held in memory
    read: list[int] = []

    def counted(first: int, last: int) -> Iterator[tuple[int, list[bytes]]]:
        read.extend(range(first, last + 1))
        return blocks(first, last)

    reopened = TransactionIndex(tmp_path, 1, 100, counted)
    assert read == [] and reopened.runs[-1][1] == 100
    assert_indexed(reopened, 1, 100)
    for height in range(101, 131):
        reopened.add(height, hashes(height))
    reopened.wait()
    assert_indexed(reopened, 101, 130)
    # Left unclosed, as by a crash: the next open reads only the blocks after the last run.
    covered = reopened.runs[-1][1]
    assert covered < 130
    after_crash = TransactionIndex(tmp_path, 1, 130, counted)
    assert read == list(range(covered + 1, 131))
    assert_indexed(after_crash, 1, 130)
    after_crash.close()


def test_runs_past_the_tip_are_kept_and_their_blocks_not_indexed_twice(tmp_path: Path) -> None:
    index = TransactionIndex(tmp_path, 1, 0, blocks)
    for height, tx_hashes in blocks(1, 100):
        index.add(height, tx_hashes)
    index.close()
    covered = index.runs[-1][1]
    tip = covered - 5  # a power loss took the chain's last blocks, not the synced run
    reopened = TransactionIndex(tmp_path, 1, tip, blocks)
    for height in range(tip + 1, covered + 3):  # fetched again from peers
        reopened.add(height, hashes(height))
    reopened.wait()
    assert_indexed(reopened, 1, covered + 2)
    reopened.close()


def test_debris_of_a_crash_is_cleared_and_a_damaged_run_indexed_again(tmp_path: Path) -> None:
    index = TransactionIndex(tmp_path, 1, 0, blocks)
    for height, tx_hashes in blocks(1, 100):
        index.add(height, tx_hashes)
    index.wait()
    runs = index.runs
    index.close()
    assert len(runs) >= 2
    (tmp_path / "00000000000000000090-00000000000000000099.tmp").write_bytes(b"half a run")
    # A merge's inputs left beside its output: a run lying within another's heights.
    first, last, _ = runs[0]
    inside = tmp_path / f"{first:020d}-{first:020d}.run"
    inside.write_bytes(b"")
    # A damaged run: it and every later one are deleted and their blocks read again.
    damaged = sorted(tmp_path.glob("*.run"))[-1]
    cut = damaged.read_bytes()[:-3]
    damaged.write_bytes(cut)
    reopened = TransactionIndex(tmp_path, 1, 100, blocks)
    reopened.wait()
    names = {path.name for path in tmp_path.iterdir()}
    assert not inside.exists()
    assert not damaged.exists() or damaged.read_bytes() != cut  # written again, whole
    assert all(name.endswith(".run") for name in names)
    assert_indexed(reopened, 1, 100)
    assert reopened.runs[0][:2] == (first, last)
    reopened.close()


_ADD_FOREVER = """
import os
import sys
from pathlib import Path
from bakong import limits
from bakong.node.tx_index import TransactionIndex
from tests.node.test_tx_index import blocks, hashes
limits.tx_index_flush_entries, limits.tx_index_merge_width = 50, 3
directory, tip_file = Path(sys.argv[1]), Path(sys.argv[2])
tip = int.from_bytes(tip_file.read_bytes()) if tip_file.exists() else 0
index = TransactionIndex(directory, 1, tip, blocks)
tip_fd = os.open(tip_file, os.O_WRONLY | os.O_CREAT)
print("open", flush=True)
while True:
    tip += 1
    index.add(tip, hashes(tip))
    # The blocks, committed after the index has them in memory: one write of 8 bytes, which
    # a kill cannot cut.
    os.pwrite(tip_fd, tip.to_bytes(8), 0)
"""


def test_an_index_killed_while_writing_and_merging_reopens_complete(tmp_path: Path) -> None:
    """kill -9 at an arbitrary instant of flushes and merges (the tip file stands for the
    chain's blocks): every transaction up to the tip is found after the reopen, every time."""
    root = Path(__file__).resolve().parents[2]
    directory, tip_file = tmp_path / "txindex", tmp_path / "tip"
    tips = []
    for delay_s in (0.2, 0.35, 0.5, 0.3):
        with subprocess.Popen(
            [sys.executable, "-c", _ADD_FOREVER, str(directory), str(tip_file)],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None and child.stdout.readline() == "open\n"
            time.sleep(delay_s)
            child.send_signal(signal.SIGKILL)
        tip = int.from_bytes(tip_file.read_bytes())
        index = TransactionIndex(directory, 1, tip, blocks)
        assert_indexed(index, 1, tip)
        runs = index.runs
        assert all(a[1] + 1 == b[0] for a, b in zip(runs, runs[1:], strict=False)), runs
        index.close()
        tips.append(tip)
    assert tips == sorted(tips) and tips[0] > 0


_PARENT = """
import os
import subprocess
import sys
import time
merge = [sys.executable, "-m", "bakong.node.tx_index", str(os.getpid()), *sys.argv[1:]]
print(subprocess.Popen(merge).pid, flush=True)
time.sleep(60)
"""


def test_a_merge_whose_validator_died_gives_up_before_its_run_appears(tmp_path: Path) -> None:
    """Rule 3: the merge's child process checks that its parent lives, and leaves no run."""
    paths = []
    for run in range(8):
        entries = sorted(
            hashlib.sha256(b"%d/%d" % (run, i)).digest() + (run + 1).to_bytes(8) + i.to_bytes(4)
            for i in range(100_000)
        )
        path = write_run(tmp_path, run + 1, run + 1, entries, len(entries))
        assert path is not None
        paths.append(path)
    root = Path(__file__).resolve().parents[2]
    arguments = [str(tmp_path), "1", "8", *map(str, paths)]
    with subprocess.Popen(
        [sys.executable, "-c", _PARENT, *arguments], cwd=root, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        merging = int(parent.stdout.readline())
        time.sleep(0.3)  # most likely merging by now, far from done
        parent.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _running(merging) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(merging)
    assert not (tmp_path / f"{1:020d}-{8:020d}.run").exists()
    assert all(path.exists() for path in paths)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit is reaped by whoever adopted it, if at all)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
