"""The conformance vectors for the KHQR tests: the published KHQR vectors from the installed
package's data (`bakong.vectors`, the same file `bakong bench qr` reads), the foreign-scheme
vectors from tests/vectors (copied from shared/vectors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bakong import vectors

TEST_VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load_test_vectors(name: str) -> list[dict[str, Any]]:
    """The vector list in tests/vectors/`name`."""
    with (TEST_VECTORS / name).open(encoding="utf-8") as handle:
        data: list[dict[str, Any]] = json.load(handle)
    return data


KHQR_VECTORS = vectors.load(vectors.KHQR_PUBLISHED)
FOREIGN_VECTORS = load_test_vectors("foreign-qr.json")
