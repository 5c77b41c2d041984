"""`bakong.node.snapshot_files`: a snapshot's chunks written to one file come back whole and in
order, with the manifest; an index it does not hold, or a damaged file, gives None rather than
wrong bytes or a crash; a snapshot of the earlier layout (a file per chunk) is still served;
only the newest `kept` snapshots stay."""

from __future__ import annotations

import os
from pathlib import Path

from bakong.node.snapshot import chunk_entries
from bakong.node.snapshot_files import SnapshotFiles

CHAIN = "bakong-test"


def _entries(count: int) -> list[tuple[bytes, bytes]]:
    # Values of 40 KB: a chunk closes at 1 MiB, so these make several.
    return [(b"a/%08d" % i, os.urandom(40_000)) for i in range(count)]


def test_every_chunk_comes_back_whole_and_in_order(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path)
    entries = _entries(120)
    manifest = files.write(CHAIN, 7, b"\x01" * 32, b"\x02" * 32, entries)
    expected = [chunk for chunk, _ in chunk_entries(entries)]
    assert len(expected) == len(manifest.chunk_hashes) >= 4
    assert [files.chunk(7, i) for i in range(len(expected))] == expected
    assert files.chunk(7, len(expected)) is None and files.chunk(7, -1) is None
    assert files.chunk(8, 0) is None and files.manifest(7) == manifest
    assert sorted(p.name for p in (tmp_path / f"{7:020d}").iterdir()) == [
        "chunks.bin", "manifest.bin"
    ]


def test_a_damaged_chunk_file_gives_none(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path)
    files.write(CHAIN, 7, b"\x01" * 32, b"\x02" * 32, _entries(60))
    path = tmp_path / f"{7:020d}" / "chunks.bin"
    whole = path.read_bytes()
    good = [files.chunk(7, i) for i in range(3)]
    assert None not in good
    # No count, a torn count or offset table, a count beyond the file: nothing is served.
    for damaged in (b"", whole[:3], whole[:-5], whole[:-4] + b"\xff\xff\xff\xff"):
        path.write_bytes(damaged)
        assert [files.chunk(7, i) for i in range(3)] == [None] * 3
    # The end of the last chunk past the offset table: that chunk only.
    path.write_bytes(whole[:-12] + b"\x7f" * 8 + whole[-4:])
    assert [files.chunk(7, i) for i in range(3)] == [*good[:2], None]


def test_the_earlier_layout_is_still_served_and_old_snapshots_pruned(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path, kept=2)
    earlier = tmp_path / f"{3:020d}"
    earlier.mkdir()
    (earlier / "chunk-0.bin").write_bytes(b"first")
    assert files.chunk(3, 0) == b"first" and files.chunk(3, 1) is None
    files.write(CHAIN, 5, b"\x01" * 32, b"\x02" * 32, _entries(3))
    files.write(CHAIN, 6, b"\x01" * 32, b"\x02" * 32, _entries(3))
    assert files.heights() == [5, 6] and files.chunk(3, 0) is None
