"""`bakong.lifeline`: the validators a supervisor started stop when that supervisor is killed
outright (SIGKILL), letting go of their homes, instead of running on as orphans; and a process
without a lifeline is not affected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bakong import lifeline
from bakong.homelock import holding
from bakong.node.localnet import init_localnet

_SUPERVISE = """
import sys, time
from pathlib import Path
from bakong.node.localnet import Localnet
network = Localnet(Path(sys.argv[1]))
network.start()
assert network.wait_for_height(1, 120.0)
print(" ".join(str(child.process.pid) for child in network.children), flush=True)
time.sleep(300)
"""


def _gone(pid: int) -> bool:
    """The process has exited (a zombie counts: nobody may reap it in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_validators_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    init_localnet(tmp_path, validators=4)
    with subprocess.Popen([sys.executable, "-c", _SUPERVISE, str(tmp_path)],
                          stdout=subprocess.PIPE, text=True) as supervisor:  # fmt: skip
        assert supervisor.stdout is not None
        line = supervisor.stdout.readline()
        validators = [int(pid) for pid in line.split()]
        assert len(validators) == 4, line
        try:
            assert not any(_gone(pid) for pid in validators)
            supervisor.send_signal(signal.SIGKILL)
            supervisor.wait()
            deadline = time.monotonic() + 60.0
            while not all(_gone(pid) for pid in validators) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert all(_gone(pid) for pid in validators), "a validator outlived its supervisor"
        finally:
            for pid in validators:
                if not _gone(pid):
                    os.kill(pid, signal.SIGKILL)
    for home in sorted(tmp_path.glob("validator-*")):
        with holding(home, "a validator's home"):  # let go of
            pass
        log = (home / "stdout.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-2_000:]


def test_without_a_lifeline_watch_follows_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def following() -> bool:
        return any(thread.name == "lifeline" for thread in threading.enumerate())

    monkeypatch.delenv(lifeline.LIFELINE_VARIABLE, raising=False)
    lifeline.watch()
    assert not following()
    monkeypatch.setenv(lifeline.LIFELINE_VARIABLE, "not a descriptor")
    lifeline.watch()
    assert not following()
    assert lifeline.LIFELINE_VARIABLE not in os.environ  # never handed on


def test_a_child_is_given_the_read_end_only() -> None:
    options = lifeline.child_options({"X": "1"})
    (read_end,) = options["pass_fds"]
    assert options["env"] == {"X": "1", lifeline.LIFELINE_VARIABLE: str(read_end)}
    assert options["start_new_session"] is True
    assert not os.get_inheritable(read_end)  # handed on by pass_fds alone
