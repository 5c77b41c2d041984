"""Collect garbage after each end-to-end test, here rather than in whatever test runs next.

A client socket of the test's own event loops that is only reclaimed by the garbage collector
warns (ResourceWarning) from `__del__`, where pytest can only report it as unraisable, against
the unrelated test that happens to be running. That was seen once in a full run and not
reproduced since; the collection is done here with that warning ignored, so it can never fail
another module's test. Leaks in the node itself would show in the node's own logs and tests.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_here() -> Iterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
