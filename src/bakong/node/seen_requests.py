"""The replay window of signed API requests, kept across restarts of the node.

A request is accepted once (`bakong.wire.request`); a node that forgot what it accepted when
it restarted would take a captured request again while its time is inside the skew. So every
accepted signature is appended to a file in the node's home before the request is served:

    DIR/seen_requests/<segment>.log   72-byte records: signature (64) || time_ms (8, big endian)
    DIR/seen_requests/running         while a node has it open: the machine's boot id, and
                                      the time before which requests are refused (rule 2)

Rules:
1. One append (`os.write` on an `O_APPEND` descriptor) per accepted request, no fsync: the
   record is in the kernel's page cache when the call returns, so a killed process (kill -9,
   a crash of the process) loses nothing. Measured on ext4: the append adds 2-5 us to a
   request whose checks take 115-180 us (the Ed25519 verification); an fsync per request
   would add 2.7 ms. A file of its own and not the node's LMDB environment: a write
   transaction per request would queue behind block commits, which hold LMDB's one writer
   lock while they write and sync.
2. A machine crash can lose what the page cache held. `running` tells: it is written and
   synced when the window opens, and removed when it closes, after a sync of the appends. A
   window that opens to find `running` naming another boot (or an unknown one) may have lost
   signatures accepted just before the crash. It cannot tell a replay of one of those from a
   new request, so it refuses (503 `replay_window_lost`) every request signed before the
   machine's boot time plus the skew: a lost request was accepted before the crash, so it was
   signed before that. A fresh home, a clean stop, or a kill on the same boot refuses
   nothing new (a kill keeps the refusal `running` recorded). Where the boot time cannot be
   read, the node's own start stands in for it (later, so it refuses more, never less).
3. The segment of a record is the server clock at its append divided by `segment_ms`. A
   record is needed while its time is within `limits.request_memory_ms` of the clock, at most
   `request_skew_ms_max + request_memory_ms = segment_ms` after its append, so only the
   current and the previous segment are kept; older files are deleted as the clock moves on,
   and a segment is synced when the next one starts.
4. On open, the records of the kept segments still inside the window are taken back into
   memory, oldest first; a torn last record (a crash inside a write) is ignored.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from bakong import limits
from bakong.node.durable import sync_directory
from bakong.wire.keys import signature_size
from bakong.wire.request import Seen, SeenRequests

__all__ = ["Boot", "PersistedSeenRequests", "segment_ms", "this_boot"]

segment_ms = limits.request_skew_ms_max + limits.request_memory_ms
_time = struct.Struct(">Q")
_record_bytes = signature_size + _time.size
_suffix = ".log"
_running_name = "running"


@dataclass(frozen=True, slots=True)
class Boot:
    """The machine's current boot: an id that changes at every boot ("" when unknown), and
    when it began (None when unknown)."""

    boot_id: str
    time_ms: int | None


def this_boot(proc: Path = Path("/proc")) -> Boot:
    """The current boot, from Linux's `boot_id` and `btime` (rounded up to the second)."""
    try:
        boot_id = (proc / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot_id = ""
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        stat = ""
    time_ms = None
    for line in stat.splitlines():
        name, _, value = line.partition(" ")
        if name == "btime" and value.strip().isdigit():
            time_ms = (int(value) + 1) * 1000
    return Boot(boot_id, time_ms)


def _segment_files(directory: Path) -> dict[int, Path]:
    files: dict[int, Path] = {}
    for path in directory.iterdir():
        if path.name.endswith(_suffix) and path.name[: -len(_suffix)].isdigit():
            files[int(path.name[: -len(_suffix)])] = path
    return files


def _records(data: bytes) -> list[tuple[bytes, int]]:
    whole = len(data) - len(data) % _record_bytes  # a torn last record is dropped (rule 4)
    return [
        (data[at : at + signature_size], _time.unpack_from(data, at + signature_size)[0])
        for at in range(0, whole, _record_bytes)
    ]


class PersistedSeenRequests:
    """A `ReplayWindow`: `SeenRequests` in memory, each accepted signature appended to disk.
    One process at a time opens a directory (the node's home is its own)."""

    def __init__(self, directory: Path, now_ms: int, boot: Boot) -> None:
        """Load the window from `directory` (created if missing) and mark it open (rule 2)."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory = directory
        self._running = directory / _running_name
        self.window = SeenRequests(refused_before_ms=self._lost_before_ms(boot, now_ms))
        loaded: list[tuple[bytes, int]] = []
        for segment, path in sorted(_segment_files(directory).items()):
            if segment < now_ms // segment_ms - 1:
                path.unlink()
                continue
            loaded += _records(path.read_bytes())
        for signature, time_ms in sorted(loaded, key=lambda record: record[1]):
            if time_ms >= now_ms - limits.request_memory_ms:
                self.window.remember(signature, time_ms)
        fd = os.open(self._running, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{boot.boot_id} {self.window.refused_before_ms}".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        sync_directory(directory)
        self._segment = -1
        self._fd = -1

    def _lost_before_ms(self, boot: Boot, now_ms: int) -> int:
        """Requests signed before this time may have been accepted and lost (rule 2)."""
        try:
            boot_id, _, refused_before = self._running.read_text().partition(" ")
        except FileNotFoundError:
            return 0  # closed cleanly, or never opened: every accepted signature is on disk
        if boot.boot_id and boot_id == boot.boot_id and refused_before.isdigit():
            return int(refused_before)  # killed, not crashed: the kernel kept every append
        started_ms = now_ms if boot.time_ms is None else min(boot.time_ms, now_ms)
        return started_ms + limits.request_skew_ms_max

    def add(self, signature: bytes, time_ms: int, now_ms: int) -> Seen:
        verdict = self.window.add(signature, time_ms, now_ms)
        if verdict is Seen.NEW:
            if now_ms // segment_ms != self._segment:
                self._start_segment(now_ms // segment_ms)
            written = os.write(self._fd, signature + _time.pack(time_ms))
            assert written == _record_bytes, "a short append to a regular file"
        return verdict

    def _start_segment(self, segment: int) -> None:
        """Append to `segment`'s file from now on; delete the files no longer needed (rule 3)."""
        self._close_segment()
        for old, path in _segment_files(self.directory).items():
            if old < segment - 1:
                path.unlink(missing_ok=True)
        path = self.directory / f"{segment}{_suffix}"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._segment = segment

    def _close_segment(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
        self._fd, self._segment = -1, -1

    def close(self) -> None:
        """Sync the appends, then mark the window closed cleanly (rule 2)."""
        self._close_segment()
        self._running.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.window)
