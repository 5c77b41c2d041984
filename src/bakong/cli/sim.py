"""`bakong sim`: the deterministic whole-network simulator (`bakong.sim`), seed by seed.

    bakong sim --seeds 500 --validators 4 --byzantine 1 --json   # a swarm of seeds
    bakong sim --seed 1234 --json                                 # replay one seed exactly
    bakong sim --mutant no-lock --seeds 100 --stop-at-first       # prove the checkers bite
    bakong sim --mutant                                           # list the mutants

With `--json`, stdout carries exactly one JSON object whose first keys are `seeds`, `heights`
(committed heights, summed over seeds), `transactions` (committed, summed), `violations`
(failing seeds) and `first_failing_seed`, then `violation_kinds` (failing seeds by the kind of
their first violation; for a single seed, its violations by kind); a single seed adds its
`trace_hash`, its violation and its fault plan. Nothing in it depends on the wall clock, so a
replay prints the same bytes. Progress (seeds done, heights, violations so far, elapsed time)
goes to stderr. The exit status is 1 when any seed reports a violation.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

import click

from bakong import limits

if TYPE_CHECKING:
    from bakong.sim.faults import Options
    from bakong.sim.run import RunResult, Summary

__all__ = ["sim"]


class _MutantName(click.Choice[str]):
    """A name of `bakong.sim.mutants.MUTANTS`, read only when needed (importing the simulator
    takes longer than every other command needs to start); an empty name (a bare `--mutant`)
    passes, to list them."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        from bakong.sim.mutants import MUTANTS

        return tuple(MUTANTS)

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        if value == "":
            return ""
        name: str = super().convert(value, param, ctx)
        return name


@click.command()
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="Run this many seeds.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Replay one seed.")
@click.option("--first-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="The first of --seeds consecutive seeds.")
@click.option("--validators", type=click.IntRange(4, 10), default=4, show_default=True)
@click.option("--byzantine", type=click.IntRange(min=0), default=None,
              help="Byzantine validators, at most f = (validators - 1) // 3 (the default).")
@click.option("--heights", type=click.IntRange(min=10), default=200, show_default=True,
              help="Committed heights each seed runs to.")
@click.option("--mutant", type=_MutantName(), is_flag=False, flag_value="", default=None,
              help="Run with a deliberately broken rule; alone, list the mutants and the "
                   "violation each must cause.")
@click.option("--stop-at-first", is_flag=True, help="Stop at the first failing seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: on for more than one seed).")
def sim(
    seeds: int | None,
    seed: int | None,
    first_seed: int,
    validators: int,
    byzantine: int | None,
    heights: int,
    mutant: str | None,
    stop_at_first: bool,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Run the deterministic network simulator over seeds; exit 1 on any violation."""
    from bakong.sim.faults import Options

    if mutant == "":
        _list_mutants()
        return
    if seed is not None and seeds is not None:
        raise click.UsageError("give --seed (replay one) or --seeds (run many), not both")
    f = (validators - 1) // 3
    if byzantine is None:
        byzantine = f
    if byzantine > f:
        raise click.UsageError(f"--byzantine is at most f = {f} with {validators} validators")
    options = Options(validators=validators, byzantine=byzantine, heights=heights, mutant=mutant)
    if seed is not None:
        failed = _replay(seed, options, as_json)
    else:
        count = 20 if seeds is None else seeds
        show = progress if progress is not None else count > 1
        failed = _swarm(range(first_seed, first_seed + count), options, as_json, stop_at_first,
                        show)
    if failed:
        sys.exit(1)


def _list_mutants() -> None:
    from bakong.sim.mutants import MUTANTS

    for name, mutant in MUTANTS.items():
        click.echo(f"{name:24} {mutant.expected}")


def _replay(seed: int, options: Options, as_json: bool) -> bool:
    from bakong.sim.run import run_seed

    result = run_seed(seed, options)
    data = {**result.as_json(), **_options_json(options)}
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo(f"seed {seed}: {result.heights} heights, {result.transactions} transactions, "
                   f"{len(result.violations)} violations, trace {result.trace_hash}")
        for violation in result.violations:
            click.echo(f"  {violation.kind} at {violation.time_ms} ms: {violation.detail}")
    return bool(result.violations)


def _swarm(
    seeds: range, options: Options, as_json: bool, stop_at_first: bool, show: bool
) -> bool:
    from bakong.sim.run import run_seeds

    started = time.monotonic()
    shown = [started]

    def report(summary: Summary, result: RunResult) -> None:
        now = time.monotonic()
        if result.violations:
            violation = result.violations[0]
            click.echo(f"seed {result.seed}: {violation.kind}: {violation.detail}", err=True)
            click.echo(f"  replay: {_replay_command(result.seed, options)}", err=True)
        if show and (
            now - shown[0] >= limits.sim_progress_interval_s or summary.seeds == len(seeds)
        ):
            shown[0] = now
            click.echo(
                f"seeds {summary.seeds}/{len(seeds)}  heights {summary.heights}  "
                f"transactions {summary.transactions}  violations {summary.violations}  "
                f"({now - started:.0f} s)",
                err=True,
            )

    summary = run_seeds(seeds, options, stop_at_first=stop_at_first, progress=report)
    data = {**summary.as_json(), **_options_json(options)}
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo(f"{summary.seeds} seeds: {summary.heights} heights, "
                   f"{summary.transactions} transactions, {summary.violations} violations"
                   + ("" if summary.first_failing_seed is None
                      else f", first failing seed {summary.first_failing_seed}"))
        for kind, count in sorted(summary.violation_kinds.items()):
            click.echo(f"  {kind}: {count}")
    if show:
        click.echo(f"done in {time.monotonic() - started:.1f} s", err=True)
    return summary.violations > 0


def _replay_command(seed: int, options: Options) -> str:
    command = (
        f"bakong sim --seed {seed} --validators {options.validators}"
        f" --byzantine {options.byzantine} --heights {options.heights}"
    )
    if options.mutant is not None:
        command += f" --mutant {options.mutant}"
    return command + " --json"


def _options_json(options: Options) -> dict[str, object]:
    return {
        "validators": options.validators,
        "byzantine": options.byzantine,
        "heights_per_seed": options.heights,
        "mutant": options.mutant,
    }
