"""`bakong corebank`: a sample core-banking service (a bank's own books), for the wallet's link
to a bank account (docs/core-banking.md).

    bakong corebank init --home DIR --bank CODE [--listen HOST:PORT] [--database URL]
                         [--no-samples] [--json]
    bakong corebank run  --home DIR [--database URL] [--listen HOST:PORT]
    bakong corebank account add --home DIR --number N --holder NAME --phone +855...
                                --currency KHR|USD [--balance MINOR] [--database URL]
    bakong corebank account list --home DIR [--database URL] [--json]
    bakong corebank post --home DIR --posting-id ID --account N --amount MINOR
                         --kind credit|debit [--database URL]

`init` writes the home (config.toml, a fresh API secret `api.secret`, the books with the GL
accounts and a few sample customers). `post` is a teller's manual posting against the Bakong
GL, with no gateway behind it: what the daily reconciliation must report.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["corebank"]

_home = click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True)
_database = click.option("--database", help="A postgresql:// URL (default: the home's).")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@click.group()
def corebank() -> None:
    """A sample core-banking service: customers' deposit accounts and the bank's books."""


@corebank.command()
@_home
@click.option("--bank", required=True, help="The participant code of the bank, e.g. aclb.")
@click.option("--listen", default="127.0.0.1:8590", show_default=True, help="HOST:PORT.")
@_database
@click.option("--no-samples", is_flag=True, help="Open no sample customer accounts.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def init(home: Path, bank: str, listen: str, database: str | None, no_samples: bool,
         as_json: bool) -> None:  # fmt: skip
    """Write a core bank's home in HOME."""
    from bakong.corebank.home import init_home
    from bakong.errors import LocalError, RemoteError

    try:
        written = init_home(home, bank, listen=listen, database=database or "",
                            now_ms=_now_ms(), samples=not no_samples)  # fmt: skip
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    figures = {"home": str(home), "bank": bank, "url": f"http://{listen}",
               "secret_file": str(home / "api.secret"), "database": written.database_url}
    if as_json:
        click.echo(json.dumps(figures))
        return
    for name, value in figures.items():
        click.echo(f"{name}: {value}")


@corebank.command()
@_home
@_database
@click.option("--listen", help="HOST:PORT (default: the home's).")
def run(home: Path, database: str | None, listen: str | None) -> None:
    """Run the core bank in HOME until SIGTERM or SIGINT."""
    from bakong.corebank.app import run_corebank
    from bakong.corebank.home import load_home
    from bakong.errors import LocalError, RemoteError

    try:
        loaded = load_home(home)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    sys.exit(run_corebank(loaded, database, listen))


def _books(home: Path, database: str | None) -> Engine:
    from bakong.corebank import books
    from bakong.corebank.home import load_home
    from bakong.errors import LocalError, RemoteError
    from bakong.gateway import db

    try:
        loaded = load_home(home)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    engine = db.engine_for(database or loaded.database_url)
    books.create_schema(engine)
    return engine


@corebank.group()
def account() -> None:
    """Customers' deposit accounts."""


@account.command("add")
@_home
@_database
@click.option("--number", required=True, help="6 to 20 digits.")
@click.option("--holder", required=True, help="The holder's name.")
@click.option("--phone", required=True, help="The phone the bank knows, +855...")
@click.option("--currency", type=click.Choice(["KHR", "USD"]), required=True)
@click.option("--balance", type=click.IntRange(0), default=0, help="Opening cash, minor units.")
def account_add(home: Path, database: str | None, number: str, holder: str, phone: str,
                currency: str, balance: int) -> None:  # fmt: skip
    """Open a deposit account (its opening balance a cash deposit)."""
    import re

    import sqlalchemy as sa

    from bakong import limits
    from bakong.corebank import books

    if not re.fullmatch(r"[0-9]{6,20}", number) or not re.fullmatch(r"\+[0-9]{8,15}", phone):
        click.echo("error: --number is 6 to 20 digits, --phone +country and digits", err=True)
        sys.exit(2)
    if not 0 < len(holder) <= limits.corebank_holder_chars_max:
        click.echo("error: --holder is 1 to 80 characters", err=True)
        sys.exit(2)
    engine = _books(home, database)
    try:
        books.add_account(engine, number, holder, phone, currency, balance, _now_ms())
    except sa.exc.IntegrityError:
        click.echo(f"error: account {number} exists", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    click.echo(f"account {number} opened")


@account.command("list")
@_home
@_database
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def account_list(home: Path, database: str | None, as_json: bool) -> None:
    """The accounts and their balances (minor units)."""
    from bakong.corebank import books

    engine = _books(home, database)
    try:
        found = books.list_accounts(engine)
    finally:
        engine.dispose()
    rows = [{"number": a.number, "kind": a.kind, "holder": a.holder_name, "phone": a.phone,
             "currency": a.currency, "balance": a.balance, "status": a.status}
            for a in found]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"accounts": rows}))
        return
    for row in rows:
        click.echo(f"{row['number']:<12} {row['kind']:<8} {row['currency']} "
                   f"{row['balance']:>14}  {row['holder']}")  # fmt: skip


@corebank.command()
@_home
@_database
@click.option("--posting-id", required=True)
@click.option("--account", "number", required=True)
@click.option("--amount", type=click.IntRange(1), required=True, help="Minor units.")
@click.option("--kind", type=click.Choice(["credit", "debit"]), required=True)
def post(home: Path, database: str | None, posting_id: str, number: str, amount: int,
         kind: str) -> None:  # fmt: skip
    """A teller's manual posting between a deposit and the Bakong GL."""
    from bakong.corebank import books

    engine = _books(home, database)
    try:
        done = books.manual_posting(engine, posting_id, number, amount, kind, _now_ms())
    except books.CorebankProblem as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    click.echo(json.dumps(done.view()))
