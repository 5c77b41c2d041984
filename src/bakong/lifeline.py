"""A supervised child's lifeline: it stops when its supervisor is gone, however that went.

The demo, the local network and the benchmarks start their services in sessions of their own,
so that a Ctrl-C reaches the supervisor, which stops them in order. A supervisor killed outright
(SIGKILL, an out-of-memory kill) never stops them: they kept running, holding their homes and
answering the next demo's health checks on its ports.

The supervisor makes one pipe and keeps its write end, which no child inherits; every child is
given the read end (`child_options`). A thread in the child (`watch`, called by `python -m
bakong`) blocks reading it; the read returns end-of-file only when the supervisor process is
gone, since the kernel closes the write end with it. The child then stops as if told to
(SIGTERM to itself, so services shut down the way they always do), and exits outright if it has
not after `limits.localnet_stop_grace_s`: a validator's store survives that as it survives
`kill -9`. A pipe, rather than Linux's parent-death signal, because that signal follows the
thread that started the child, not the process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

from bakong import limits

__all__ = ["LIFELINE_VARIABLE", "child_options", "watch"]

LIFELINE_VARIABLE = "BAKONG_LIFELINE_FD"

_pipe: tuple[int, int] | None = None
_lock = threading.Lock()


def _read_end() -> int:
    global _pipe
    with _lock:
        if _pipe is None:
            _pipe = os.pipe()  # both ends non-inheritable: only `pass_fds` hands one on
        return _pipe[0]


def child_options(environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`subprocess.Popen` keywords for a supervised child: its own session, the lifeline's read
    end, and `environment` (this process's by default) naming it."""
    read_end = _read_end()
    base = os.environ if environment is None else environment
    return {
        "start_new_session": True,  # a Ctrl-C reaches the supervisor, which stops the child
        "pass_fds": (read_end,),
        "env": {**base, LIFELINE_VARIABLE: str(read_end)},
    }


def watch() -> None:
    """In a child given a lifeline: stop this process once its supervisor is gone."""
    value = os.environ.pop(LIFELINE_VARIABLE, None)  # not handed on to our own children
    if value is None:
        return
    try:
        descriptor = int(value)
        os.set_inheritable(descriptor, False)
    except (ValueError, OSError):
        return  # not a descriptor this process was given: no supervisor to follow
    threading.Thread(target=_follow, args=(descriptor,), name="lifeline", daemon=True).start()


def _follow(descriptor: int) -> None:
    try:
        while os.read(descriptor, 1):
            pass  # nobody writes; end-of-file is the only answer that matters
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(limits.localnet_stop_grace_s)
    os._exit(1)
