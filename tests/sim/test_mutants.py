"""The checkers can fail: each deliberately broken consensus rule is caught within a few seeds.

Method: for each mutant, run seeds from 0 upward (with the mutant's fault mix) and stop at the
first violation; it must come within `search_max` seeds (the issue asks for one among the first
500) and be an agreement violation. The patched functions are restored afterwards.
"""

from __future__ import annotations

import pytest

from bakong.consensus import commit, round, vote_keeper
from bakong.sim.faults import Options
from bakong.sim.mutants import MUTANTS
from bakong.sim.run import run_seeds

search_max = 40


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_mutant_breaks_agreement_within_a_few_seeds(mutant: str) -> None:
    originals = (vote_keeper.has_quorum, commit.has_quorum, round._lock_or_update_valid)
    options = Options(validators=4, byzantine=1, heights=100, mutant=mutant)
    summary = run_seeds(range(search_max), options, stop_at_first=True)
    assert summary.first_failing_seed is not None, f"{mutant} survived {search_max} seeds"
    seed, violation = summary.failures[0]
    assert violation.kind == "agreement", violation
    assert (vote_keeper.has_quorum, commit.has_quorum, round._lock_or_update_valid) == originals
