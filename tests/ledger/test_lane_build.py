"""Where a C compiler and Python's headers are present, the compiled transfer lane must be
built, and built from the `_lane.c` in the tree. The extension is optional at install (a
machine without a compiler still installs, and runs the general path), so a broken `_lane.c`
would otherwise only print a warning during the install and leave the tests running an older
binary, or none. Only a machine without a compiler skips this, and the skip says so."""

from __future__ import annotations

import importlib
import shutil
import sysconfig
from pathlib import Path

import pytest

from bakong.ledger import transfer_lane

SOURCE = Path(__file__).resolve().parents[2] / "src" / "bakong" / "ledger" / "_lane.c"


def _compiler_present() -> bool:
    """The same test as the Makefile's `c-compiler` target."""
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return shutil.which("cc") is not None and headers.exists()


@pytest.mark.skipif(
    not _compiler_present(),
    reason="no C compiler or Python headers: the lane is not built, the general path runs",
)
def test_the_lane_is_built_from_the_source_in_the_tree() -> None:
    try:
        lane = importlib.import_module("bakong.ledger._lane")
    except ImportError as error:
        pytest.fail(f"a C compiler is present but bakong.ledger._lane did not build: {error}")
    assert transfer_lane.native_execute_transactions is not None
    built = Path(lane.__file__ or "")
    if built.parent == SOURCE.parent:  # an in-place (editable) build, beside its source
        assert built.stat().st_mtime >= SOURCE.stat().st_mtime, (
            f"{built.name} is older than _lane.c: its last build failed, or was not run "
            "(make test rebuilds it)"
        )
