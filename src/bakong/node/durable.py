"""Making a file's name durable: after a file is synced and renamed (or created) in a
directory, the directory itself is synced, or a power loss may forget the name and keep the
data. Used by the node's own files beside its LMDB store (the request window, the snapshots,
the transaction index)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["sync_directory"]


def sync_directory(directory: Path) -> None:
    """The entries of `directory` (created, renamed, deleted files) are on disk."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
