"""The two assets: Cambodian riel and US dollars, as integers in their minor unit.

| asset | minor unit | exponent | index in balance tuples |
|-------|------------|----------|-------------------------|
| KHR   | riel       | 0        | 0                       |
| USD   | cent       | 2        | 1                       |

Balances are stored as a tuple indexed by `Asset.index`, so that every account record has
the same shape and no dict is iterated in ledger code.
"""

from __future__ import annotations

import enum

__all__ = ["ASSETS", "Asset", "format_amount", "pair_add"]


class Asset(enum.Enum):
    KHR = "KHR"
    USD = "USD"

    @property
    def index(self) -> int:
        return 0 if self is Asset.KHR else 1  # no dict: hashing an Enum member runs Python

    @property
    def exponent(self) -> int:
        return _exponent[self]


ASSETS: tuple[Asset, ...] = (Asset.KHR, Asset.USD)
_exponent = {Asset.KHR: 0, Asset.USD: 2}


def pair_add(pair: tuple[int, int], index: int, delta: int) -> tuple[int, int]:
    """A (KHR, USD) pair with `delta` added to the amount at `index`."""
    return (pair[0] + delta, pair[1]) if index == 0 else (pair[0], pair[1] + delta)


def format_amount(asset: Asset, amount: int) -> str:
    """Human form of a minor-unit amount: `1,500 KHR`, `12.34 USD` (no floats involved)."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**asset.exponent)
    text = f"{whole:,}"
    if asset.exponent:
        text += f".{fraction:0{asset.exponent}d}"
    return f"{sign}{text} {asset.value}"
