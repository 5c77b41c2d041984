"""Smoke slice of `bakong bench gateway`: a tiny run produces every figure, consistently.

Four real validator processes, two real gateway processes, three customers per gateway
registered through the wallet API, two measured seconds per phase, and the core driven
directly with 300 accounts. No timing assertion: the machine is shared and noisy, and the
benchmark reports a ratio; this checks that the figures exist and agree with their
definitions, that payments through the gateways committed, and that every committed payment
reached its payee's event stream.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

run_timeout_s = 300


def _ordered(latency: dict[str, float]) -> bool:
    return 0 < latency["p50"] <= latency["p95"] <= latency["p99"]


@pytest.mark.e2e
def test_tiny_gateway_run_produces_consistent_figures() -> None:
    arguments = [
        sys.executable, "-m", "bakong", "bench", "gateway", "--validators", "4",
        "--duration", "2", "--warmup", "1", "--customers", "3", "--concurrency", "6",
        "--core-accounts", "300", "--json",
    ]  # fmt: skip
    done = subprocess.run(arguments, capture_output=True, timeout=run_timeout_s, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3_000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    assert {"payments_per_s", "notify_ms", "core_tps", "ratio"} <= set(figures)
    assert set(figures["notify_ms"]) == {"p50", "p95", "p99"}
    assert figures["validators"] == 4 and figures["customers"] == 3
    assert figures["duration"] == 2 and figures["cores"] >= 1
    # A rate counts only what committed inside the 2-second window, which a machine loaded by
    # other work may leave empty; every transfer committing (below) does not depend on load.
    assert figures["payments_per_s"] >= 0 and figures["core_tps"] >= 0
    if figures["core_tps"]:
        ratio = figures["payments_per_s"] / figures["core_tps"]
        assert figures["ratio"] == pytest.approx(ratio, abs=1e-4)
    else:
        assert figures["ratio"] is None
    assert _ordered(figures["notify_ms"])
    phases = figures["phases"]
    for name in ("saturation", "half_load"):
        phase = phases[name]
        # Every payment sent through a wallet API committed, and its payee was told.
        assert phase["outcomes"] == {"committed": phase["submitted"]} and phase["submitted"] > 0
        assert phase["unnotified"] == 0 and phase["latency_samples"] > 0
    assert phases["half_load"]["rate_target"] == pytest.approx(
        phases["saturation"]["payments_per_s"] / 2, abs=0.1
    )
    core = phases["core"]
    assert core["committed_ok"] == core["submitted"] > 0
    assert not core["failed"] and not core["rejected"] and core["uncommitted"] == 0
