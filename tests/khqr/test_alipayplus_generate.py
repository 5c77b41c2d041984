"""Alipay+ generation: an EMVCo code carrying the merchant's Alipay URL as the SGQR sample
does, which parses back as Alipay+ with its URL, amount and currency; refused input."""

from __future__ import annotations

import pytest

from bakong.errors import QRInputError
from bakong.khqr.alipayplus import generate_alipayplus
from bakong.khqr.foreign import parse
from bakong.khqr.tlv import tree

from .data import FOREIGN_VECTORS


def test_the_template_is_the_one_of_the_public_sgqr_sample() -> None:
    sample = next(v for v in FOREIGN_VECTORS if v["scheme"] == "alipay (inside SGQR)")
    made = generate_alipayplus("ocx08230mbjrpvogjn4mm17", name="DRAGON BOWL", city="Singapore",
                               currency="702", country="SG")  # fmt: skip
    assert tree(made)["27"] == sample["expected"]["tags"]["27"]


def test_a_dynamic_code_parses_back() -> None:
    qr = generate_alipayplus("2810000000000042", name="Peking Duck", city="Beijing",
                             amount="199")  # fmt: skip
    parsed = parse(qr)
    assert (parsed.scheme, parsed.country, parsed.currency, parsed.amount) == (
        "alipayplus", "CN", "156", "199.00")  # fmt: skip
    assert parsed.payee["url"] == "https://qr.alipay.com/2810000000000042"
    assert parsed.crc_valid is True


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"code": "short"}, "alipayplus_code_invalid"),
        ({"code": "has/slash/in/it"}, "alipayplus_code_invalid"),
        ({"mcc": "59"}, "alipayplus_mcc_invalid"),
        ({"currency": "CNY"}, "alipayplus_currency_invalid"),
        ({"amount": "0"}, "alipayplus_amount_invalid"),
        ({"name": ""}, "alipayplus_name_invalid"),
    ],
)
def test_bad_input_is_refused(arguments: dict[str, str], code: str) -> None:
    given = {"code": "2810000000000042", "name": "A", "city": "B", **arguments}
    with pytest.raises(QRInputError) as raised:
        generate_alipayplus(**given)
    assert raised.value.code == code
