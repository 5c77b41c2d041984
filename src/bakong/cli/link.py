"""`bakong link`: a cross-border link between Bakong and foreign QR switches (docs/crossborder.md).

    bakong link init --home DIR --participant CODE --core-url URL --genesis FILE
                     [--admin-key FILE] [--gateway-key FILE] [--listen HOST:PORT]
                     [--database URL] [--corridor NAME=FAMILY,SWITCH_URL,SWITCH_KEY,RATE ...]
    bakong link run --home DIR [--database URL] [--json]
    bakong link key --home DIR                  the ISO key's public half, for the switches
    bakong link rate --home DIR --corridor NAME --rate DECIMAL [--database URL]
    bakong link settlement --home DIR --day YYYY-MM-DD [--database URL] [--json]

A corridor's rate is riel per one major unit of its currency ("118.25" for THB); `rate`
moves it (quotes made after use it). `settlement` asks each corridor's switch for its
statement of the day and prints the report (`crossborder.settlement`); it exits 1 when a
difference is found.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

__all__ = ["link"]

_home = click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True)
_database = click.option("--database", help="A postgresql:// URL (default: the home's).")


def _fail(error: Exception) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(2)


@click.group()
def link() -> None:
    """A cross-border link: quotes, payments abroad and from abroad, settlement."""


def _corridors(texts: tuple[str, ...]) -> dict[str, Any]:
    from bakong.crossborder.home import Corridor

    found = {}
    for text in texts:
        name, _, rest = text.partition("=")
        parts = rest.split(",")
        if len(parts) != 4:
            raise click.BadParameter(f"{text!r}: NAME=FAMILY,SWITCH_URL,SWITCH_KEY,RATE")
        family, url, key, rate = parts
        found[name] = Corridor(family=family, switch_url=url, switch_key=key, rate=rate)  # type: ignore[arg-type]
    return found


@link.command()
@_home
@click.option("--participant", required=True, help="The link's participant code, e.g. xlnk.")
@click.option("--core-url", required=True, help="A node's API URL.")
@click.option("--genesis", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--admin-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--gateway-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--listen", default="127.0.0.1:8490", show_default=True)
@_database
@click.option("--corridor", "corridors", multiple=True,
              help="NAME=FAMILY,SWITCH_URL,SWITCH_KEY_HEX,RATE (repeatable).")
def init(home: Path, participant: str, core_url: str, genesis: Path, admin_key: Path | None,
         gateway_key: Path | None, listen: str, database: str | None,
         corridors: tuple[str, ...]) -> None:  # fmt: skip
    """Write a link's home in HOME (keys not given are generated)."""
    import msgspec

    from bakong.crossborder.home import LinkConfig, LinkSection, init_home
    from bakong.errors import LocalError, RemoteError

    try:
        config = LinkConfig(LinkSection(participant=participant, core_url=core_url,
                                        database=database or "", listen=listen),
                            corridors=_corridors(corridors))  # fmt: skip
        written = init_home(home, config, genesis, gateway_key_file=gateway_key,
                            admin_key_file=admin_key)  # fmt: skip
    except (LocalError, RemoteError, msgspec.ValidationError) as error:
        _fail(error)
    click.echo(json.dumps({"home": str(home), "participant": participant,
                           "iso_key": written.iso_key.public_key.hex(),
                           "accounts": [written.account(name) for name in config.corridors]}))


@link.command()
@_home
@_database
@click.option("--json", "as_json", is_flag=True, help="Announce the URL as one JSON line.")
def run(home: Path, database: str | None, as_json: bool) -> None:
    """Run the link in HOME until SIGTERM or SIGINT."""
    from bakong.crossborder.serve import run_link
    from bakong.errors import LocalError, RemoteError

    try:
        sys.exit(run_link(home, database, as_json))
    except (LocalError, RemoteError) as error:
        _fail(error)


@link.command()
@_home
def key(home: Path) -> None:
    """Print the public key the foreign switches verify the link's messages with."""
    from bakong.crossborder.home import load_home
    from bakong.errors import LocalError, RemoteError

    try:
        click.echo(load_home(home).iso_key.public_key.hex())
    except (LocalError, RemoteError) as error:
        _fail(error)


@link.command()
@_home
@click.option("--corridor", required=True)
@click.option("--rate", required=True, help="Riel per one major unit, e.g. 118.25.")
@_database
def rate(home: Path, corridor: str, rate: str, database: str | None) -> None:
    """Set a corridor's rate; quotes made from now on use it."""
    from bakong.crossborder import store
    from bakong.crossborder.home import load_home
    from bakong.crossborder.outbound import set_rate
    from bakong.crossborder.quote import parse_rate
    from bakong.errors import LocalError, RemoteError

    try:
        loaded = load_home(home)
        if corridor not in loaded.config.corridors:
            raise click.BadParameter(f"no corridor {corridor!r} in {home}")
        parse_rate(rate)
        engine = store.engine_for(database or loaded.database_url)
        store.migrate(engine)
        set_rate(engine, corridor, rate, time.time_ns() // 1_000_000)
    except (LocalError, RemoteError, ValueError) as error:
        _fail(error)
    click.echo(json.dumps({"corridor": corridor, "rate": rate}))


@link.command()
@_home
@click.option("--day", required=True, help="YYYY-MM-DD (Asia/Phnom_Penh).")
@_database
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def settlement(home: Path, day: str, database: str | None, as_json: bool) -> None:
    """The day's net positions, FX and reconciliation of every corridor."""
    from bakong.crossborder import store
    from bakong.crossborder.home import load_home
    from bakong.crossborder.service import LinkServices
    from bakong.crossborder.settlement import day_window
    from bakong.crossborder.settlement import settlement as report
    from bakong.errors import LocalError, RemoteError

    try:
        day_window(day)
        loaded = load_home(home)
        engine = store.engine_for(database or loaded.database_url)
        store.migrate(engine)
    except (LocalError, RemoteError, ValueError) as error:
        _fail(error)

    async def build() -> list[dict[str, Any]]:
        services = LinkServices.from_home(loaded, engine)
        try:
            return await report(services, day)
        finally:
            await services.aclose()

    reports = asyncio.run(build())
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        for item in reports:
            count = len(item["differences"])
            state = "reconciled" if item["reconciled"] else f"{count} differences"
            click.echo(f"{item['corridor']} {day}: net {item['net']['khr']} KHR, "
                       f"{item['net']['foreign']} {item['currency']} minor; {state}")  # fmt: skip
    sys.exit(0 if all(item["reconciled"] for item in reports) else 1)
