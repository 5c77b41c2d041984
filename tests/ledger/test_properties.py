"""Property tests: long random command sequences from many accounts keep every invariant.

Hypothesis draws the operations (see `workload.py` for what each does and what is checked
after every block). A separate test runs a seeded workload in two interpreter processes with
different PYTHONHASHSEED values and requires the same app hash: nothing in the ledger may
depend on the order of a set or dict of str or bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ledger import workload

ROOT = Path(__file__).resolve().parents[2]

operation = st.tuples(
    st.integers(0, 9),
    st.integers(0, 63),
    st.integers(0, 63),
    st.integers(0, 63),
    st.sampled_from([1, 7, 100, 5_000, 250_000, 1_999_999, 3_000_000]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=50, max_size=300))
def test_invariants_hold_over_random_sequences(operations: list[tuple[int, ...]]) -> None:
    run = workload.new_workload()
    for item in operations:
        workload.apply_operation(run, item)
    run.tick(advance_ms=1_000)


def test_seeded_workloads_keep_invariants() -> None:
    for seed in range(8):
        workload.run(seed, 500)


def _app_hash_in_subprocess(hash_seed: str) -> str:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    script = "from tests.ledger.workload import run; print(run(7, 600))"
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return completed.stdout.strip()


def test_same_blocks_same_app_hash_across_hash_seeds() -> None:
    first = _app_hash_in_subprocess("1")
    second = _app_hash_in_subprocess("4242")
    assert len(first) == 64
    assert first == second
    assert first == workload.run(7, 600)
