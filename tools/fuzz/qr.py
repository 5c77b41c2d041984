"""`python -m tools.fuzz qr`: random and mutated strings against every QR decoder, which may
raise only typed errors.

Inputs come from one seeded PRNG: random text (ASCII, digits, Khmer, CJK, emoji, lone
surrogates, control characters), and mutations of valid codes (the published KHQR and foreign
vectors, codes from our generator, PromptPay and VietQR codes) by `tools.qrdiff.cases.mutate`:
truncation, length fields, CRC, tag order, duplicated and dropped tags, field lengths, Khmer
text, timestamps, unknown tags and random characters. Each input goes through `verify`,
`decode`, `md5`, `parse` and the strict TLV reader. `verify` must return a `Verdict` (an invalid
one with a code and the SDK's message); the others must return or raise `QRDecodeError`. Any
other exception is a failure, printed with its input, and the command exits 1. The same seed
gives the same run.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter

import click
import msgspec

from bakong.errors import QRDecodeError
from bakong.khqr import decode, md5, parse, verify
from bakong.khqr.codes import MESSAGES
from bakong.khqr.promptpay import generate_promptpay
from bakong.khqr.tlv import tree
from bakong.khqr.vietqr import generate_vietqr
from tools import ROOT
from tools.qrdiff import cases
from tools.qrdiff.run import _seed_codes

__all__ = ["FuzzReport", "command", "run"]

FOREIGN = ROOT / "tests" / "vectors" / "foreign-qr.json"
_ALPHABET = "0123456789" * 4 + "ABCDEFabcdef@. -+x\t\n" + "ចនស្មីនភ្នំពេញ" + "文山" + "\U0001f600"


class FuzzReport(msgspec.Struct):
    """Counts of outcomes, and every failure with its input."""

    inputs: int = 0
    verdicts: dict[str, int] = {}
    decode_errors: dict[str, int] = {}
    schemes: dict[str, int] = {}
    failures: list[str] = []
    seconds: float = 0.0


def _random_text(rng: random.Random) -> str:
    size = rng.choice([0, 1, 4, 8, 12, 40, 120, 300])
    text = "".join(rng.choice(_ALPHABET) for _ in range(size))
    if rng.random() < 0.05:
        text += rng.choice(["\ud800", "\udfff", "\x00", "\u2028", "\ufeff"])
    return cases.reseal(text) if rng.random() < 0.5 else text


def _foreign_codes() -> list[str]:
    if not FOREIGN.is_file():
        return []
    vectors = json.loads(FOREIGN.read_text(encoding="utf-8"))
    return [vector["qr"] for vector in vectors if not vector["qr"].startswith("(see")]


def _inputs(rng: random.Random, count: int) -> list[str]:
    codes = _seed_codes(rng, 40) + _foreign_codes()
    codes += [generate_promptpay("0812345678", "10.00"), generate_vietqr("970436", "0123456789")]
    return [
        _random_text(rng) if rng.random() < 0.2 else cases.mutate(rng, rng.choice(codes))
        for _ in range(count)
    ]


def _one(text: str, now_ms: int, report: FuzzReport, tallies: dict[str, Counter[str]]) -> None:
    verdict = verify(text, now_ms)
    if verdict.valid != (verdict.error_code is None):
        raise AssertionError(f"inconsistent verdict {verdict}")
    if verdict.error_code is not None and verdict.error_message != MESSAGES[verdict.error_code]:
        raise AssertionError(f"wrong message {verdict}")
    tallies["verdicts"][str(verdict.error_code or "valid")] += 1
    for step in (decode, md5, tree):
        try:
            step(text)
        except QRDecodeError as error:
            tallies["decode_errors"][f"{step.__name__}:{error.code}"] += 1
    try:
        tallies["schemes"][parse(text).scheme] += 1
    except QRDecodeError as error:
        tallies["decode_errors"][f"parse:{error.code}"] += 1


def run(count: int, seed: int, batch: int = 10_000) -> FuzzReport:
    """Fuzz `count` inputs from `seed`, generated in batches of `batch`."""
    rng = random.Random(seed)
    report = FuzzReport()
    tallies: dict[str, Counter[str]] = {"verdicts": Counter(), "decode_errors": Counter()}
    tallies["schemes"] = Counter()
    started = time.perf_counter()
    while report.inputs < count:
        for text in _inputs(rng, min(batch, count - report.inputs)):
            report.inputs += 1
            try:
                _one(text, cases.now_for(rng, text), report, tallies)
            except Exception as error:  # anything but our typed error is a finding
                report.failures.append(f"{type(error).__name__}: {error} on {text!r}")
    report.verdicts = dict(sorted(tallies["verdicts"].items()))
    report.decode_errors = dict(sorted(tallies["decode_errors"].items()))
    report.schemes = dict(sorted(tallies["schemes"].items()))
    report.seconds = round(time.perf_counter() - started, 2)
    return report


@click.command()
@click.option("--count", type=click.IntRange(1, 100_000_000), default=1_000_000, show_default=True)
@click.option("--seed", type=int, default=None, help="Random seed (default: from the clock).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def command(count: int, seed: int | None, as_json: bool) -> None:
    """Fuzz verify, decode, md5, parse and the TLV reader; exit 1 on any untyped exception."""
    chosen = time.time_ns() if seed is None else seed
    report = run(count, chosen)
    summary = {"seed": chosen, **msgspec.to_builtins(report)}
    summary["failures"] = report.failures[:20]
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(f"seed {chosen}: {report.inputs} inputs in {report.seconds} s, "
                   f"{len(report.failures)} failures")
        for failure in report.failures[:20]:
            click.echo(failure)
    if report.failures:
        raise click.exceptions.Exit(1)
