"""A validator's state snapshots on disk, served to joining nodes (`bakong.node.snapshot`).

Layout under the store's `snapshots/` directory: one directory per snapshot height (20 digits,
so names sort by height) holding `manifest.bin` (the canonical manifest) and `chunk-N.bin` for
each chunk. A snapshot is written under `<height>.partial` and renamed when complete, so a
directory without the suffix is always whole; partial ones left by a killed process are removed
when the store opens. The newest `kept` snapshots are kept.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from bakong import limits
from bakong.errors import DecodeError
from bakong.node.durable import sync_directory
from bakong.node.snapshot import Manifest, build_manifest, decode_manifest
from bakong.wire.codec import encode

__all__ = ["SnapshotFiles"]

_partial = ".partial"


class SnapshotFiles:
    def __init__(self, directory: Path, kept: int = 2) -> None:
        assert kept >= 1
        self.directory = directory
        self.kept = kept
        directory.mkdir(parents=True, exist_ok=True)
        for path in directory.iterdir():
            if path.name.endswith(_partial):
                # The digest process of a validator killed a moment ago may still be finishing
                # (or renaming) this one: whichever of us is first, the directory goes.
                shutil.rmtree(path, ignore_errors=True)

    def _path(self, height: int) -> Path:
        return self.directory / f"{height:020d}"

    def write(
        self,
        chain_id: str,
        height: int,
        block_hash: bytes,
        app_hash: bytes,
        entries: Iterable[tuple[bytes, bytes]],
    ) -> Manifest:
        """Digest and write the state after `height`, whose entries come in key order."""
        final = self._path(height)
        partial = final.with_name(final.name + _partial)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()

        def sink(index: int, chunk: bytes) -> None:
            (partial / f"chunk-{index}.bin").write_bytes(chunk)

        manifest = build_manifest(chain_id, height, block_hash, app_hash, entries, sink)
        (partial / "manifest.bin").write_bytes(encode(manifest))
        _fsync_tree(partial)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        self._prune()
        return manifest

    def heights(self) -> list[int]:
        """The complete snapshots, oldest first."""
        return sorted(
            int(path.name) for path in self.directory.iterdir() if path.name.isdigit()
        )

    def manifest(self, height: int) -> Manifest | None:
        try:
            return decode_manifest((self._path(height) / "manifest.bin").read_bytes())
        except (FileNotFoundError, DecodeError):
            return None

    def chunk(self, height: int, index: int) -> bytes | None:
        if index < 0:
            return None
        path = self._path(height) / f"chunk-{index}.bin"
        try:
            if path.stat().st_size > limits.snapshot_chunk_bytes_max:
                return None
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _prune(self) -> None:
        for height in self.heights()[: -self.kept]:
            shutil.rmtree(self._path(height), ignore_errors=True)


def _fsync_tree(directory: Path) -> None:
    """The files and the directory itself are on disk before the rename publishes them."""
    for path in directory.iterdir():
        with path.open("rb") as file:
            os.fsync(file.fileno())
    sync_directory(directory)
