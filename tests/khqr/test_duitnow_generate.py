"""DuitNow generation: a public PayNet vector made again byte for byte, codes that parse back as
DuitNow with their payee, amount and currency, and refused input."""

from __future__ import annotations

import pytest

from bakong.errors import QRInputError
from bakong.khqr.duitnow import generate_duitnow
from bakong.khqr.foreign import parse

from .data import FOREIGN_VECTORS


def test_the_public_vector_is_made_again() -> None:
    made = generate_duitnow("890053", "MDN16221766626210430", name="MASJIDALGHUFRAN",
                            city="KUALALUMPUR", mcc="8661")  # fmt: skip
    assert made in {vector["qr"] for vector in FOREIGN_VECTORS}


def test_a_dynamic_code_parses_back() -> None:
    qr = generate_duitnow("603346", "MD00129546", name="Kedai Kopi", city="Kuala Lumpur",
                          amount="12.5")  # fmt: skip
    parsed = parse(qr)
    assert (parsed.scheme, parsed.country, parsed.currency, parsed.amount) == (
        "duitnow", "MY", "458", "12.50")  # fmt: skip
    assert parsed.payee["acquirer_id"] == "603346"
    assert parsed.payee["merchant_account"] == "MD00129546"
    assert parsed.crc_valid is True


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"acquirer_id": "89005"}, "duitnow_acquirer_invalid"),
        ({"merchant_account": "MD 1"}, "duitnow_account_invalid"),
        ({"amount": "0"}, "duitnow_amount_invalid"),
        ({"amount": "x"}, "duitnow_amount_invalid"),
        ({"name": ""}, "duitnow_name_invalid"),
        ({"mcc": "12"}, "duitnow_mcc_invalid"),
    ],
)
def test_bad_input_is_refused(arguments: dict[str, str], code: str) -> None:
    given = {"acquirer_id": "603346", "merchant_account": "MD1", "name": "A", "city": "B",
             **arguments}  # fmt: skip
    with pytest.raises(QRInputError) as raised:
        generate_duitnow(**given)
    assert raised.value.code == code
