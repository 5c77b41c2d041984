"""`python -m tools.qrdiff --count N [--seed S] [--json]`: one differential run against the SDK.

Prints the case counts and every disagreement with its input (the first 50 in text form);
exits 1 if there is any, or if the SDK or Node is missing.
"""

from __future__ import annotations

import json
import time

import click
import msgspec

from bakong.errors import ConfigError
from tools.qrdiff.run import run


@click.command()
@click.option("--count", type=click.IntRange(100, 10_000_000), default=20_000, show_default=True)
@click.option("--seed", type=int, default=None, help="Random seed (default: from the clock).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def main(count: int, seed: int | None, as_json: bool) -> None:
    """Compare verify, decode and generate with the official SDK under Node on COUNT cases."""
    chosen = time.time_ns() // 1_000_000 if seed is None else seed
    try:
        report = run(count, chosen)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(report), ensure_ascii=False))
    else:
        total = sum(report.counts.values())
        click.echo(f"seed {chosen}: {total} cases {report.counts}, "
                   f"{len(report.disagreements)} disagreements")
        for item in report.disagreements[:50]:
            click.echo(json.dumps(item, ensure_ascii=False))
    if report.disagreements:
        raise click.exceptions.Exit(1)


main()
