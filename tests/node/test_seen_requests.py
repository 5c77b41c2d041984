"""The persisted replay window (`bakong.node.seen_requests`): what survives a restart.

The kill test runs the window in a child process that kills itself with SIGKILL after its
appends, so nothing is closed or flushed by Python; the window reopened here must hold them.
A machine crash is a window left open (never closed) and reopened under another boot id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bakong import limits
from bakong.node.seen_requests import Boot, PersistedSeenRequests, segment_ms, this_boot
from bakong.wire.request import Seen

NOW_MS = 1_800_000_000_000
BOOT = Boot("boot-1", NOW_MS - 86_400_000)  # a machine up for a day
SKEW_MS = limits.request_skew_ms_max


def _signature(number: int) -> bytes:
    return number.to_bytes(64, "big")


def test_accepted_signatures_are_refused_after_a_clean_restart(tmp_path: Path) -> None:
    window = PersistedSeenRequests(tmp_path, NOW_MS, BOOT)
    assert window.add(_signature(1), NOW_MS, NOW_MS) is Seen.NEW
    assert window.add(_signature(2), NOW_MS + 5, NOW_MS + 5) is Seen.NEW
    window.close()
    assert not (tmp_path / "running").exists()
    again = PersistedSeenRequests(tmp_path, NOW_MS + 10, BOOT)
    assert len(again) == 2 and again.window.refused_before_ms == 0
    assert again.add(_signature(1), NOW_MS, NOW_MS + 10) is Seen.REPLAYED
    assert again.add(_signature(2), NOW_MS + 5, NOW_MS + 10) is Seen.REPLAYED
    assert again.add(_signature(3), NOW_MS + 10, NOW_MS + 10) is Seen.NEW
    again.close()


_child = """
import os, signal, sys
from pathlib import Path
from bakong.node.seen_requests import PersistedSeenRequests, this_boot
now = int(sys.argv[2])
window = PersistedSeenRequests(Path(sys.argv[1]), now, this_boot())
for number in range(100):
    assert window.add(number.to_bytes(64, "big"), now + number, now + number).value == "new"
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_process_loses_nothing_and_refuses_nothing_new(tmp_path: Path) -> None:
    now_ms = time.time_ns() // 1_000_000
    child = subprocess.run([sys.executable, "-c", _child, str(tmp_path), str(now_ms)], check=False)
    assert child.returncode == -signal.SIGKILL
    assert (tmp_path / "running").exists()  # it never closed
    window = PersistedSeenRequests(tmp_path, now_ms + 100, this_boot())
    assert len(window) == 100
    for number in range(100):
        assert window.add(_signature(number), now_ms + number, now_ms + 100) is Seen.REPLAYED
    assert window.add(_signature(100), now_ms - 1, now_ms + 100) is Seen.NEW
    window.close()


def test_after_a_machine_crash_requests_signed_before_boot_plus_skew_are_lost(
    tmp_path: Path,
) -> None:
    crashed = PersistedSeenRequests(tmp_path, NOW_MS, BOOT)
    assert crashed.add(_signature(1), NOW_MS, NOW_MS) is Seen.NEW
    # No close: the machine went down. It boots again 10 s later; the node starts at once.
    booted = NOW_MS + 10_000
    window = PersistedSeenRequests(tmp_path, booted + 1_000, Boot("boot-2", booted))
    fence = booted + SKEW_MS
    assert window.add(_signature(2), fence - 1, booted + 1_000) is Seen.LOST
    assert window.add(_signature(1), NOW_MS, booted + 1_000) is Seen.REPLAYED  # it was kept
    # Killed during that minute, restarted on the same boot: the refusal still holds.
    rerun = PersistedSeenRequests(tmp_path, booted + 2_000, Boot("boot-2", booted))
    assert rerun.add(_signature(2), fence - 1, booted + 2_000) is Seen.LOST
    assert rerun.add(_signature(3), fence, fence) is Seen.NEW
    rerun.close()
    # Without a boot id or time, the node's own start stands in for the boot.
    PersistedSeenRequests(tmp_path, NOW_MS, BOOT)  # opened, then a crash: never closed
    unknown = PersistedSeenRequests(tmp_path, NOW_MS + 5, Boot("", None))
    assert unknown.window.refused_before_ms == NOW_MS + 5 + SKEW_MS
    unknown.close()


