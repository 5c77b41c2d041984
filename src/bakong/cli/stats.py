"""`bakong stats`: the console's analytics figures, from its home, as JSON.

    bakong stats --home DIR [--database URL] [--days N] [--json]

Exports what the console's store holds beyond the last export to the home's Parquet files
(`DIR/analytics`, `bakong.console.analytics`) and prints the figures of the last N Phnom Penh
days (default 30) up to the last block's day: counts and values (integer minor units) per day
and asset, per channel, per payer's tier and per participant (with `--json`; without it, one
line per day and asset). The console need not run; the figures are those of the blocks its
store has followed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bakong import limits

__all__ = ["stats"]


@click.command()
@click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="The console's home directory.",
)  # fmt: skip
@click.option("--database", default="", help="A postgresql:// URL (default: the home's).")
@click.option(
    "--days", type=click.IntRange(1, limits.analytics_days_max),
    default=limits.analytics_days_default, show_default=True,
    help="Phnom Penh days, up to the last block's.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats(home: Path, database: str, days: int, as_json: bool) -> None:
    """The console's daily volumes and values by participant, asset, channel and tier."""
    import msgspec

    from bakong.console import analytics, store
    from bakong.console.home import load_home
    from bakong.errors import LocalError, RemoteError

    try:
        console_home = load_home(home)
        engine = store.engine_for(database or console_home.database_url)
        store.migrate(engine)
        directory = console_home.analytics_dir
        analytics.export(engine, directory)
        engine.dispose()
        found = analytics.figures(directory, days)
    except (LocalError, RemoteError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(msgspec.json.encode(found).decode())
        return
    click.echo(f"height {found.exported_height}, days {found.first_day} to {found.last_day}")
    for row in found.daily:
        click.echo(f"{row.day} {row.asset} payments {row.count} value {row.value}")
