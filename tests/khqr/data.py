"""The conformance vectors for the KHQR tests, copied from shared/vectors into tests/vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load_vectors(name: str) -> list[dict[str, Any]]:
    """The vector list in tests/vectors/`name`."""
    with (VECTORS / name).open(encoding="utf-8") as handle:
        data: list[dict[str, Any]] = json.load(handle)
    return data


KHQR_VECTORS = load_vectors("khqr-published.json")
FOREIGN_VECTORS = load_vectors("foreign-qr.json")
