"""The transaction index: where each committed transaction sits (hash -> height and index in
its block), kept out of the block's write transaction in sorted run files.

Why not a database of the chain's LMDB environment, as before: the index is looked up by hash
alone (`GET /v1/transactions/{hash}`), so each entry lands on a random leaf of a B-tree, and a
store that has committed millions of transactions copies one 4 KiB leaf (and the branches above
it) per transaction into every block's write (docs/performance.md, issue 21, sessions 12-13).
Here the entries of recent blocks wait in memory and reach the disk as sorted runs written
once, front to back, and merged in long sequential passes: a few dozen bytes per transaction
per level instead of a page.

Files, in `txindex/` beside the store's data: `<first>-<last>.run`, the entries of the blocks
of heights `first` to `last` (20 decimal digits each): a header (`_magic`, then the entry count,
8 bytes big-endian) and the entries sorted by hash, `_entry_bytes` each (the hash, the height 8
bytes and the index 4 bytes, big-endian).

Rules:
1. The blocks are the truth and the index is derived from them: it is never synced with a
   block, and what it lacks when the store opens is read again from the stored blocks. The runs
   cover consecutive heights; the entries of the blocks after the newest run are in memory,
   and written as a run when the index closes.
2. When the entries in memory reach `limits.tx_index_flush_entries`, a worker thread writes
   them as one run: to a temporary file, synced, renamed, the directory synced. Until the
   rename they are answered from memory. A block waits for the worker only when
   `limits.tx_index_flushes_queued_max` flushes are queued (a disk slower than the chain).
3. Runs merge as the digits of a counter in base `limits.tx_index_merge_width`: when the newest
   `width` runs are of one level (a run of level L holds about flush * width^L entries), the
   worker has them merged into one run of the next level, written as in rule 2, and only then
   deletes them. The merge runs in a child process (`python -m bakong.node.tx_index <pid> ...`):
   it is a Python loop over every entry (seconds at millions of entries), which in a thread
   would hold the GIL half the time the event loop wants it. The child gives up when its
   parent is gone. A crash between the rename and the deletes leaves runs lying within the
   merged one's heights: they are deleted when the index opens.
4. When the index opens, temporary files and runs that are unreadable or do not continue the
   runs before them are deleted, with every run after them; the blocks they covered are read
   again (rule 1). Runs may reach past the store's tip (their blocks were final, and lost in a
   power loss after the run was synced): blocks up to their last height are not indexed again
   when they come back.
5. A look-up asks the memory first, then the runs newest first, each by binary search of its
   mapped file.
6. The event loop adds and looks up; the worker writes and has runs merged. They share the
   list of runs and the entries being written under one lock; a merged-away run's map stays
   valid for a look-up that holds it and closes when the last holder lets go.
7. A run that cannot be written (a full disk, a merge that failed) stops the writing: every
   later block's entries stay in memory, so that no run claims heights whose entries it lacks,
   until the index is opened again (rule 4), and the error is logged.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import mmap
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bakong import limits
from bakong.errors import DecodeError, LocalError
from bakong.node.durable import sync_directory

__all__ = ["TransactionIndex", "merge_runs", "run_entry", "write_run", "TX_INDEX_DIRECTORY"]

log = logging.getLogger(__name__)

#: The index's directory in a store's.
TX_INDEX_DIRECTORY = "txindex"
_magic = b"BKTXRUN1"
_header = struct.Struct(">8sQ")
_location = struct.Struct(">QI")
_hash_bytes = 32
_entry_bytes = _hash_bytes + _location.size
_height_digits = 20
_merge_check_entries = 65_536  # entries merged between two looks at the stop flag

Location = tuple[int, int]


def _run_name(first: int, last: int) -> str:
    return f"{first:0{_height_digits}d}-{last:0{_height_digits}d}.run"


def run_entry(tx_hash: bytes, location: Location) -> bytes:
    assert len(tx_hash) == _hash_bytes
    return tx_hash + _location.pack(*location)


def write_run(
    directory: Path,
    first: int,
    last: int,
    entries: Iterable[bytes],
    count: int,
    stop: Callable[[], bool] = lambda: False,
) -> Path | None:
    """Rule 2: `count` entries, sorted, as the run of heights `first` to `last`, made durable
    before it appears under its name; None if `stop` said so first."""
    path = directory / _run_name(first, last)
    temporary = path.with_suffix(".tmp")
    written = 0
    with open(temporary, "wb", buffering=2**20) as out:
        out.write(_header.pack(_magic, count))
        for entry in entries:
            out.write(entry)
            written += 1
            if written % _merge_check_entries == 0 and stop():
                break
        else:
            assert written == count, (written, count)
            out.flush()
            os.fsync(out.fileno())
    if written != count:
        temporary.unlink()
        return None
    os.rename(temporary, path)
    sync_directory(directory)
    return path


class _Run:
    """One run file, mapped (rule 5)."""

    def __init__(self, path: Path, first: int, last: int) -> None:
        self.path, self.first, self.last = path, first, last
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size < _header.size:
                raise DecodeError("tx_index_run_damaged", "shorter than its header")
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        magic, self.count = _header.unpack_from(self._map)
        if magic != _magic or size != _header.size + self.count * _entry_bytes:
            raise DecodeError("tx_index_run_damaged", "not a run of this format, or cut short")

    @property
    def level(self) -> int:
        ratio = self.count / limits.tx_index_flush_entries
        return max(0, round(math.log(ratio, limits.tx_index_merge_width))) if ratio > 1 else 0

    def find(self, tx_hash: bytes) -> Location | None:
        data, low, high = self._map, 0, self.count
        while low < high:
            middle = (low + high) // 2
            start = _header.size + middle * _entry_bytes
            if data[start : start + _hash_bytes] < tx_hash:
                low = middle + 1
            else:
                high = middle
        start = _header.size + low * _entry_bytes
        if low == self.count or data[start : start + _hash_bytes] != tx_hash:
            return None
        height, index = _location.unpack_from(data, start + _hash_bytes)
        return height, index

    def entries(self) -> Iterator[bytes]:
        data = self._map
        for start in range(_header.size, _header.size + self.count * _entry_bytes, _entry_bytes):
            yield data[start : start + _entry_bytes]


@dataclass
class _Pending:
    """Entries in memory: of the blocks `first` to `last`, by hash."""

    first: int
    last: int
    entries: dict[bytes, Location]


class TransactionIndex:
    """The index of one store (module rules); `blocks(first, last)` yields the transaction
    hashes of each stored block of those heights, as (height, hashes)."""

    def __init__(
        self,
        directory: Path,
        first_height: int,
        tip_height: int,
        blocks: Callable[[int, int], Iterable[tuple[int, Sequence[bytes]]]],
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._lock = threading.Lock()
        self._stopping = False
        self._failed = False
        self._runs = self._open_runs(first_height)
        self._indexed_to = self._runs[-1].last if self._runs else first_height - 1
        self._recent = _Pending(self._indexed_to + 1, self._indexed_to, {})
        self._writing: list[_Pending] = []
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="tx-index")
        self._jobs: list[Future[None]] = []
        self._merging: subprocess.Popen[bytes] | None = None
        for height, hashes in blocks(self._indexed_to + 1, tip_height):
            self.add(height, hashes)

    def _open_runs(self, first_height: int) -> list[_Run]:
        """Rule 4: the runs that continue each other, the others deleted."""
        found = []
        for path in self._directory.iterdir():
            first_text, _, last_text = path.stem.partition("-")
            if path.suffix != ".run" or not (first_text.isdigit() and last_text.isdigit()):
                path.unlink()
                continue
            found.append((int(first_text), -int(last_text), path))
        runs: list[_Run] = []
        expected = min([first_height] + [first for first, _, _ in found])
        for first, minus_last, path in sorted(found):
            if runs and -minus_last <= runs[-1].last:
                path.unlink()  # lies within a run merged from it (rule 3)
                continue
            run = None
            if first == expected:
                try:
                    run = _Run(path, first, -minus_last)
                except (OSError, DecodeError) as error:
                    log.warning("transaction index run %s unreadable: %s", path.name, error)
            if run is None:
                expected = -1  # this one and every later one are indexed again
                path.unlink()
                continue
            runs.append(run)
            expected = run.last + 1
        return runs

    def add(self, height: int, tx_hashes: Sequence[bytes]) -> None:
        """Index the block of `height` (the next one stored)."""
        if height <= self._indexed_to:
            return  # in a run already (rule 4)
        recent = self._recent
        assert height == recent.last + 1, (height, recent.last)
        recent.last = height
        for index, tx_hash in enumerate(tx_hashes):
            recent.entries[tx_hash] = (height, index)
        self._indexed_to = height
        if len(recent.entries) >= limits.tx_index_flush_entries:
            self._hand_off()
            if len(self._jobs) > limits.tx_index_flushes_queued_max:
                self._jobs.pop(0).result()  # a disk slower than the blocks: wait for it

    def _hand_off(self) -> None:
        """Rule 2: the entries in memory to the worker, to be written as a run."""
        recent = self._recent
        with self._lock:
            self._writing.append(recent)
        self._recent = _Pending(recent.last + 1, recent.last, {})
        self._jobs = [job for job in self._jobs if not job.done()]
        self._jobs.append(self._worker.submit(self._flush, recent))

    def location(self, tx_hash: bytes) -> Location | None:
        """Rule 5: (height, index) of a committed transaction, or None."""
        found = self._recent.entries.get(tx_hash)
        if found is not None:
            return found
        with self._lock:
            writing, runs = list(self._writing), list(self._runs)
        for pending in reversed(writing):
            found = pending.entries.get(tx_hash)
            if found is not None:
                return found
        for run in reversed(runs):
            found = run.find(tx_hash)
            if found is not None:
                return found
        return None

    @property
    def runs(self) -> list[tuple[int, int, int]]:
        """(first, last, entries) of each run, oldest first."""
        with self._lock:
            return [(run.first, run.last, run.count) for run in self._runs]

    def wait(self) -> None:
        """Until the worker has written and merged everything handed to it."""
        while self._jobs:
            self._jobs.pop(0).result()

    def close(self) -> None:
        """Write the entries in memory as a run and stop the worker (merges are skipped and a
        merge under way is abandoned; its inputs stay)."""
        if self._stopping:
            return
        if self._recent.entries:
            self._hand_off()
        self._stopping = True
        merging = self._merging
        if merging is not None:
            merging.kill()
        self._worker.shutdown(wait=True)

    # The worker.

    def _flush(self, pending: _Pending) -> None:
        if self._failed:
            return  # rule 7: kept in memory
        try:
            entries = sorted(run_entry(h, location) for h, location in pending.entries.items())
            path = write_run(self._directory, pending.first, pending.last, entries, len(entries))
            assert path is not None
            run = _Run(path, pending.first, pending.last)
            with self._lock:
                self._runs.append(run)
                self._writing.remove(pending)
            self._merge()
        except (OSError, DecodeError, LocalError):
            log.exception("transaction index: a run could not be written; kept in memory")
            self._failed = True

    def _merge(self) -> None:
        """Rule 3."""
        width = limits.tx_index_merge_width
        while not self._stopping:
            with self._lock:
                newest = self._runs[-width:]
            if len(newest) < width or len({run.level for run in newest}) != 1:
                return
            first, last = newest[0].first, newest[-1].last
            arguments = [str(os.getpid()), str(self._directory), str(first), str(last)]
            self._merging = subprocess.Popen(
                [sys.executable, "-m", __name__, *arguments, *(str(r.path) for r in newest)],
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
            if self._stopping:
                self._merging.kill()
            exit_code = self._merging.wait()
            self._merging = None
            if self._stopping:
                return
            if exit_code != 0:
                raise LocalError(f"the merge of heights {first}-{last} exited with {exit_code}")
            run = _Run(self._directory / _run_name(first, last), first, last)
            with self._lock:
                self._runs[-width:] = [run]
            for old in newest:
                with contextlib.suppress(FileNotFoundError):
                    old.path.unlink()


def merge_runs(
    directory: Path, first: int, last: int, paths: Sequence[Path], stop: Callable[[], bool]
) -> Path | None:
    """Rule 3: the runs at `paths` merged into the run of heights `first` to `last`, written
    as `write_run` does; None if `stop` said so first."""
    runs = [_Run(path, 0, 0) for path in paths]
    merged = heapq.merge(*(run.entries() for run in runs))
    return write_run(directory, first, last, merged, sum(run.count for run in runs), stop)


def _merge_main(arguments: list[str]) -> int:
    """Rule 3, in the child of process `parent`: exit 0 once the merged run is in place."""
    parent, directory, first, last, *paths = arguments

    def orphaned() -> bool:
        return os.getppid() != int(parent)

    if orphaned():
        return 1
    merged = merge_runs(Path(directory), int(first), int(last), [Path(p) for p in paths], orphaned)
    return 0 if merged is not None else 1


if __name__ == "__main__":
    sys.exit(_merge_main(sys.argv[1:]))