def test_a_fresh_home_right_after_boot_refuses_nothing(tmp_path: Path) -> None:
    window = PersistedSeenRequests(tmp_path / "new", NOW_MS, Boot("boot-3", NOW_MS - 1_000))
    assert window.window.refused_before_ms == 0
    assert window.add(_signature(1), NOW_MS - 30_000, NOW_MS) is Seen.NEW
    window.close()


def test_only_the_current_and_previous_segments_are_kept(tmp_path: Path) -> None:
    start = (NOW_MS // segment_ms) * segment_ms
    window = PersistedSeenRequests(tmp_path, start, BOOT)
    for step in range(4):  # one append in each of four consecutive segments
        now = start + step * segment_ms
        assert window.add(_signature(step), now, now) is Seen.NEW
    window.close()
    segments = sorted(int(path.stem) for path in tmp_path.glob("*.log"))
    assert segments == [start // segment_ms + 2, start // segment_ms + 3]
    # Reopened in the next segment: the older file goes; the newer is read, and its record
    # (a whole segment old, more than the window's memory) is not taken back.
    again = PersistedSeenRequests(tmp_path, start + 4 * segment_ms, BOOT)
    assert sorted(int(path.stem) for path in tmp_path.glob("*.log")) == [start // segment_ms + 3]
    assert segment_ms > limits.request_memory_ms and len(again) == 0
    again.close()


def test_a_record_is_kept_as_long_as_the_window_needs_it(tmp_path: Path) -> None:
    # Appended at the end of a segment with a time a whole skew ahead: the latest record a
    # segment can hold. It must still load just before it leaves the window.
    appended = (NOW_MS // segment_ms + 1) * segment_ms - 1
    time_ms = appended + SKEW_MS
    window = PersistedSeenRequests(tmp_path, appended, BOOT)
    assert window.add(_signature(7), time_ms, appended) is Seen.NEW
    window.close()
    last_needed = time_ms + limits.request_memory_ms
    again = PersistedSeenRequests(tmp_path, last_needed, BOOT)
    assert again.add(_signature(7), time_ms, last_needed) is Seen.REPLAYED
    again.close()


def test_a_torn_last_record_is_ignored(tmp_path: Path) -> None:
    window = PersistedSeenRequests(tmp_path, NOW_MS, BOOT)
    assert window.add(_signature(1), NOW_MS, NOW_MS) is Seen.NEW
    window.close()
    (segment,) = tmp_path.glob("*.log")
    with segment.open("ab") as file:
        file.write(_signature(2)[:40])
    again = PersistedSeenRequests(tmp_path, NOW_MS + 1, BOOT)
    assert len(again) == 1
    assert again.add(_signature(1), NOW_MS, NOW_MS + 1) is Seen.REPLAYED
    again.close()


def test_the_boot_is_read_from_proc(tmp_path: Path) -> None:
    (tmp_path / "sys/kernel/random").mkdir(parents=True)
    (tmp_path / "sys/kernel/random/boot_id").write_text("0d9f-boot\n")
    (tmp_path / "stat").write_text("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n")
    assert this_boot(tmp_path) == Boot("0d9f-boot", 1_700_000_001_000)
    assert this_boot(tmp_path / "missing") == Boot("", None)
    if Path("/proc/stat").exists():
        boot = this_boot()
        assert boot.boot_id and boot.time_ms is not None
        assert boot.time_ms <= time.time_ns() // 1_000_000 + 1_000


def test_the_files_are_private(tmp_path: Path) -> None:
    window = PersistedSeenRequests(tmp_path / "seen", NOW_MS, BOOT)
    window.add(_signature(1), NOW_MS, NOW_MS)
    assert (tmp_path / "seen").stat().st_mode & 0o777 == 0o700
    for path in (tmp_path / "seen").iterdir():
        assert os.stat(path).st_mode & 0o777 == 0o600, path
    window.close()
