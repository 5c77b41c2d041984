"""Conformance vectors that installed commands need, shipped as package data.

`khqr-published.json` holds the 100 published KHQR strings with the official SDK's recorded
verdicts, decode output and md5 (docs/khqr.md §11): `bakong bench qr` times them and the tests
check every one. Vectors only the tests need stay in the checkout's `tests/vectors/`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["KHQR_PUBLISHED", "load"]

KHQR_PUBLISHED = "khqr-published.json"


def load(name: str) -> list[dict[str, Any]]:
    """The vector list in the package data file `name`."""
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    vectors: list[dict[str, Any]] = json.loads(text)
    return vectors
