"""Differential test against the real SDK: npm bakong-khqr@1.0.20 under Node (issue 5).

`make test` installs the SDK into .cache/khqr-sdk. One Node process answers every case of a
seeded run: generator requests around every rule, and QR strings (vectors, generated codes and
their mutations: truncation, length fields, CRC, tag order, field lengths, Khmer text,
timestamps) checked by verify at a clock near their timestamps and by decode. Any disagreement
fails with its input printed. `python -m tools.qrdiff --count N --seed S` runs a longer one.
"""

from __future__ import annotations

import json
import os

from tests.khqr.data import KHQR_VECTORS
from tools.qrdiff import compare, oracle
from tools.qrdiff.run import run

SEED = int(os.environ.get("BAKONG_QR_DIFF_SEED", "20261121"))
COUNT = int(os.environ.get("BAKONG_QR_DIFF_COUNT", "6000"))


def test_oracle_is_the_sdk_and_agrees_with_the_vectors() -> None:
    """The oracle answers every published vector as recorded (so it really runs the SDK)."""
    requests = [
        {"op": "verify", "qr": vector["qr"], "now": vector["checked_at_ms"]}
        for vector in KHQR_VECTORS
    ]
    answers = oracle.ask(requests)
    got = [(answer["valid"], answer["code"]) for answer in answers]
    assert got == [(vector["valid"], vector["error_code"]) for vector in KHQR_VECTORS]


def test_differential_run_agrees_with_the_sdk() -> None:
    report = run(COUNT, SEED)
    assert report.counts["generate"] >= COUNT // 5
    assert report.counts["verify"] >= COUNT // 2
    assert report.counts["decode"] == report.counts["verify"]
    shown = "\n".join(json.dumps(item, ensure_ascii=False) for item in report.disagreements[:20])
    assert not report.disagreements, f"{len(report.disagreements)} disagreements:\n{shown}"


def test_comparison_can_fail() -> None:
    """The comparison is not vacuous: a different verdict, code or decode value is reported."""
    qr = next(vector["qr"] for vector in KHQR_VECTORS if vector["id"] == "V075")
    valid = {"outcome": "ok", "valid": True, "code": None, "md5": "x"}
    assert compare.verify_disagreement(qr, 0, valid) is not None  # md5 differs
    assert compare.verify_disagreement(qr, 0, {**valid, "valid": False, "code": 8}) is not None
    assert compare.verify_disagreement(qr, 0, {"outcome": "hang"}) is not None
    data = dict.fromkeys(["merchantType"])
    assert compare.decode_disagreement(qr, {"outcome": "ok", "data": data}) is not None
