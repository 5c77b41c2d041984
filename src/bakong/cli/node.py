"""`bakong node`: run one validator from its home directory.

    bakong node run --home DIR    # genesis.json, node_key.json, config.toml (bakong.node.home)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["node"]


@click.group()
def node() -> None:
    """Run a validator node."""


@node.command()
@click.option("--home", "home", type=click.Path(file_okay=False, path_type=Path), required=True)
def run(home: Path) -> None:
    """Run the validator in HOME until SIGTERM or SIGINT."""
    from bakong.errors import LocalError, RemoteError
    from bakong.node.serve import run_node

    try:
        status = run_node(home)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    sys.exit(status)
