"""A validator's state snapshots on disk, served to joining nodes (`bakong.node.snapshot`).

Layout under the store's `snapshots/` directory: one directory per snapshot height (20 digits,
so names sort by height) holding `manifest.bin` (the canonical manifest) and `chunks.bin`: the
chunks one after another, then the offset of each and the end of the last (big-endian u64),
then their count (u32). A snapshot is written under `<height>.partial` and renamed when
complete, so a directory without the suffix is always whole; partial ones left by a killed
process are removed when the store opens. The newest `kept` snapshots are kept.

One file for the chunks rather than one per chunk: each file must be synced before the rename
publishes it, and on ext4 each sync of a new file commits the journal, which the validator's
own syncs (its blocks, its double-sign guard) then queue behind; a file per chunk made about
20 syncs per snapshot at 100,000 accounts, on every validator at the same height. Measured
under half load (docs/performance.md, session 17), the syncs are a part of what slows the
blocks after a snapshot height, not most of it. A directory of the earlier layout
(`chunk-N.bin`) is still served.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from bakong import limits
from bakong.errors import DecodeError
from bakong.node.durable import sync_directory
from bakong.node.snapshot import Manifest, build_manifest, decode_manifest
from bakong.wire.codec import encode

__all__ = ["SnapshotFiles"]

_partial = ".partial"
_chunks_file = "chunks.bin"
_offset = struct.Struct(">Q")
_count = struct.Struct(">I")


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

        offsets = [0]
        with open(partial / _chunks_file, "wb") as chunks:

            def sink(index: int, chunk: bytes) -> None:
                chunks.write(chunk)
                offsets.append(offsets[-1] + len(chunk))

            manifest = build_manifest(chain_id, height, block_hash, app_hash, entries, sink)
            chunks.write(b"".join(_offset.pack(offset) for offset in offsets))
            chunks.write(_count.pack(len(offsets) - 1))
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
        directory = self._path(height)
        try:
            with open(directory / _chunks_file, "rb") as chunks:
                return _read_chunk(chunks, index)
        except FileNotFoundError:
            pass
        path = directory / f"chunk-{index}.bin"  # the earlier layout
        try:
            if path.stat().st_size > limits.snapshot_chunk_bytes_max:
                return None
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _prune(self) -> None:
        for height in self.heights()[: -self.kept]:
            shutil.rmtree(self._path(height), ignore_errors=True)


def _read_chunk(chunks: BinaryIO, index: int) -> bytes | None:
    """Chunk `index` of a `chunks.bin`; None where the file does not hold it whole."""
    size = os.fstat(chunks.fileno()).st_size
    if size < _count.size:
        return None
    chunks.seek(size - _count.size)
    (count,) = _count.unpack(chunks.read(_count.size))
    table = size - _count.size - _offset.size * (count + 1)
    if index >= count or count > limits.snapshot_chunks_max or table < 0:
        return None
    chunks.seek(table + _offset.size * index)
    start, end = struct.unpack(">QQ", chunks.read(2 * _offset.size))
    if not start <= end <= table or end - start > limits.snapshot_chunk_bytes_max:
        return None
    chunks.seek(start)
    return chunks.read(end - start)


def _fsync_tree(directory: Path) -> None:
    """The files and the directory itself are on disk before the rename publishes them."""
    for path in directory.iterdir():
        with path.open("rb") as file:
            os.fsync(file.fileno())
    sync_directory(directory)
