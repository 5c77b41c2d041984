"""`bakong gateway`: write a participant gateway's home, and run it.

    bakong gateway init --participant aclb --home DIR --core URL --genesis FILE
                        [--gateway-key FILE --admin-key FILE] [--alias-key FILE]
                        [--database URL] [--listen HOST:PORT] [--directory CODE=URL ...]
    bakong gateway run  --participant aclb --home DIR [--database URL] [--host H] [--port N]
                        [--cert FILE --key FILE]
    bakong gateway officer add --home DIR --name NAME [--password-stdin] [--database URL]
    bakong gateway officer list --home DIR [--database URL] [--json]
    bakong gateway officer disable --home DIR --name NAME [--database URL]
    bakong gateway officer-token --home DIR --name NAME [--database URL] [--ttl-minutes N]
                                 [--json]
    bakong gateway reconcile --home DIR [--day YYYY-MM-DD] [--database URL] [--json]

A local network's keys are in `.localnet/keys/<code>-gateway.json` and `<code>-admin.json`,
its genesis in `.localnet/genesis.json`. Keys not given are generated (and must then be
registered on the participant's record by the central bank). Every gateway of a chain must
hold the same alias key: generate it for the first, pass its `alias.key` to the others.

Bank officers are made on the gateway's host: `officer add` stores a named officer with the
password read from stdin (`--password-stdin`), or a generated one printed once; the officer
signs in on the officer page. `officer-token` opens a session of a named officer without the
password, for scripts on the host. All open the store directly: the gateway need not run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bakong import limits

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

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
@click.option(
    "--print-sms", is_flag=True,
    help="On this machine only (loopback): print text messages (sign-up codes) to stdout.",
)  # fmt: skip
def run(
    participant: str | None,
    home: Path,
    database: str | None,
    host: str | None,
    port: int | None,
    cert: Path | None,
    key: Path | None,
    as_json: bool,
    print_sms: bool,
) -> None:
    """Run the gateway in HOME until SIGTERM or SIGINT; prints where it listens."""
    from bakong.errors import LocalError, RemoteError
    from bakong.gateway.serve import RunOptions, run_gateway

    options = RunOptions(home, participant, database, host, port, cert, key, as_json, print_sms)
    try:
        status = run_gateway(options)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    sys.exit(status)


def _store(home: Path, database: str | None) -> Engine:
    """An engine on HOME's store (migrated), or exit 2 naming what is wrong with HOME."""
    from bakong.errors import LocalError, RemoteError
    from bakong.gateway import db
    from bakong.gateway.home import load_home

    try:
        loaded = load_home(home)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    engine = db.engine_for(database or loaded.database_url)
    db.migrate(engine)
    return engine


def _now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


_home = click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True)
_database = click.option("--database", help="A postgresql:// URL (default: the home's).")
_name = click.option("--name", required=True, help="The officer's login name, e.g. sokha.k.")


@gateway.group()
def officer() -> None:
    """The bank's officers: who may sign in to the officer page."""


@officer.command("add")
@_home
@_database
@_name
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def officer_add(home: Path, database: str | None, name: str, password_stdin: bool) -> None:
    """Add an officer NAME; without --password-stdin a password is generated and shown once."""
    import os

    from bakong.errors import RemoteError
    from bakong.gateway import officers

    password = (
        sys.stdin.readline().rstrip("\r\n")
        if password_stdin
        else officers.generate_password(os.urandom)
    )
    engine = _store(home, database)
    try:
        officers.add_officer(engine, name, password, _now_ms())
    except RemoteError as error:
        click.echo(f"error: {error.message}", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    click.echo(f"officer {name} added")
    if not password_stdin:
        click.echo(f"password (shown once): {password}")


@officer.command("list")
@_home
@_database
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def officer_list(home: Path, database: str | None, as_json: bool) -> None:
    """The officers: name, enabled or not, locked until when."""
    import msgspec

    from bakong.gateway import officers

    engine = _store(home, database)
    try:
        found = officers.list_officers(engine)
    finally:
        engine.dispose()
    if as_json:
        click.echo(msgspec.json.encode({"officers": found}).decode())
        return
    for row in found:
        state = "disabled" if row.disabled else "enabled"
        click.echo(f"{row.name}\t{state}\tlocked_until_ms={row.locked_until_ms}")


@officer.command("disable")
@_home
@_database
@_name
def officer_disable(home: Path, database: str | None, name: str) -> None:
    """Disable officer NAME: it cannot sign in, and its sessions end now."""
    from bakong.gateway import officers

    engine = _store(home, database)
    try:
        found = officers.disable_officer(engine, name)
    finally:
        engine.dispose()
    if not found:
        click.echo(f"error: no officer is named {name}", err=True)
        sys.exit(2)
    click.echo(f"officer {name} disabled")


@gateway.command("officer-token")
@_home
@_database
@_name
@click.option(
    "--ttl-minutes",
    type=click.IntRange(1, _officer_minutes_max),
    default=_officer_minutes_default,
    show_default=True,
    help="How long the session lasts.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def officer_token(
    home: Path, database: str | None, name: str, ttl_minutes: int, as_json: bool
) -> None:
    """Open a session of officer NAME in HOME's store and print its token, once.

    Run on the gateway's host by the bank's back office, for scripts (the token is stored only
    hashed; keep it like a password). Its acts are recorded as NAME's."""
    import os

    from bakong.errors import RemoteError
    from bakong.gateway import officers

    engine = _store(home, database)
    try:
        token, session = officers.open_officer_session(
            engine, name, _now_ms(), os.urandom, ttl_minutes * 60_000
        )
    except RemoteError as error:
        click.echo(f"error: {error.message}", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"token": token, "expires_ms": session.expires_ms}))
        return
    click.echo(f"officer token (shown once): {token}")
    click.echo(f"expires_ms: {session.expires_ms}")


@gateway.command()
@_home
@_database
@click.option("--day", help="The Asia/Phnom_Penh day, YYYY-MM-DD (default: yesterday).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def reconcile(home: Path, database: str | None, day: str | None, as_json: bool) -> None:
    """Reconcile a day's bank transfers on the ledger with the core bank's journal.

    The report is stored and printed; the exit status is 0 when both sides agree, 1 when the
    report lists differences, 2 when it could not be made (docs/core-banking.md)."""
    from bakong.errors import LocalError, RemoteError
    from bakong.gateway.corebanking.reconcile import reconcile_from_home

    try:
        report = reconcile_from_home(home, database, day)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(f"{report['day']} {report['bank']}: {report['matched']} matched, "
                   f"{report['differences']} differences")  # fmt: skip
        for kind, items in report["items"].items():
            if kind != "matched" and items:
                click.echo(f"  {kind}: {json.dumps(items)}")
    sys.exit(1 if report["differences"] else 0)
