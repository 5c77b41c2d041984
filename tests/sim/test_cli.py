"""`bakong sim`: the JSON contract, replay, exit codes and argument checks, through click.

Method: invoke the real command with click's CliRunner (stdout and stderr apart) on small
runs and parse what it prints.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from bakong.cli import main
from bakong.sim.mutants import MUTANTS

CONTRACT = ["seeds", "heights", "transactions", "violations", "first_failing_seed"]


def _invoke(*arguments: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(main, ["sim", *arguments])
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_seeds_json_starts_with_the_contract_keys_and_exits_zero() -> None:
    code, data, stderr = _invoke("--seeds", "3", "--validators", "4", "--byzantine", "1",
                                 "--heights", "30", "--json")
    assert code == 0
    assert list(data)[: len(CONTRACT)] == CONTRACT
    assert data["seeds"] == 3 and data["violations"] == 0 and data["first_failing_seed"] is None
    assert data["violation_kinds"] == {}
    heights, transactions = data["heights"], data["transactions"]
    assert isinstance(heights, int) and heights >= 90
    assert isinstance(transactions, int) and transactions > 0
    assert "seeds 3/3" in stderr  # progress goes to stderr, stdout stays one JSON object


def test_one_seed_replays_identically_with_its_trace_hash() -> None:
    first = _invoke("--seed", "5", "--heights", "30", "--json")
    second = _invoke("--seed", "5", "--heights", "30", "--json")
    assert first[0] == 0
    assert first[1] == second[1]
    assert list(first[1])[: len(CONTRACT)] == CONTRACT
    trace_hash = first[1]["trace_hash"]
    assert isinstance(trace_hash, str) and len(trace_hash) == 64


def test_a_violation_exits_non_zero_and_names_its_seed() -> None:
    code, data, stderr = _invoke("--mutant", "weak-quorum", "--seeds", "10", "--stop-at-first",
                                 "--heights", "50", "--json")
    assert code == 1
    violations = data["violations"]
    assert isinstance(violations, int) and violations >= 1
    assert data["first_failing_seed"] is not None
    assert f"seed {data['first_failing_seed']}:" in stderr
    replay = f"bakong sim --seed {data['first_failing_seed']} --validators 4 --byzantine 1"
    assert replay in stderr
    kinds = data["violation_kinds"]
    assert kinds == {"commit": violations}  # failing seeds by their first violation's kind


def test_one_failing_seed_reports_its_violations_by_kind() -> None:
    code, data, _ = _invoke("--mutant", "credit-without-debit", "--seed", "0", "--heights", "30",
                            "--json")
    assert code == 1
    assert list(data)[: len(CONTRACT)] == CONTRACT
    assert data["violation_kinds"] == {"conservation": data["violations"]}


def test_a_bare_mutant_option_lists_every_mutant_and_help_names_them() -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["sim", "--mutant"])
    assert listed.exit_code == 0
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert {name: kind for name, kind in rows} == {
        name: mutant.expected for name, mutant in MUTANTS.items()
    }
    shown = runner.invoke(main, ["sim", "--help"]).stdout.replace("\n", "").replace(" ", "")
    assert all(name in shown for name in MUTANTS)


def test_arguments_are_checked() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["sim", "--validators", "4", "--byzantine", "2"]).exit_code == 2
    assert runner.invoke(main, ["sim", "--validators", "11"]).exit_code == 2
    assert runner.invoke(main, ["sim", "--seed", "1", "--seeds", "2"]).exit_code == 2
    assert runner.invoke(main, ["sim", "--mutant", "no-such-rule"]).exit_code == 2
