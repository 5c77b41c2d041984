"""Lao QR generation: the minimal public LAPNet vector made again byte for byte, codes that
parse back as Lao QR with their payee, amount and currency, and refused input."""

from __future__ import annotations

from typing import Any

import pytest

from bakong.errors import QRInputError
from bakong.khqr.foreign import parse
from bakong.khqr.laoqr import generate_laoqr

from .data import FOREIGN_VECTORS


def test_the_minimal_public_vector_is_made_again() -> None:
    made = generate_laoqr("AHOMALYBLVREXGTFJEOYBULW", payment_type="001")
    assert made in {vector["qr"] for vector in FOREIGN_VECTORS}


def test_a_dynamic_code_parses_back() -> None:
    qr = generate_laoqr("mch19B73F61B9E", amount=25_000, name="Khop Chai Deu", city="Vientiane")
    parsed = parse(qr)
    assert (parsed.scheme, parsed.country, parsed.currency, parsed.amount) == (
        "laoqr", "LA", "418", "25000")  # fmt: skip
    assert parsed.payee["receiver_id"] == "mch19B73F61B9E"
    assert parsed.payee["iin"] == "27710418"
    assert parsed.crc_valid is True


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"iin": "2771041"}, "laoqr_iin_invalid"),
        ({"payment_type": "003"}, "laoqr_payment_type_invalid"),
        ({"receiver_id": "mch-1"}, "laoqr_receiver_invalid"),
        ({"amount": 0}, "laoqr_amount_invalid"),
        ({"name": ""}, "laoqr_name_invalid"),
        ({"mcc": "5"}, "laoqr_mcc_invalid"),
    ],
)
def test_bad_input_is_refused(arguments: dict[str, Any], code: str) -> None:
    with pytest.raises(QRInputError) as raised:
        generate_laoqr(**{"receiver_id": "mch1", **arguments})
    assert raised.value.code == code
