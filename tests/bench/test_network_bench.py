"""Smoke slice of `bakong bench network`: a tiny run produces every figure, consistently.

Four real validator processes, each verifying signatures in one worker process, 1,000
accounts opened and funded through consensus, three measured seconds per phase (saturation
with the stream's follower, half load, saturation without any follower), and the PostgreSQL
baseline. No timing assertion: the machine is shared and noisy, and the benchmark reports
ratios; this checks only that the figures exist and agree with their definitions (CPU per
transfer split into signature checks and the rest, and the validators' own processes apart
from their workers; the baselines' saturation evidence, the stream's comparison), and that
every transfer committed with result `ok`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bakong.node.localnet import LOCAL_SNAPSHOTS

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
            "--plot", str(plot), "--verify-workers", "1",
        ]  # fmt: skip
        done = subprocess.run(arguments, capture_output=True, timeout=run_timeout_s, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3_000:]
        figures: dict[str, Any] = json.loads(done.stdout)
        assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert figures["validators"] == 4 and figures["accounts"] == 1_000
    assert (figures["snapshot_interval"], figures["snapshot_lag"]) == LOCAL_SNAPSHOTS
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
    _check_cpu_split(figures)
    _check_saturation_evidence(figures)
    _check_stream_compare(figures)


@pytest.mark.e2e
def test_one_validator_alone_gets_as_many_batches_in_flight_as_its_baseline() -> None:
    """`--validators 1`: what a validator on a machine of its own does, against the same
    baseline with the same eight batches in flight (four validators get two each)."""
    arguments = [
        sys.executable, "-m", "bakong", "bench", "network", "--validators", "1",
        "--duration", "2", "--accounts", "1000", "--mempool-txs", "2000", "--json",
        "--no-stream-compare",
    ]  # fmt: skip
    done = subprocess.run(arguments, capture_output=True, timeout=run_timeout_s, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3_000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    assert figures["validators"] == 1 and figures["tps"] > 0 and figures["postgres_tps"] > 0
    assert [row["name"] for row in figures["validator_cpu"]] == ["validator-0"]
    for evidence in ("validators_saturation", "postgres_saturation"):
        assert figures[evidence]["in_flight_limit"] == 8
    for phase in figures["phases"].values():
        assert phase["committed_ok"] == phase["submitted"] > 0


def test_a_snapshot_lag_past_the_interval_is_refused_before_anything_runs() -> None:
    arguments = [
        sys.executable, "-m", "bakong", "bench", "network", "--snapshot-interval", "5",
        "--snapshot-lag", "6", "--json",
    ]  # fmt: skip
    done = subprocess.run(arguments, capture_output=True, timeout=60, check=False)
    assert done.returncode == 2 and b"--snapshot-lag" in done.stderr
    assert done.stdout == b""


def _check_cpu_split(figures: dict[str, Any]) -> None:
    """signatures + other = total, per validator; every validator checked every transfer's
    signature at least once (plus votes and commits), so at least one check per transfer."""
    assert figures["signature_us_one_core"] == pytest.approx(
        1e6 / figures["verify_one_core_per_s"], abs=0.01
    )
    rows = figures["validator_cpu"]
    assert [row["name"] for row in rows] == [f"validator-{i}" for i in range(4)]
    for row in rows:
        assert row["cpu_us_per_transfer"] > 0 and row["cpu_cores"] > 0
        assert row["signature_checks_per_transfer"] >= 1
        signature_us = row["signature_checks_per_transfer"] * figures["signature_us_one_core"]
        assert row["signature_us_per_transfer"] == pytest.approx(signature_us, rel=0.01)
        total = row["signature_us_per_transfer"] + row["other_us_per_transfer"]
        assert total == pytest.approx(row["cpu_us_per_transfer"], abs=0.2)
        # One verifier worker per validator: the transfers' signatures were checked there.
        assert figures["verify_workers"] == 1
        in_workers = row["cpu_us_per_transfer"] - row["main_process_cpu_us_per_transfer"]
        assert 0 < row["main_process_cpu_us_per_transfer"]
        assert in_workers >= 0.5 * figures["signature_us_one_core"]
        on_loop = row["signature_checks_on_event_loop_per_transfer"]
        assert 0 <= on_loop < row["signature_checks_per_transfer"]


def _check_saturation_evidence(figures: dict[str, Any]) -> None:
    validators, postgres = figures["validators_saturation"], figures["postgres_saturation"]
    for evidence in (validators, postgres):
        assert 0 < evidence["in_flight_max"] <= evidence["in_flight_limit"]
        assert 0 < evidence["in_flight_mean"] <= evidence["in_flight_max"]
        assert 0 <= evidence["backoff_fraction"] <= 1
        assert 0 <= evidence["machine_cpu_idle_fraction"] <= 1
        assert 0 <= evidence["machine_cpu_iowait_fraction"] <= 1
        assert evidence["committed_ok"] > 0 and evidence["loadgen_cpu_cores"] > 0
    assert validators["in_flight_limit"] == 4 * 2  # two workers per validator
    assert validators["cpu_cores"] == pytest.approx(
        sum(row["cpu_cores"] for row in figures["validator_cpu"]), abs=0.01
    )
    assert postgres["server_cpu_cores"] > 0 and postgres["service_cpu_cores"] > 0
    assert postgres["server_cpu_us_per_transfer"] > 0


def _check_stream_compare(figures: dict[str, Any]) -> None:
    stream = figures["stream"]
    assert stream["serving_validator"] == "validator-0"
    assert stream["blocks_fetched_from_without"] == "validator-3"
    assert stream["tps_with_follower"] == figures["tps"]
    assert stream["tps_without"] == figures["phases"]["saturation_no_stream"]["tps"] > 0
    assert stream["serving_cpu_us_per_transfer_with"] > 0
    assert stream["serving_cpu_us_per_transfer_without"] > 0
    assert set(stream["finality_ms_without"]) == {"p50", "p95", "p99", "max"}
