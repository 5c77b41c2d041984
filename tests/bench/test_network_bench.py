"""Smoke slice of `bakong bench network`: a tiny run produces every figure, consistently.

Four real validator processes, 1,000 accounts opened and funded through consensus, three
measured seconds per phase, and the PostgreSQL baseline. No timing assertion: the machine is
shared and noisy, and the benchmark reports ratios; this checks only that the figures exist
and agree with their definitions, and that every transfer committed with result `ok`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

run_timeout_s = 240


def _ordered(latency: dict[str, float]) -> bool:
    return 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]


@pytest.mark.e2e
def test_tiny_network_run_produces_consistent_figures() -> None:
    with tempfile.TemporaryDirectory() as directory:
        plot = Path(directory) / "network.png"
        arguments = [
            sys.executable, "-m", "bakong", "bench", "network", "--validators", "4",
            "--duration", "3", "--accounts", "1000", "--mempool-txs", "2000", "--json",
            "--plot", str(plot),
        ]  # fmt: skip
        done = subprocess.run(arguments, capture_output=True, timeout=run_timeout_s, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3_000:]
        figures: dict[str, Any] = json.loads(done.stdout)
        assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert figures["validators"] == 4 and figures["accounts"] == 1_000
    assert figures["tps"] > 0 and figures["half_load_tps"] > 0
    assert figures["postgres_tps"] > 0 and figures["verify_per_s"] > 0
    assert _ordered(figures["finality_ms"]) and _ordered(figures["finality_half_load_ms"])
    ratio = figures["tps"] / figures["postgres_tps"]
    assert figures["ratio_vs_postgres"] == pytest.approx(ratio, abs=1e-4)
    efficiency = figures["tps"] * figures["validators"] / figures["verify_per_s"]
    assert figures["efficiency"] == pytest.approx(efficiency, abs=1e-4)
    assert figures["rejected"] == 0 and figures["uncommitted"] == 0
    assert set(figures["cpu_s"]) == {f"validator-{i}" for i in range(4)}
    assert all(seconds > 0 for seconds in figures["cpu_s"].values())
    assert figures["rss_mb_max"] == max(figures["rss_mb"].values()) > 0
    for phase in figures["phases"].values():
        assert phase["committed_ok"] == phase["submitted"] > 0
        assert not phase["failed"] and not phase["rejected"]
    assert figures["machine"]["cores"] >= 1
