"""`bakong bench`: benchmarks that print figures as ratios to baselines measured in the same run.

Each benchmark is one module in `bakong.bench`, exposing a click command. The packages only
benchmarks use (PostgreSQL's driver, psutil) are the `bench` extra, not dependencies of a
validator: a benchmark that needs one which is missing says how to install it.
"""

from __future__ import annotations

import click

from bakong.cli.lazy import LazyGroup

__all__ = ["bench"]

# The import names of the `bench` extra's packages (pyproject.toml).
EXTRA_MODULES = ("psutil", "psycopg", "psycopg_pool")

entries: dict[str, tuple[str, str, str]] = {
    "gateway": (
        "bakong.bench.gateway",
        "command",
        "Payments through two gateways' wallet APIs, against the core driven directly.",
    ),
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


class _BenchGroup(LazyGroup):
    """A lazy group that turns a missing `bench` extra into a message instead of a traceback."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        try:
            return super().get_command(ctx, cmd_name)
        except ModuleNotFoundError as error:
            if error.name is None or error.name.split(".")[0] not in EXTRA_MODULES:
                raise
            raise click.ClickException(
                f"`bakong bench {cmd_name}` needs the bench extra ({error.name} is missing): "
                "pip install 'bakong[bench]'"
            ) from None


@click.group(cls=_BenchGroup, entries=entries)
def bench() -> None:
    """Benchmarks: throughput and latency figures against same-run baselines."""
