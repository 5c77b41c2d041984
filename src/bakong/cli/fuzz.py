"""`bakong fuzz`: long fuzzing runs of the decoders of outside input (outside `make test`).

Each target is one module exposing a click command; `make test` runs a short slice of each.
"""

from __future__ import annotations

import click

from bakong.cli.lazy import LazyGroup

__all__ = ["fuzz"]

entries: dict[str, tuple[str, str, str]] = {
    "tx": (
        "bakong.fuzzing.tx",
        "command",
        "Fuzz the transaction decoder and validation with random and mutated inputs.",
    ),
    "qr": (
        "bakong.fuzzing.qr",
        "command",
        "Fuzz KHQR verify/decode, foreign parse and TLV with random and mutated strings.",
    ),
}


@click.group(cls=LazyGroup, entries=entries)
def fuzz() -> None:
    """Fuzz decoders with random and mutated inputs; exit 1 on any unexpected exception."""
