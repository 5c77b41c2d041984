"""`bakong foreign`: foreign switch simulators, one per scheme family, for the cross-border link
(docs/foreign-switches.md).

    bakong foreign init --home DIR --family thai|vietnam|malaysia|laos|china
                        --link-url URL --link-key FILE [--listen HOST:PORT] [--json]
    bakong foreign run  --home DIR [--listen HOST:PORT]
    bakong foreign merchants --home DIR [--json]

`init` writes the home: config.toml, the switch's signing key (`switch.key`, its public key in
`switch.pub` for the link's config), the secret of its own API (`sim.secret`) and the books with
the family's sample merchants, two funded wallets and the link's funded nostro. `--link-key` is
a file with the link's public key in hex (or a key file, of which only the public key is read).
`merchants` lists the merchants with each one's static QR code, read from the books.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

__all__ = ["foreign"]

_home = click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True)
_FAMILIES = ("thai", "vietnam", "malaysia", "laos", "china")


@click.group()
def foreign() -> None:
    """Foreign switch simulators: PromptPay, VietQR, DuitNow, Lao QR, UnionPay, Alipay+."""


@foreign.command()
@_home
@click.option("--family", type=click.Choice(_FAMILIES), required=True)
@click.option("--link-url", required=True, help="The link service's base URL.")
@click.option(
    "--link-key",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="A file with the link's Ed25519 public key (hex, or a key file).",
)
@click.option("--listen", default="127.0.0.1:8620", show_default=True, help="HOST:PORT.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def init(
    home: Path, family: str, link_url: str, link_key: Path, listen: str, as_json: bool
) -> None:
    """Write a foreign switch simulator's home in HOME."""
    from bakong.errors import LocalError, RemoteError
    from bakong.foreignsim.home import init_home

    try:
        written = init_home(
            home, family, link_url, link_key, listen=listen, now_ms=time.time_ns() // 1_000_000
        )
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    figures = {
        "home": str(home),
        "family": family,
        "switch": written.family.switch,
        "url": written.url,
        "public_key": written.key.public_key.hex(),
        "public_key_file": str(home / "switch.pub"),
        "secret_file": str(home / "sim.secret"),
    }
    if as_json:
        click.echo(json.dumps(figures))
        return
    for name, value in figures.items():
        click.echo(f"{name}: {value}")


@foreign.command()
@_home
@click.option("--listen", help="HOST:PORT (default: the home's).")
def run(home: Path, listen: str | None) -> None:
    """Run the switch simulator in HOME until SIGTERM or SIGINT."""
    from bakong.errors import LocalError, RemoteError
    from bakong.foreignsim.app import run_switch
    from bakong.foreignsim.home import load_home

    try:
        loaded = load_home(home)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    sys.exit(run_switch(loaded, listen))


@foreign.command()
@_home
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def merchants(home: Path, as_json: bool) -> None:
    """List the merchants of HOME with each one's static QR code."""
    from bakong.errors import LocalError, RemoteError
    from bakong.foreignsim import books
    from bakong.foreignsim.families import make_qr
    from bakong.foreignsim.home import load_home
    from bakong.gateway import db

    try:
        loaded = load_home(home)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    family = loaded.family
    engine = db.engine_for(loaded.database_url)
    try:
        found = {account.id: account for account in books.list_accounts(engine, "merchant")}
    finally:
        engine.dispose()
    listed = [
        {
            "merchant_id": m.merchant_id,
            "scheme": m.scheme,
            "name": found[m.merchant_id].name,
            "city": found[m.merchant_id].city,
            "currency": family.currency,
            "balance": found[m.merchant_id].balance,
            "qr": make_qr(family, m, None),
        }
        for m in family.merchants
        if m.merchant_id in found
    ]
    if as_json:
        click.echo(json.dumps({"family": family.name, "merchants": listed}))
        return
    for merchant in listed:
        click.echo(f"{merchant['merchant_id']}  {merchant['scheme']:<10}  {merchant['name']}")
        click.echo(f"  {merchant['qr']}")
