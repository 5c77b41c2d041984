"""The fast slice of the simulator that `make test` runs: seeds with every fault, no violation.

Method: run tens of consecutive seeds with 4 validators (1 Byzantine) to a couple of hundred
heights each, and a couple of seeds with 7 validators (2 Byzantine); each seed draws its own
faults (loss, duplication, reordering, partitions, crashes losing unsynced writes, clock
skew, Byzantine behaviours, attacks on the ledger among them). Every run must end settled,
with no violation, having committed its heights and every transaction its gateways signed.
The long swarms are commands: `bakong sim --seeds 500 --validators 4 --byzantine 1 --json`.
"""

from __future__ import annotations

import pytest

from bakong.sim.faults import Options
from bakong.sim.run import run_seed

FOUR = Options(validators=4, byzantine=1, heights=200)
SEVEN = Options(validators=7, byzantine=2, heights=150)


def _check(seed: int, options: Options) -> None:
    result = run_seed(seed, options)
    replay = f"bakong sim --seed {seed} --validators {options.validators}"
    replay += f" --byzantine {options.byzantine} --heights {options.heights}"
    assert result.violations == (), f"{result.violations[0]}; replay with `{replay}`"
    assert result.heights >= options.heights
    stats = result.stats
    assert stats["transactions_executed"] == stats["transactions_signed"] > 0
    assert result.transactions >= stats["transactions_executed"]


@pytest.mark.parametrize("seed", range(30))
def test_four_validators_one_byzantine(seed: int) -> None:
    _check(seed, FOUR)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seven_validators_two_byzantine(seed: int) -> None:
    _check(seed, SEVEN)


def test_the_slice_exercises_every_fault() -> None:
    """The seeds of the slice between them draw every kind of fault (swarm testing)."""
    results = [run_seed(seed, Options(validators=4, byzantine=1, heights=40)) for seed in range(8)]
    totals = {key: sum(result.stats[key] for result in results) for key in results[0].stats}
    exercised = ("packets_dropped", "packets_duplicated", "partitions", "crashes", "evidence")
    for key in (*exercised, "ledger_attacks", "attack_transactions_refused"):
        assert totals[key] > 0, key
    plans = [result.plan for result in results]
    assert any(any(plan.skews_ms) for plan in plans)
    behaviours = [behaviour for plan in plans for behaviour in plan.behaviours]
    assert any(behaviour.invalid for behaviour in behaviours)
    assert any(behaviour.silence for behaviour in behaviours)
