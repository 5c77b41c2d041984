"""The `bakong` command: one click group, one module per command group (hatch-style).

Command groups are imported only when used (`LazyGroup`), so `bakong qr verify` does not pay
for importing the node or the benchmark harness. To add a group, add its module to `groups`.
"""

from __future__ import annotations

import sys

import click

from bakong.cli.lazy import LazyGroup

__all__ = ["main"]

# name -> (module, attribute, one-line help)
groups: dict[str, tuple[str, str, str]] = {
    "audit": ("bakong.cli.audit", "audit", "Re-verify a chain from genesis; scan it for PII."),
    "bench": ("bakong.cli.bench", "bench", "Benchmarks that print figures against baselines."),
    "corebank": ("bakong.cli.corebank", "corebank", "A sample core-banking service."),
    "console": ("bakong.cli.console", "console", "The central bank's console and its staff."),
    "demo": ("bakong.cli.demo", "demo", "Run the scripted demonstration scenario."),
    "foreign": ("bakong.cli.foreign", "foreign", "Foreign QR switch simulators (cross-border)."),
    "gateway": ("bakong.cli.gateway", "gateway", "A participant's gateway: wallets, merchants."),
    "keys": ("bakong.cli.keys", "keys", "Create and inspect Ed25519 key files."),
    "link": ("bakong.cli.link", "link", "A cross-border link: foreign QR payments."),
    "localnet": ("bakong.cli.localnet", "localnet", "A local network of validator processes."),
    "node": ("bakong.cli.node", "node", "Run a validator node."),
    "phone": ("bakong.cli.phone", "phone", "A feature phone dialling a gateway's USSD service."),
    "stats": ("bakong.cli.stats", "stats", "The console's daily figures, as JSON."),
    "sim": ("bakong.cli.sim", "sim", "Deterministic whole-network simulation, seed by seed."),
    "qr": ("bakong.cli.qr", "qr", "Verify, decode, make, parse, render and scan KHQR codes."),
}


@click.group(cls=LazyGroup, entries=groups)
@click.version_option(package_name="bakong")
def main() -> None:
    """bakong: a national retail payment system on a BFT-finalised ledger."""
    if sys.flags.optimize:
        # Assertions guard our invariants in production; -O would strip them silently.
        raise click.ClickException("bakong refuses to run under python -O (assertions are kept)")
