"""`bakong audit`: re-verify a chain from genesis, and scan it for personal data.

    bakong audit verify --genesis FILE (--home DIR | --from URL --key FILE) [--json]
    bakong audit pii [--home DIR | --from URL --key FILE] [--gateway-home DIR ...]
                     [--demo FILE] [--json]

`verify` checks every block a validator's home or a node holds against the genesis file,
re-executing each (`bakong.console.chain_audit`); `pii` searches every transaction for the
personal values the gateways took at onboarding (`bakong.console.pii_audit`). With no block
source or no gateway home, `pii` takes them from `.localnet/demo.json` (`make demo`): the
network's first validator's home and every demo gateway's home. Both exit 1 when the chain
fails (a disagreement, a finding) and 2 when they cannot read a source; docs/audit.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from bakong.errors import BakongError

if TYPE_CHECKING:
    from bakong.console.chain_audit import HomeChain, NodeChain

__all__ = ["audit"]

_file = click.Path(dir_okay=False, exists=True, path_type=Path)
_directory = click.Path(file_okay=False, exists=True, path_type=Path)


class CannotAudit(click.ClickException):
    """The source or a gateway's store cannot be read: no verdict on the chain (exit 2)."""

    exit_code = 2


@click.group()
def audit() -> None:
    """Re-verify a chain from genesis; scan it for personal data."""


def _source(
    home: Path | None, url: str | None, key_file: Path | None, chain_id: str | None
) -> HomeChain | NodeChain:
    from bakong.console.chain_audit import HomeChain, NodeChain
    from bakong.keystore import read_key_file

    if (home is None) == (url is None):
        raise click.UsageError("give either --home DIR or --from URL --key FILE")
    if home is not None:
        return HomeChain(home)
    if key_file is None:
        raise click.UsageError("--from needs --key FILE (the central bank's gateway key)")
    assert url is not None
    return NodeChain(url, read_key_file(key_file), chain_id)


def _progress(height: int, tip: int) -> None:
    click.echo(f"\rverified {height}/{tip}", nl=height == tip, err=True)


def _finish(report: dict[str, Any], as_json: bool, line: str) -> None:
    click.echo(json.dumps(report) if as_json else line)
    if not report["ok"]:
        sys.exit(1)


@audit.command("verify")
@click.option("--genesis", "genesis_file", type=_file, required=True)
@click.option("--home", type=_directory, help="A validator's home (its store, read-only).")
@click.option("--from", "url", help="A node's API URL, read as the central bank.")
@click.option("--key", "key_file", type=_file, help="The central bank's gateway key file.")
@click.option("--json", "as_json", is_flag=True)
def verify(
    genesis_file: Path, home: Path | None, url: str | None, key_file: Path | None, as_json: bool
) -> None:
    """Re-verify every block from genesis: commits, signatures, roots, app hashes, state."""
    from bakong.console.chain_audit import verify_chain
    from bakong.ledger.genesis import decode_genesis

    try:
        genesis = decode_genesis(genesis_file.read_bytes())
        with _source(home, url, key_file, genesis.chain_id) as source:
            progress = _progress if sys.stderr.isatty() else None
            report = verify_chain(genesis, source, progress).as_json()
    except (BakongError, OSError, httpx.HTTPError) as error:  # no verdict: cannot read
        raise CannotAudit(str(error)) from None
    failure = report["first_failure"]
    if failure is None:
        line = f"ok: {report['verified_height']} blocks verified from genesis ({report['source']})"
    else:
        line = (
            f"FAILED at height {failure['height']}: {failure['reason']} ({failure['detail']}); "
            f"verified up to {report['verified_height']}"
        )
    _finish(report, as_json, line)


def _demo_sources(demo_file: Path) -> tuple[Path, list[Path]]:
    """The first validator's home and the gateways' homes of a `make demo` network."""
    try:
        demo = json.loads(demo_file.read_text())
    except (OSError, ValueError) as error:
        raise CannotAudit(f"{demo_file}: {error}; run `make demo` first") from None
    network = demo_file.parent
    gateways = [network / f"gateway-{code}" for code in sorted(demo.get("gateways", {}))]
    return network / "validator-0", gateways


@audit.command("pii")
@click.option("--home", type=_directory, help="A validator's home (its store, read-only).")
@click.option("--from", "url", help="A node's API URL, read as the central bank.")
@click.option("--key", "key_file", type=_file, help="The central bank's gateway key file.")
@click.option("--gateway-home", "gateway_homes", type=_directory, multiple=True)
@click.option("--demo", "demo_file", type=click.Path(path_type=Path),
              default=Path(".localnet/demo.json"), show_default=True)  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def pii(
    home: Path | None,
    url: str | None,
    key_file: Path | None,
    gateway_homes: tuple[Path, ...],
    demo_file: Path,
    as_json: bool,
) -> None:
    """Search every transaction for the gateways' customers' names, phones and ID numbers."""
    from bakong.console.pii_audit import read_gateway_values, scan_blocks

    homes = list(gateway_homes)
    if (home is None and url is None) or not homes:
        demo_home, demo_gateways = _demo_sources(demo_file)
        home = demo_home if home is None and url is None else home
        homes = homes or demo_gateways
    try:
        values = read_gateway_values(homes)
        with _source(home, url, key_file, None) as source:
            report = scan_blocks(source.blocks(), values).as_json()
    except (BakongError, OSError, httpx.HTTPError) as error:  # no verdict: cannot read
        raise CannotAudit(str(error)) from None
    line = (
        f"{'ok' if report['ok'] else 'FOUND'}: {len(report['findings'])} findings in "
        f"{report['transactions_scanned']} transactions of {report['blocks_scanned']} blocks, "
        f"{report['values_checked']} personal values from {len(homes)} gateways"
    )
    _finish(report, as_json, line)
