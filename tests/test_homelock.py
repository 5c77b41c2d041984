"""`bakong.homelock`: a second holder of a directory is refused with a precise error, also
within one process, while the first holds it; the lock goes with its process, even one killed
by SIGKILL; and the validator, restore and local-network commands each refuse a held home at
once (exit 2, saying why) rather than running beside its holder."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bakong.errors import ConfigError
from bakong.homelock import holding
from bakong.node.localnet import init_localnet

_HOLD = """
import sys, time
from pathlib import Path
from bakong.homelock import holding
with holding(Path(sys.argv[1]), "it"):
    print("held", flush=True)
    time.sleep(60)
"""


@contextmanager
def _held_by_a_child(directory: Path) -> Iterator[None]:
    """`directory` held by another process until the block ends; then that one is killed."""
    with subprocess.Popen([sys.executable, "-c", _HOLD, str(directory)],
                          stdout=subprocess.PIPE, text=True) as child:  # fmt: skip
        try:
            assert child.stdout is not None and child.stdout.readline() == "held\n"
            yield
        finally:
            child.send_signal(signal.SIGKILL)


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    with holding(tmp_path, "the home"):
        with pytest.raises(ConfigError, match="the home is in use by another process"):
            with holding(tmp_path, "the home"):
                pass
    with holding(tmp_path, "the home"):
        pass
    assert list(tmp_path.iterdir()) == []  # no lock file left behind
    with pytest.raises(ConfigError, match="the home: No such file"):
        with holding(tmp_path / "missing", "the home"):
            pass


def test_the_lock_goes_with_a_killed_process(tmp_path: Path) -> None:
    with _held_by_a_child(tmp_path), pytest.raises(ConfigError):
        with holding(tmp_path, "the home"):
            pass
    with holding(tmp_path, "the home"):
        pass


def test_commands_refuse_a_held_home(tmp_path: Path) -> None:
    network = tmp_path / "net"
    init_localnet(network, 4)
    home = network / "validator-0"
    commands = [
        (home, ["node", "run", "--home", str(home)]),
        (home, ["node", "restore", "--home", str(home), "--from", "http://127.0.0.1:9"]),
        (network, ["localnet", "start", "--home", str(network)]),
    ]
    for held, arguments in commands:
        with _held_by_a_child(held):
            done = subprocess.run([sys.executable, "-m", "bakong", *arguments],
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, (arguments, done.stderr)
        assert "is in use by another process" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
