"""`python -m tools.fuzz tx|qr [--count N] [--seed S] [--json]`: long fuzzing runs (outside
`make test`); exit 1 on any unexpected exception."""

from __future__ import annotations

import click

from tools.fuzz import qr, tx


@click.group()
def main() -> None:
    """Fuzz decoders with random and mutated inputs; exit 1 on any unexpected exception."""


main.add_command(tx.command, "tx")
main.add_command(qr.command, "qr")
main(prog_name="python -m tools.fuzz")
