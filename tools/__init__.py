"""Developer tooling run from the checkout, never installed: the KHQR differential harness
against the official SDK (`python -m tools.qrdiff`) and the fuzzers' drivers
(`python -m tools.fuzz tx|qr`). The tests import them; the `bakong` package never does.

Paths here may be relative to the checkout (`ROOT`), since these modules only run from one.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT"]

ROOT = Path(__file__).resolve().parent.parent
