"""Smoke slice of `bakong bench ledger-apply`: the figures are produced and consistent.

No timing assertion: the machine is shared and noisy; the benchmark prints its ratio.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from bakong.bench.ledger_apply import run
from bakong.cli import main


def test_figures_are_consistent() -> None:
    figures = run(transfers=600, accounts=60, block_txs=200, seed=3)
    result = figures.as_json()
    assert figures.ok == 600  # every pre-signed transfer is valid and applies
    assert isinstance(result["transfers_per_s"], float) and result["transfers_per_s"] > 0
    assert isinstance(result["verifies_per_s"], float) and result["verifies_per_s"] > 0
    expected_ratio = round(figures.transfers_per_s / figures.verifies_per_s, 3)
    assert result["ratio"] == expected_ratio


def test_command_prints_json() -> None:
    arguments = ["bench", "ledger-apply", "--transfers", "300", "--accounts", "30", "--json"]
    output = CliRunner().invoke(main, arguments)
    assert output.exit_code == 0, output.output
    figures = json.loads(output.output)
    assert set(figures) >= {"transfers_per_s", "verifies_per_s", "ratio"}
