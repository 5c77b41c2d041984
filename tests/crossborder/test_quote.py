"""The link's FX arithmetic: rates per minor unit, the spread's direction, rounding, text."""

from __future__ import annotations

from fractions import Fraction

import pytest

from bakong.crossborder.quote import (
    base_rate,
    inbound_rate,
    khr_to_charge,
    khr_to_pay,
    outbound_rate,
    parse_rate,
    rate_text,
)
from bakong.errors import ConfigError


def test_a_rate_is_per_minor_unit_of_the_currency() -> None:
    assert base_rate("118.25", 2) == Fraction(11825, 10_000)  # riel per satang
    assert base_rate("0.16", 0) == Fraction(4, 25)  # riel per dong
    assert base_rate("0.19", 0) == Fraction(19, 100)  # riel per kip


def test_outbound_rounds_up_and_adds_the_spread() -> None:
    rate = outbound_rate(base_rate("118.25", 2), 100)  # 1 %
    # 100.00 THB = 11,825 KHR, plus 1 % = 11,943.25: the payer pays 11,944.
    assert khr_to_charge(10_000, rate) == 11_944
    assert khr_to_charge(1, rate) == 2  # 1.194325 riel: never less than it costs
    assert khr_to_charge(10_000, base_rate("118.25", 2)) == 11_825  # exact: no rounding


def test_inbound_rounds_down_and_takes_the_spread() -> None:
    rate = inbound_rate(base_rate("118.25", 2), 100)
    assert khr_to_pay(10_000, rate) == 11_706  # 11,706.75 riel paid as 11,706
    assert khr_to_pay(1, rate) == 1
    assert khr_to_pay(25_000, inbound_rate(base_rate("0.16", 0), 50)) == 3_980


def test_the_spread_always_favours_the_link() -> None:
    base = base_rate("3.47", 2)
    for amount in (1, 99, 12_345, 10**12):
        assert khr_to_charge(amount, outbound_rate(base, 25)) >= khr_to_charge(amount, base)
        assert khr_to_pay(amount, inbound_rate(base, 25)) <= khr_to_pay(amount, base)


def test_the_rate_text_shows_the_rate_paid_per_major_unit() -> None:
    assert rate_text("THB", 2, base_rate("118.25", 2)) == "1 THB = 118.25 KHR"
    assert rate_text("THB", 2, outbound_rate(base_rate("118.25", 2), 100)) == (
        "1 THB = 119.4325 KHR")
    assert rate_text("VND", 0, base_rate("0.16", 0)) == "1 VND = 0.16 KHR"
    assert rate_text("CNY", 2, base_rate("560", 2)) == "1 CNY = 560 KHR"


@pytest.mark.parametrize("text", ["", "0", "-1", "abc", "NaN", "Infinity", "1" * 14])
def test_a_rate_that_is_not_a_positive_decimal_is_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_rate(text)
