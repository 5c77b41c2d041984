"""Smoke slices of `bakong bench qr` and `python -m tools.fuzz qr` (the long runs are commands).

No timing assertion on the benchmark: the machine is shared and noisy; it prints its ratio.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from bakong.bench.qr import corpus
from bakong.cli import main
from bakong.khqr import verify
from tools.fuzz.qr import command as fuzz_command
from tools.fuzz.qr import run


def test_bench_corpus_mixes_valid_and_invalid_codes() -> None:
    codes = corpus()
    assert len(codes) == 200
    valid = sum(verify(qr, 1_763_700_000_000).valid for qr in codes)
    assert 100 <= valid < 200


def test_bench_command_prints_both_figures() -> None:
    result = CliRunner().invoke(main, ["bench", "qr", "--seconds", "0.2", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["ours_per_s"] > 0 and figures["sdk_per_s"] > 0
    assert figures["ratio"] == round(figures["ours_per_s"] / figures["sdk_per_s"], 3)


def test_fuzz_slice_raises_only_typed_errors() -> None:
    report = run(20_000, seed=5)
    assert report.inputs == 20_000
    assert report.failures == []
    assert report.verdicts.get("valid", 0) > 100  # mutants still reach the valid path
    assert len(report.verdicts) > 30  # and most of the SDK's error codes
    assert report.decode_errors.get("decode:qr_template_loops", 0) > 0
    assert {"khqr", "promptpay", "vietqr", "unknown"} <= set(report.schemes)


def test_fuzz_command_exits_zero() -> None:
    result = CliRunner().invoke(fuzz_command, ["--count", "500", "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"] == 500
