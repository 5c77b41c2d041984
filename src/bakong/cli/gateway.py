"""`bakong gateway`: write a participant gateway's home, and run it.

    bakong gateway init --participant aclb --home DIR --core URL --genesis FILE
                        [--gateway-key FILE --admin-key FILE] [--alias-key FILE]
                        [--database URL] [--listen HOST:PORT] [--directory CODE=URL ...]
    bakong gateway run  --participant aclb --home DIR [--database URL] [--host H] [--port N]
                        [--cert FILE --key FILE]
    bakong gateway officer-token --home DIR [--database URL] [--ttl-minutes N] [--json]

A local network's keys are in `.localnet/keys/<code>-gateway.json` and `<code>-admin.json`,
its genesis in `.localnet/genesis.json`. Keys not given are generated (and must then be
registered on the participant's record by the central bank). Every gateway of a chain must
hold the same alias key: generate it for the first, pass its `alias.key` to the others.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bakong import limits

__all__ = ["gateway"]

_file = click.Path(dir_okay=False, exists=True, path_type=Path)
_officer_minutes_default = limits.officer_session_lifetime_ms_default // 60_000
_officer_minutes_max = limits.officer_session_lifetime_ms_max // 60_000


@click.group()
def gateway() -> None:
    """A participant's gateway: wallets, merchants and the Open API."""


def _directory(
    context: click.Context, parameter: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    entries = {}
    for value in values:
        code, separator, url = value.partition("=")
        if not separator:
            raise click.BadParameter(f"{value!r} is not CODE=URL")
        entries[code] = url
    return entries


@gateway.command()
@click.option("--participant", required=True, help="The participant code, e.g. aclb.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--core", "core_url", required=True, help="A core node's API URL.")
@click.option("--genesis", type=_file, required=True, help="The chain's genesis.json.")
@click.option("--gateway-key", type=_file, help="The participant's gateway key file.")
@click.option("--admin-key", type=_file, help="The participant's admin key file.")
@click.option("--alias-key", type=_file, help="The chain's alias HMAC key (64 hex digits).")
@click.option("--database", default="", help="A postgresql:// URL (default: SQLite in HOME).")
@click.option("--listen", default="127.0.0.1:8480", show_default=True, help="HOST:PORT.")
@click.option("--public-url", default="", help="Where other gateways reach this one.")
@click.option("--directory", multiple=True, callback=_directory, help="CODE=URL of a peer.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def init(
    participant: str,
    home: Path,
    core_url: str,
    genesis: Path,
    gateway_key: Path | None,
    admin_key: Path | None,
    alias_key: Path | None,
    database: str,
    listen: str,
    public_url: str,
    directory: dict[str, str],
    as_json: bool,
) -> None:
    """Write a gateway home in HOME: config.toml, genesis, keys, key-encryption key."""
    from bakong.errors import LocalError, RemoteError
    from bakong.gateway.home import GatewayConfig, GatewaySection, init_home

    section = GatewaySection(participant, core_url, database, listen, public_url)
    try:
        written = init_home(
            home,
            GatewayConfig(section, directory),
            genesis,
            gateway_key_file=gateway_key,
            admin_key_file=admin_key,
            alias_key_file=alias_key,
        )
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    figures = {
        "home": str(home),
        "participant": participant,
        "gateway_key": written.gateway_key.public_key.hex(),
        "admin_key": written.admin_key.public_key.hex(),
        "database": written.database_url,
    }
    if as_json:
        click.echo(json.dumps(figures))
        return
    for name, value in figures.items():
        click.echo(f"{name}: {value}")


@gateway.command()
@click.option("--participant", help="The participant code (checked against the home's).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--database", help="A postgresql:// URL (default: the home's).")
@click.option("--host", help="Listen on this address (default: the home's `listen`).")
@click.option("--port", type=click.IntRange(0, 65535), help="Listen on this port (0: any).")
@click.option("--cert", type=_file, help="A TLS certificate (PEM): serve HTTPS.")
@click.option("--key", type=_file, help="The certificate's private key (PEM).")
@click.option("--json", "as_json", is_flag=True, help="Print where it listens as JSON.")
def run(
    participant: str | None,
    home: Path,
    database: str | None,
    host: str | None,
    port: int | None,
    cert: Path | None,
    key: Path | None,
    as_json: bool,
) -> None:
    """Run the gateway in HOME until SIGTERM or SIGINT; prints where it listens."""
    from bakong.errors import LocalError, RemoteError
    from bakong.gateway.serve import RunOptions, run_gateway

    options = RunOptions(home, participant, database, host, port, cert, key, as_json)
    try:
        status = run_gateway(options)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    sys.exit(status)


@gateway.command("officer-token")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--database", help="A postgresql:// URL (default: the home's).")
@click.option(
    "--ttl-minutes",
    type=click.IntRange(1, _officer_minutes_max),
    default=_officer_minutes_default,
    show_default=True,
    help="How long the session lasts.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def officer_token(home: Path, database: str | None, ttl_minutes: int, as_json: bool) -> None:
    """Open a bank officer's session in HOME's store and print its token, once.

    Run on the gateway's host by the bank's back office: it is how staff access starts (the
    token is stored only hashed; keep it like a password). It opens the store directly, so
    the gateway need not be running."""
    import os
    import time

    from bakong.errors import LocalError, RemoteError
    from bakong.gateway import db, sessions
    from bakong.gateway.home import load_home

    try:
        loaded = load_home(home)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    engine = db.engine_for(database or loaded.database_url)
    try:
        db.migrate(engine)
        token, session = sessions.open_officer_session(
            engine, time.time_ns() // 1_000_000, os.urandom, ttl_minutes * 60_000
        )
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"token": token, "expires_ms": session.expires_ms}))
        return
    click.echo(f"officer token (shown once): {token}")
    click.echo(f"expires_ms: {session.expires_ms}")
