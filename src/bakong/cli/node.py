"""`bakong node`: run one validator from its home directory, or give a new one a snapshot.

    bakong node run --home DIR                  # genesis.json, node_key.json, config.toml
    bakong node restore --home DIR --from URL   # fill DIR's empty store from a peer's snapshot
"""

from __future__ import annotations

import json
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


def _block_hash_option(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> bytes | None:
    if value is None:
        return None
    try:
        hash_ = bytes.fromhex(value)
    except ValueError:
        hash_ = b""
    if len(hash_) != 32:
        raise click.BadParameter("expected 64 hex digits (a block hash)")
    return hash_


@node.command()
@click.option("--home", "home", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--from", "url", required=True, help="A running node's API, e.g. http://host:port.")
@click.option("--height", type=click.IntRange(min=1), help="The snapshot height (default: newest).")
@click.option(
    "--trust-carrier",
    "trust_carrier",
    callback=_block_hash_option,
    help="The hex block hash of the snapshot's carrier (height + snapshot lag), from a source "
    "you trust; without it, the genesis validators must vouch for the carrier's validators.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def restore(
    home: Path, url: str, height: int | None, trust_carrier: bytes | None, as_json: bool
) -> None:
    """Fill the empty store of the node in HOME from a verified state snapshot (then run it:
    it catches up from the snapshot's height)."""
    from bakong.errors import LocalError, RemoteError
    from bakong.node.restore import restore_from

    try:
        report = restore_from(home, url, height, trust_carrier)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    figures = {
        "height": report.height,
        "horizon": report.horizon,
        "entries": report.entries,
        "chunks": report.chunks,
        "bytes": report.bytes,
        "seconds": round(report.seconds, 3),
    }
    if as_json:
        click.echo(json.dumps(figures))
    else:
        click.echo(
            f"restored height {report.height}: {report.entries} entries in {report.chunks} "
            f"chunks ({report.bytes} bytes) in {report.seconds:.2f} s; it will vote only nil "
            f"up to height {report.horizon} or the height the network is deciding if later"
        )
