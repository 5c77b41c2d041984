"""One process at a time on a home: an exclusive lock on the directory itself.

A validator's home holds its node key and its double-sign guard. Two processes running one
home would each keep their own idea of what the key has signed, and could sign two blocks at
one height; a second local network supervisor on the same directory would find the first one's
validators answering on its ports and report them as its own. So `bakong node run`, `bakong
node restore` and `bakong localnet start` / `bakong demo` hold their directory for as long as
they run, and a second one stops at once with a `ConfigError` saying so.

The lock is `flock` on the directory's file descriptor: the kernel releases it when the
process exits however it exits (SIGKILL included), so a crash never leaves a stale lock, and
no file is added to the directory. The descriptor is not inherited by child processes.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bakong.errors import ConfigError

__all__ = ["holding"]


@contextmanager
def holding(directory: Path, what: str) -> Iterator[None]:
    """Hold `directory` (which must exist) while the block runs; `what` names it in the error,
    e.g. "the validator home validator-0"."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise ConfigError(f"{what}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"{what} is in use by another process: stop that one first") from None
        yield
    finally:
        os.close(descriptor)
