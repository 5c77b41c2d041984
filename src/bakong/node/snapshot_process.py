"""State snapshots digested in a process of their own, beside the validator that owns the store.

A digest reads every state entry and hashes it (`bakong.node.snapshot` rule 2): about half a
second of CPU at 10^5 accounts, tens of seconds at 10^7. In a thread of the validator it held
the GIL half the time its event loop wanted it, on every validator at the same height, and the
block that carries the root waited for it: the whole chain stalled for one to two seconds at
every snapshot (measured under `bakong bench network` at half load: 100 heights, the local
network's interval, pass in 12-15 s). LMDB lets another process read beside the writer, so the
digest runs there instead, at the least CPU priority (`limits.snapshot_process_nice`): at
equal priority the four digests of a local network, on the cores its validators share, still
stalled the chain for a second or two after every snapshot height (docs/performance.md).

Protocol, one line each way per step (the parent's side is `SnapshotProcess`, the child's is
`main`):
1. The parent, having just committed a snapshot height, writes `digest <height> <block hash>
   <app hash>` (hex) to the child's stdin.
2. The child begins a read transaction and answers `open` when the store's tip is that block,
   else `stale`. Until that answer the parent commits no block (`wait_opened`), so the
   child's transaction holds exactly the snapshot height's state, whatever is written next.
3. The child digests, writes the snapshot's files (`SnapshotFiles.write`, under `.partial`
   until complete) and answers `done <manifest hex>`, or `failed <reason>`.
4. The child exits when its stdin closes (the store closed or its process died), and abandons
   a digest once its parent is gone, so a restarted validator's own digest of the same height
   never races a stale one.

A digest that could not be made (a child that died, a stale tip, a full disk) is a lost
snapshot: the chain goes on without this validator's root (`bakong.node.snapshot` rule 4).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import IO

import msgspec

from bakong import limits
from bakong.errors import LocalError
from bakong.node.chain_env import open_read_only, read_tip, state_items
from bakong.node.snapshot import Manifest, decode_manifest
from bakong.node.snapshot_files import SnapshotFiles
from bakong.wire.codec import encode

__all__ = ["SnapshotProcess"]

_log = logging.getLogger(__name__)
#: Entries between two checks that the parent is still alive.
_entries_per_parent_check = 65_536


class SnapshotProcess:
    """The parent's side of the protocol for the store at `path` (module rules)."""

    def __init__(self, path: Path, map_bytes: int, chain_id: str) -> None:
        self._argv = [
            sys.executable, "-m", "bakong.node.snapshot_process", str(path), str(map_bytes),
            chain_id,
        ]  # fmt: skip
        self._child: subprocess.Popen[bytes] | None = None
        self._requests = ThreadPoolExecutor(1, thread_name_prefix="snapshot")
        self._running: Future[Manifest | None] | None = None
        self._opened = threading.Event()
        self._opened.set()

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    def start(self) -> None:
        """Start the child now, so that its start-up is over before the snapshot height."""
        if self._child is None:  # read outside the requests' thread: at worst one more submit
            self._requests.submit(self._start)

    def _start(self) -> None:
        # Only the requests' thread changes the child.
        if self._child is not None and self._child.poll() is not None:
            _retire(self._child)
            self._child = None
        if self._child is None:
            self._child = subprocess.Popen(
                self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True
            )

    def digest(self, height: int, block_hash: bytes, app_hash: bytes) -> Future[Manifest | None]:
        """Rule 1: ask for the digest of the height just committed. While the previous one
        is still running this one is lost: waiting for it would hold the blocks back."""
        if self._running is not None and not self._running.done():
            _log.error("snapshot %d lost: the previous digest is still running", height)
            lost: Future[Manifest | None] = Future()
            lost.set_result(None)
            return lost
        self._opened.clear()
        self._running = self._requests.submit(self._request, height, block_hash, app_hash)
        return self._running

    def wait_opened(self) -> None:
        """Rule 2: return once the child holds the last snapshot height's state (or gave up)."""
        if not self._opened.wait(limits.snapshot_open_wait_s):
            _log.warning("the snapshot process has not opened its transaction: committing")

    def close(self) -> None:
        """Let a digest in progress finish, then end the child."""
        self._requests.shutdown(wait=True)
        child, self._child = self._child, None
        if child is not None:
            _retire(child, limits.snapshot_process_exit_s)

    def _request(self, height: int, block_hash: bytes, app_hash: bytes) -> Manifest | None:
        try:
            opened = self._open(f"digest {height} {block_hash.hex()} {app_hash.hex()}\n")
            self._opened.set()
            if opened != [b"open"]:
                _log.error("snapshot %d lost: the digest process answered %r", height, opened)
                return None
            assert self._child is not None and self._child.stdout is not None
            answer = self._child.stdout.readline().split()
            if len(answer) == 2 and answer[0] == b"done":
                return decode_manifest(bytes.fromhex(answer[1].decode()))
            _log.error("snapshot %d failed: %s", height, b" ".join(answer[1:]).decode())
            return None
        except (OSError, ValueError, msgspec.DecodeError) as error:
            _log.error("snapshot %d lost: %s", height, error)
            if self._child is not None:
                self._child.kill()
            return None
        finally:
            self._opened.set()

    def _open(self, request: str) -> list[bytes]:
        """Steps 1 and 2; a child that died while idle is replaced and asked again, once."""
        opened = self._ask(request)
        if not opened and self._child is not None:
            _retire(self._child)
            self._child = None
            opened = self._ask(request)
        return opened

    def _ask(self, request: str) -> list[bytes]:
        self._start()
        child = self._child
        assert child is not None and child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(request.encode())
            child.stdin.flush()
            return child.stdout.readline().split()
        except BrokenPipeError:
            return []


