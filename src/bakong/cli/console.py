"""`bakong console`: the central bank's console: write its home, run it, add its staff.

    bakong console init --home DIR --node URL --genesis FILE --key FILE
                        [--database URL] [--listen HOST:PORT] [--json]
    bakong console run  --home DIR [--database URL] [--listen HOST:PORT | --host H --port N]
                        [--cert FILE --key FILE] [--json]
    bakong console staff add --home DIR --user NAME --role operator|supervisor|auditor
                             [--password-stdin] [--database URL] [--json]
    bakong console report settlement --home DIR --day YYYY-MM-DD
                             [--format csv|camt053|json] [--database URL]

`--key` is the central bank's admin key file (a local network's `.localnet/keys/nbc-admin.json`):
the console follows the complete stream with it and signs what its supervisors approve.
Staff are made on the console's host: `staff add` reads the password from stdin
(`--password-stdin`) or generates one and prints it once. It opens the store directly: the
console need not run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

__all__ = ["console"]

_file = click.Path(dir_okay=False, exists=True, path_type=Path)
_home = click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="The console's home directory.",
)  # fmt: skip


@click.group()
def console() -> None:
    """The central bank's console: participants, liquidity, supervision, audit."""


@console.command()
@_home
@click.option("--node", "node_url", required=True, help="A core node's API URL.")
@click.option("--genesis", type=_file, required=True, help="The chain's genesis.json.")
@click.option("--key", type=_file, required=True, help="The central bank's admin key file.")
@click.option("--database", default="", help="A postgresql:// URL (default: SQLite in HOME).")
@click.option("--listen", default="127.0.0.1:8490", show_default=True, help="HOST:PORT.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def init(
    home: Path, node_url: str, genesis: Path, key: Path, database: str, listen: str, as_json: bool
) -> None:
    """Write a console home in HOME: config.toml, genesis, the central bank's key."""
    from bakong.console.home import ConsoleSection, init_home
    from bakong.errors import LocalError, RemoteError

    try:
        written = init_home(home, ConsoleSection(node_url, database, listen), genesis, key)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    figures = {
        "home": str(home),
        "central_bank": written.genesis.central_bank.code,
        "key": written.key.public_key.hex(),
        "database": written.database_url,
        "listen": listen,
    }
    if as_json:
        click.echo(json.dumps(figures))
        return
    for name, value in figures.items():
        click.echo(f"{name}: {value}")


@console.command()
@_home
@click.option("--database", help="A postgresql:// URL (default: the home's).")
@click.option("--listen", help="HOST:PORT to listen on (default: the home's `listen`).")
@click.option("--host", help="Listen on this address (default: the home's `listen`).")
@click.option("--port", type=click.IntRange(0, 65535), help="Listen on this port (0: any).")
@click.option("--cert", type=_file, help="A TLS certificate (PEM): serve HTTPS.")
@click.option("--key", type=_file, help="The certificate's private key (PEM).")
@click.option("--json", "as_json", is_flag=True, help="Print where it listens as JSON.")
def run(
    home: Path,
    database: str | None,
    listen: str | None,
    host: str | None,
    port: int | None,
    cert: Path | None,
    key: Path | None,
    as_json: bool,
) -> None:
    """Run the console in HOME until SIGTERM or SIGINT; prints where it listens."""
    from bakong.console.serve import RunOptions, run_console
    from bakong.errors import LocalError, RemoteError

    try:
        if listen is not None:
            from bakong.node.home import parse_address

            host, port = parse_address(listen)
        sys.exit(run_console(RunOptions(home, database, host, port, cert, key, as_json)))
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@console.group()
def staff() -> None:
    """The central bank's staff: who may sign in to the console, in which role."""


@staff.command("add")
@_home
@click.option("--database", help="A postgresql:// URL (default: the home's).")
@click.option("--user", "name", required=True, help="The login name, e.g. dara.s.")
@click.option("--role", required=True, type=click.Choice(["operator", "supervisor", "auditor"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def staff_add(
    home: Path, database: str | None, name: str, role: str, password_stdin: bool, as_json: bool
) -> None:
    """Add a staff member; without --password-stdin a password is generated and shown once."""
    from bakong.console import store
    from bakong.console.home import load_home
    from bakong.console.staff import add_staff, generate_password
    from bakong.errors import LocalError, RemoteError

    password = (
        sys.stdin.readline().rstrip("\r\n") if password_stdin else generate_password(os.urandom)
    )
    try:
        engine = store.engine_for(database or load_home(home).database_url)
        store.migrate(engine)
        add_staff(engine, name, role, password, time.time_ns() // 1_000_000)
        engine.dispose()
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    shown = None if password_stdin else password
    if as_json:
        click.echo(json.dumps({"user": name, "role": role, "password": shown}))
        return
    click.echo(f"{role} {name} added")
    if shown is not None:
        click.echo(f"password (shown once): {shown}")


@console.group()
def report() -> None:
    """Reports read from the console's store (the console need not run)."""


@report.command("settlement")
@_home
@click.option("--database", help="A postgresql:// URL (default: the home's).")
@click.option("--day", required=True, help="The Phnom Penh day, YYYY-MM-DD.")
@click.option(
    "--format", "kind", type=click.Choice(["csv", "camt053", "json"]), default="csv",
    show_default=True, help="CSV, ISO 20022 camt.053.001.08 XML, or JSON.",
)  # fmt: skip
def report_settlement(home: Path, database: str | None, day: str, kind: str) -> None:
    """Each participant's gross and net position per asset on DAY, to stdout; exits 1 when the
    day's net positions do not sum to zero or its closing disagrees with the ledger."""
    from bakong.console import reports, store
    from bakong.console.home import load_home
    from bakong.console.settlement import camt053, settlement_csv
    from bakong.errors import LocalError, RemoteError

    try:
        engine = store.engine_for(database or load_home(home).database_url)
        store.migrate(engine)
        found = reports.settlement_report(engine, day)
        engine.dispose()
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    if kind == "csv":
        sys.stdout.write(settlement_csv([found.day]))
    elif kind == "json":
        click.echo(reports.report_json(found).decode())
    else:
        now_ms = time.time_ns() // 1_000_000
        message_id = f"stl-{day}-{now_ms}"
        sys.stdout.buffer.write(camt053(found.day, message_id=message_id, created_ms=now_ms))
    sys.exit(0 if found.day.balanced and not found.ledger_problems else 1)
