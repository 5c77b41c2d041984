"""`bakong bench`: benchmarks that print figures as ratios to baselines measured in the same run.

Each benchmark is one module in `bakong.bench`, exposing a click command.
"""

from __future__ import annotations

import click

from bakong.cli.lazy import LazyGroup

__all__ = ["bench"]

entries: dict[str, tuple[str, str, str]] = {
    "ledger-apply": (
        "bakong.bench.ledger_apply",
        "command",
        "Transfers applied by the pure ledger per second, against Ed25519 verifies per second.",
    ),
    "network": (
        "bakong.bench.network",
        "command",
        "Throughput and finality of a local network, against PostgreSQL and Ed25519.",
    ),
    "qr": ("bakong.bench.qr", "command", "KHQR verify+decode per second, ours against the SDK."),
    "scale": (
        "bakong.bench.scale",
        "command",
        "Throughput, finality and memory by validators and accounts; catch-up; restore.",
    ),
}


@click.group(cls=LazyGroup, entries=entries)
def bench() -> None:
    """Benchmarks: throughput and latency figures against same-run baselines."""