def _retire(child: subprocess.Popen[bytes], exit_s: float = 0.0) -> None:
    """End `child` (its stdin closed: it exits; else killed after `exit_s`) and close its pipes."""
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.close()
    except BrokenPipeError:
        pass
    try:
        child.wait(exit_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    child.stdout.close()


def _while_parent_lives(entries: Iterable[tuple[bytes, bytes]]) -> Iterator[tuple[bytes, bytes]]:
    parent = os.getppid()
    iterator = iter(entries)
    while batch := list(islice(iterator, _entries_per_parent_check)):
        if os.getppid() != parent:  # the validator that asked is gone: so is its digest
            raise SystemExit(0)
        yield from batch


def _answer(out: IO[bytes], line: str) -> None:
    out.write(line.encode() + b"\n")
    out.flush()


def main(argv: list[str]) -> int:
    """The child (module rules), run as
    `python -m bakong.node.snapshot_process STORE MAP_BYTES CHAIN_ID`."""
    # Ctrl-C in a terminal reaches the whole process group: the validator closes this process
    # itself (rule 4), a traceback here would only be noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(limits.snapshot_process_nice)
    path, map_bytes, chain_id = Path(argv[0]), int(argv[1]), argv[2]
    env, state_db, meta_db, writes_db = open_read_only(path, map_bytes)
    files = SnapshotFiles(path / "snapshots")
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        words = line.split()
        if len(words) != 4 or words[0] != b"digest":
            _answer(out, "stale")
            continue
        height = int(words[1])
        block_hash, app_hash = bytes.fromhex(words[2].decode()), bytes.fromhex(words[3].decode())
        txn = env.begin(buffers=False)
        try:
            tip = read_tip(txn, meta_db)
            if (tip.height, tip.block_hash, tip.app_hash) != (height, block_hash, app_hash):
                _answer(out, "stale")
                continue
            _answer(out, "open")
            entries = _while_parent_lives(state_items(txn, state_db, writes_db))
            try:
                manifest = files.write(chain_id, height, block_hash, app_hash, entries)
            except (OSError, LocalError) as error:
                _answer(out, f"failed {error}".replace("\n", " "))
                continue
            _answer(out, f"done {encode(manifest).hex()}")
        finally:
            txn.abort()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
