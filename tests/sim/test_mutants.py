"""Every checker can fail: each mutant is caught, with the violation it must cause, early.

Method: for each mutant, run seeds from 0 upward (with the mutant's fault mix) until one
reports the mutant's expected kind among its violations; it must come within `search_max`
seeds, as the issue asks. Each run is short (`heights`); measured, every mutant is caught at
seed 0, 1 or 2. Every attribute a mutant patched is as it was afterwards. The catalogue covers
every kind the checker reports, except `crash` (an assertion of the real code itself).
"""

from __future__ import annotations

import pytest

from bakong.sim.checker import KINDS
from bakong.sim.faults import Options
from bakong.sim.mutants import MUTANTS, applied
from bakong.sim.run import run_seed

search_max = 500
heights = 40


def _patched(name: str) -> list[tuple[object, str, object]]:
    return [
        (target, attribute, getattr(target, attribute))
        for target, attribute, _ in MUTANTS[name].patches()
    ]


@pytest.mark.parametrize("name", list(MUTANTS))
def test_each_mutant_causes_its_violation_within_the_first_seeds(name: str) -> None:
    before = _patched(name)
    expected = MUTANTS[name].expected
    options = Options(validators=4, byzantine=1, heights=heights, mutant=name)
    seen: list[list[str]] = []
    for seed in range(search_max):
        kinds = [violation.kind for violation in run_seed(seed, options).violations]
        if expected in kinds:
            break
        seen.append(kinds)
    else:
        pytest.fail(f"{name} survived {search_max} seeds; violations seen: {seen[:5]}")
    assert _patched(name) == before


def test_every_checker_kind_but_crash_has_a_mutant() -> None:
    assert sorted(mutant.expected for mutant in MUTANTS.values()) == sorted(
        kind for kind in KINDS if kind != "crash"
    )


def test_a_mutant_is_restored_even_when_its_run_fails() -> None:
    before = _patched("node-order")
    with pytest.raises(RuntimeError), applied("node-order"):
        assert _patched("node-order") != before
        raise RuntimeError("the run broke")
    assert _patched("node-order") == before
