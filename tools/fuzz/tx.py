"""`python -m tools.fuzz tx`: random and mutated transactions against the decoder and the ledger.

Inputs are drawn from one seeded PRNG: random byte strings, and mutations of valid signed
transactions (bit flips, byte replacement, truncation, insertion, deletion, splices of two
transactions, repeated fields). Half of the inputs that decode are re-signed with the sandbox
key of their (possibly mutated) creator, so that mutated commands get past the signature rungs
and reach every command handler. Each input must either fail to decode with a `DecodeError`, or
decode and then get a result code from the ledger in a real block. Any other exception, or a
broken invariant after a block, is a failure: it is printed with its input (hex) and the command
exits 1. The same seed gives the same run.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field

import click

from bakong.errors import DecodeError
from bakong.ledger.assets import Asset
from bakong.ledger.commands import Command, PlaceHold
from bakong.ledger.invariants import check_store
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction, decode_transaction, sign_transaction
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.codec import encode

__all__ = ["FuzzReport", "command", "run"]

_accounts = ("sokha@aclb", "dara@wing", "coffee@abaa")


@dataclass
class FuzzReport:
    inputs: int = 0
    decode_errors: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "inputs": self.inputs,
            "decoded": sum(self.results.values()),
            "decode_errors": dict(sorted(self.decode_errors.items())),
            "results": dict(sorted(self.results.items())),
            "failures": len(self.failures),
            "first_failure": self.failures[0] if self.failures else None,
        }


def _seed_chain() -> tuple[Sandbox, list[bytes]]:
    chain = Sandbox()
    chain.commit([chain.transaction("nbc", [chain.issue("aclb", Asset.KHR, 10**12, "fuzz")])])
    opens = [chain.transaction(a.split("@")[1], [chain.open_account(a)]) for a in _accounts]
    chain.commit(opens)
    fund = chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 10**9)
    chain.commit([chain.transaction("settlement@aclb", [fund])])
    return chain, [encode(tx) for tx in _corpus(chain)]


def _corpus(chain: Sandbox) -> list[Transaction]:
    hold: Command = PlaceHold(
        hold_id=bytes(16),
        source="sokha@aclb",
        target="dara@wing",
        poster="dara@wing",
        asset=Asset.USD,
        amount=5,
        expires_ms=chain.time_ms + 60_000,
        memo="ការទូទាត់",
        reference="",
    )
    return [
        chain.transaction(
            "sokha@aclb", [chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 100)]
        ),
        chain.transaction(
            "sokha@aclb", [hold, chain.transfer("sokha@aclb", "coffee@abaa", Asset.KHR, 7)]
        ),
        chain.transaction("aclb", [chain.open_account("new@aclb")]),
        chain.transaction("nbc", [chain.issue("wing", Asset.USD, 10, "r")]),
    ]


def _mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        position = rng.randrange(len(buffer)) if buffer else 0
        if choice == 0 and buffer:
            buffer[position] ^= 1 << rng.randrange(8)
        elif choice == 1 and buffer:
            buffer[position] = rng.choice(
                (0x00, 0x7F, 0x80, 0xC0, 0xC1, 0xCC, 0xD0, 0xD9, 0xDC, 0xFF)
            )
        elif choice == 2:
            del buffer[position:]
        elif choice == 3:
            buffer[position:position] = rng.randbytes(rng.randint(1, 8))
        elif choice == 4 and buffer:
            del buffer[position : position + rng.randint(1, 8)]
        elif choice == 5:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other))
            buffer = buffer[:position] + bytearray(other[cut:])
        else:
            buffer[position:position] = buffer[position : position + rng.randint(1, 16)]
    return bytes(buffer)


def _next_input(rng: random.Random, corpus: list[bytes]) -> bytes:
    if rng.random() < 0.15:
        return rng.randbytes(rng.randint(0, 300))
    return _mutate(rng, rng.choice(corpus), corpus)


def run(count: int, seed: int, progress: bool = False) -> FuzzReport:
    rng = random.Random(seed)
    chain, corpus = _seed_chain()
    report = FuzzReport()
    batch: list[Transaction] = []
    for number in range(count):
        data = _next_input(rng, corpus)
        report.inputs += 1
        try:
            transaction = decode_transaction(data)
            if rng.random() < 0.5:  # re-sign, so the mutated commands reach their handlers
                key = sandbox_key(Sandbox.key_name(transaction.payload.creator))
                transaction = sign_transaction(transaction.payload, [key])
            batch.append(transaction)
        except DecodeError as error:
            report.decode_errors[error.code] += 1
        except Exception as error:  # any other exception is the finding
            report.failures.append(
                f"decode raised {type(error).__name__}: {error}; input {data.hex()}"
            )
        if len(batch) >= 200 or (number == count - 1 and batch):
            _apply(chain, batch, report)
            batch = []
        if progress and number % 50_000 == 0 and number:
            print(f"fuzz tx: {number:,} inputs, {len(report.failures)} failures", file=sys.stderr)
    return report


def _apply(chain: Sandbox, batch: list[Transaction], report: FuzzReport) -> None:
    try:
        outcome = chain.commit(batch)
        check_store(chain.store.items())
    except Exception as error:  # any exception from the ledger is the finding
        inputs = " ".join(encode(tx).hex() for tx in batch)
        report.failures.append(f"ledger raised {type(error).__name__}: {error}; inputs {inputs}")
        return
    report.results.update(ResultCode(result.code).name for result in outcome.results)


@click.command()
@click.option("--count", default=100_000, show_default=True, type=click.IntRange(1, 10**9))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
def command(count: int, seed: int, as_json: bool) -> None:
    """Fuzz the transaction decoder and the ledger with COUNT random and mutated inputs."""
    report = run(count, seed, progress=True)
    if as_json:
        click.echo(json.dumps(report.as_json()))
    else:
        summary = report.as_json()
        click.echo(
            f"{summary['inputs']:,} inputs: {summary['decoded']:,} decoded and executed, "
            f"{sum(report.decode_errors.values()):,} refused by the decoder, "
            f"{summary['failures']} failures"
        )
        for failure in report.failures[:5]:
            click.echo(f"FAILURE {failure}")
    if report.failures:
        sys.exit(1)
