"""`bakong localnet`: a whole network of validator processes on this machine.

    bakong localnet start --validators 4 --home DIR

Initialises DIR when it is empty (genesis with the central bank and three participants, keys,
one home per validator; `bakong.node.localnet`), starts one process per validator, waits until
blocks are committed, writes DIR/localnet.json, prints where everything is, and runs in the
foreground until interrupted; then it stops its children cleanly. On a DIR that already holds a
network it resumes the same chain. One process at a time runs a DIR (`bakong.homelock`): a
second `start` or `bakong demo` on it stops at once instead of finding the first one's
validators on its ports.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bakong import limits

if TYPE_CHECKING:
    from bakong.node.localnet import Localnet

__all__ = ["localnet"]


@click.group()
def localnet() -> None:
    """A local network of validator processes."""


@localnet.command()
@click.option("--validators", type=click.IntRange(4, 10), default=4, show_default=True)
@click.option("--home", "home", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print localnet.json once it is up.")
def start(validators: int, home: Path, as_json: bool) -> None:
    """Start (initialising if empty) the network in HOME; stop it with Ctrl-C."""

    def up(network: Localnet) -> None:
        description = network.directory / "localnet.json"
        if as_json:
            click.echo(description.read_text(), nl=False)
        else:
            _print_summary(network, description)

    run_network(home, validators, up)


def run_network(home: Path, validators: int, up: Callable[[Localnet], None]) -> None:
    """Start the network in `home` (initialising it if empty), call `up` once blocks are
    committed and `localnet.json` is written, then run until SIGINT or SIGTERM and stop the
    children. Also what `bakong demo` runs."""
    from bakong.errors import LocalError
    from bakong.homelock import holding

    with ExitStack() as held:
        try:
            home.mkdir(parents=True, exist_ok=True)
            held.enter_context(holding(home, f"the local network in {home}"))
        except (LocalError, OSError) as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        _run_held(home, validators, up)


def _run_held(home: Path, validators: int, up: Callable[[Localnet], None]) -> None:
    from bakong.errors import LocalError, RemoteError
    from bakong.node.localnet import Localnet, init_localnet

    try:
        if not (home / "genesis.json").exists():
            init_localnet(home, validators)
        network = Localnet(home)
    except (LocalError, RemoteError, OSError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    network.start()
    try:
        click.echo(f"starting {len(network.children)} validators in {home} ...", err=True)
        if not network.wait_for_height(1, limits.localnet_start_timeout_s):
            click.echo(
                f"error: no block committed within {limits.localnet_start_timeout_s:.0f} s; see "
                f"{home}/validator-*/stdout.log",
                err=True,
            )
            sys.exit(1)
        network.write_description()
        up(network)
        sys.stdout.flush()
        while not stopping.wait(1.0):
            for child in network.children:
                if child.process is not None and child.process.poll() is not None:
                    click.echo(f"{child.name} exited ({child.process.returncode})", err=True)
                    child.process = None
    finally:
        network.stop()
        click.echo("localnet stopped", err=True)


def _print_summary(network: Localnet, description: Path) -> None:
    click.echo(f"localnet {network.genesis.chain_id} is committing blocks")
    for child in network.children:
        click.echo(f"  {child.name}: API {child.api_url}  (home {child.home})")
    click.echo(f"  status: curl {network.children[0].api_url}/v1/status")
    click.echo(f"  keys:   {network.directory / 'keys'}")
    click.echo(f"  details: {description}")
    click.echo("Ctrl-C stops the network; the same --home resumes it.")
