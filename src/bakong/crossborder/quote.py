"""The link's foreign-exchange arithmetic (pure): rates, spreads, and amounts in minor units.

A corridor's rate is configured as the riel one major unit of the foreign currency buys
("118.25" for 1 THB = 118.25 KHR). Inside, a rate is an exact fraction of riel per foreign
MINOR unit (`base_rate`), so no float ever touches money. The spread (basis points) is the
link's margin and always in its favour:
- outbound (a Cambodian pays abroad): the payer pays `ceil(foreign × rate × (1 + spread))`
  riel, rounded UP to the whole riel (`khr_to_charge`);
- inbound (a visitor pays a KHQR without an amount): the merchant gets
  `floor(foreign × rate × (1 - spread))` riel, rounded DOWN (`khr_to_pay`).
`rate_text` shows the rate a payer saw (spread included) per major unit, to 4 decimals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Final

from bakong import limits
from bakong.errors import ConfigError

__all__ = [
    "BPS",
    "base_rate",
    "inbound_rate",
    "khr_to_charge",
    "khr_to_pay",
    "outbound_rate",
    "parse_rate",
    "rate_text",
]

BPS: Final = 10_000  # basis points in one


def parse_rate(text: str) -> Fraction:
    """Riel per major foreign unit from its decimal text; ConfigError if it is not one."""
    if not text or len(text) > limits.link_rate_digits_max + 1:
        raise ConfigError("a rate is a positive decimal of at most 12 digits")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigError("a rate is a positive decimal such as 118.25") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError("a rate is a positive decimal such as 118.25")
    return Fraction(value)


def base_rate(rate_text_major: str, exponent: int) -> Fraction:
    """Riel per foreign minor unit (`exponent` is the currency's number of decimals)."""
    return parse_rate(rate_text_major) / Fraction(10**exponent)


def outbound_rate(base: Fraction, spread_bps: int) -> Fraction:
    """What a payer abroad pays per foreign minor unit: the base rate plus the spread."""
    return base * (BPS + spread_bps) / BPS


def inbound_rate(base: Fraction, spread_bps: int) -> Fraction:
    """What a KHQR merchant gets per foreign minor unit a visitor pays: the base less spread."""
    return base * (BPS - spread_bps) / BPS


def khr_to_charge(foreign_minor: int, rate: Fraction) -> int:
    """Riel charged for `foreign_minor` units at `rate`, rounded up to the whole riel."""
    product = foreign_minor * rate
    return -(-product.numerator // product.denominator)


def khr_to_pay(foreign_minor: int, rate: Fraction) -> int:
    """Riel paid out for `foreign_minor` units at `rate`, rounded down to the whole riel."""
    product = foreign_minor * rate
    return product.numerator // product.denominator


def rate_text(currency: str, exponent: int, rate: Fraction) -> str:
    """'1 THB = 118.8413 KHR': `rate` (per minor unit) per major unit, at most 4 decimals."""
    major = rate * 10**exponent
    scaled = round(major * 10_000)
    whole, fraction = divmod(scaled, 10_000)
    shown = str(whole) if fraction == 0 else f"{whole}.{fraction:04d}".rstrip("0")
    return f"1 {currency} = {shown} KHR"
