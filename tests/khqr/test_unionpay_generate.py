"""UnionPay generation: the public Hong Kong vector made again byte for byte, Chinese codes that
parse back as UnionPay with their payee, amount and currency, and refused input."""

from __future__ import annotations

import pytest

from bakong.errors import QRInputError
from bakong.khqr.foreign import parse
from bakong.khqr.unionpay import generate_unionpay

from .data import FOREIGN_VECTORS


def test_the_public_hong_kong_vector_is_made_again() -> None:
    made = generate_unionpay(
        "25000344", "00020344", "100000000000006", name="Test Merchant", city="HK", mcc="5972",
        currency="344", country="HK", bill_number="0" * 20, reference="0" * 20,
        terminal="00000010",
    )  # fmt: skip
    assert made in {vector["qr"] for vector in FOREIGN_VECTORS}


def test_a_chinese_dynamic_code_parses_back() -> None:
    qr = generate_unionpay("30000156", "00010156", "MCH000000000042", name="Jade Tea House",
                           city="Kunming", amount="88.8")  # fmt: skip
    parsed = parse(qr)
    assert (parsed.scheme, parsed.country, parsed.currency, parsed.amount) == (
        "unionpay", "CN", "156", "88.80")  # fmt: skip
    assert parsed.payee["merchant_id"] == "MCH000000000042"
    assert parsed.payee["acquirer_iin"] == "30000156"
    assert parsed.crc_valid is True


def test_a_currency_without_minor_unit_refuses_a_fraction() -> None:
    with pytest.raises(QRInputError) as raised:
        generate_unionpay("30000156", "00010156", "MCH000000000042", name="A", city="B",
                          currency="418", country="LA", decimals=0, amount="1.5")  # fmt: skip
    assert raised.value.code == "unionpay_amount_invalid"


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"acquirer_iin": "3000015"}, "unionpay_acquirer_iin_invalid"),
        ({"forwarding_iin": "x0010156"}, "unionpay_forwarding_iin_invalid"),
        ({"merchant_id": "MCH42"}, "unionpay_merchant_invalid"),
        ({"country": "cn"}, "unionpay_country_invalid"),
        ({"amount": "-1"}, "unionpay_amount_invalid"),
        ({"city": "x" * 16}, "unionpay_city_invalid"),
    ],
)
def test_bad_input_is_refused(arguments: dict[str, str], code: str) -> None:
    given = {"acquirer_iin": "30000156", "forwarding_iin": "00010156",
             "merchant_id": "MCH000000000042", "name": "A", "city": "B", **arguments}  # fmt: skip
    with pytest.raises(QRInputError) as raised:
        generate_unionpay(**given)
    assert raised.value.code == code
