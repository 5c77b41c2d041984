"""A few thousand fuzzed transactions in every test run (`python -m tools.fuzz tx` runs 10^5
and more): every input is either refused by the decoder with a typed error or executed to a
result code."""

from __future__ import annotations

from click.testing import CliRunner

from tools.fuzz import tx


def test_fuzz_slice_finds_no_failure() -> None:
    report = tx.run(5_000, seed=11)
    assert report.failures == []
    assert report.inputs == 5_000
    assert sum(report.decode_errors.values()) > 1_000
    assert sum(report.results.values()) > 100
    assert report.results["ok"] + report.results["duplicate_transaction"] > 0


def test_fuzz_command_contract() -> None:
    result = CliRunner().invoke(tx.command, ["--count", "300", "--json"])
    assert result.exit_code == 0, result.output
    assert '"failures": 0' in result.output
