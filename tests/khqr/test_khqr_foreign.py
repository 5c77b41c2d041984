"""Foreign schemes: every shared vector parses to its scheme, tags, CRC verdict and payee; the
PromptPay and VietQR generators reproduce the published strings (crossborder-qr.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bakong.errors import QRDecodeError, QRInputError
from bakong.khqr.crc import with_crc
from bakong.khqr.foreign import SCHEMES, parse
from bakong.khqr.promptpay import generate_promptpay
from bakong.khqr.tlv import Tree, tree, write
from bakong.khqr.vietqr import generate_vietqr, plain_text
from tests.khqr.data import FOREIGN_VECTORS

# The vector's scheme label -> our scheme name.
EXPECTED_SCHEME = {
    "thaiqr-promptpay": "promptpay",
    "vietqr-napas": "vietqr",
    "vnpay-qr (not VietQR)": "unknown",
    "duitnow": "duitnow",
    "sg-paynow": "paynow",
    "sgqr (multi-scheme, SGQR spec sample merchant)": "paynow",
    "sgqr (multi-scheme)": "sgqr",
    "sgqr+paynow": "paynow",
    "qris": "qris",
    "qris (transfer)": "qris",
    "laoqr-lapnet (+unionpay tag15)": "laoqr",
    "laoqr-lapnet": "laoqr",
    "lao-umoney (not LAPNet)": "unknown",
    "unionpay-mpm (tag15 inside KHQR)": "khqr",
    "unionpay-mpm (tag15, HK)": "unionpay",
    "emvco-spec-example (CN, UTF-8)": "unknown",
    "alipay+ MPM (code standard v3)": "alipayplus",
    "alipay+ CPM payment code": "alipayplus",
    "alipay (inside SGQR)": "alipayplus",
    "upi-uri": "upi",
}
PARSEABLE = [vector for vector in FOREIGN_VECTORS if not vector["qr"].startswith("(see")]


def _ids(vector: dict[str, Any]) -> str:
    return f"{vector['scheme'][:24]}:{vector['qr'][-8:]}"


def _flatten_napas(tags: dict[str, Any]) -> dict[str, Any]:
    """The vectors nest VietQR's 38/01 one level deeper than `tree`; write it back as text."""
    template = tags.get("38")
    if isinstance(template, dict) and isinstance(template.get("01"), dict):
        inner = template["01"]
        raw = inner["raw"] if "raw" in inner else "".join(write(k, v) for k, v in inner.items())
        return {**tags, "38": {**template, "01": raw}}
    return tags


def test_every_vector_has_an_expected_scheme() -> None:
    assert len(FOREIGN_VECTORS) == 47
    assert {vector["scheme"] for vector in PARSEABLE} <= set(EXPECTED_SCHEME)
    assert set(EXPECTED_SCHEME.values()) <= set(SCHEMES)


@pytest.mark.parametrize("vector", PARSEABLE, ids=_ids)
def test_scheme_crc_and_tags(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    parsed = parse(vector["qr"])
    assert parsed.scheme == EXPECTED_SCHEME[vector["scheme"]]
    if "crc_valid" in expected:
        assert parsed.crc_valid is expected["crc_valid"]
    if "tags" in expected:
        assert tree(vector["qr"]) == _flatten_napas(expected["tags"])
        assert parsed.country == expected["tags"].get("58")
        assert parsed.currency == expected["tags"].get("53")
    if "amount" in expected:
        assert parsed.amount == expected["amount"]


def _proxy_code(label: str) -> str:
    return label.split(" ")[0]


@pytest.mark.parametrize(
    "vector", [vector for vector in PARSEABLE if "payee" in vector["expected"]], ids=_ids
)
def test_payee(vector: dict[str, Any]) -> None:
    parsed = parse(vector["qr"])
    payee: Tree = parsed.payee
    for key, value in vector["expected"]["payee"].items():
        if key == "unionpay_15" and parsed.scheme == "unionpay":
            assert {name: payee[name] for name in value} == value
        elif key == "proxy_type":
            assert payee[key] == _proxy_code(value)
        elif key == "khqr_29":
            assert payee["account_id"] == value
        else:
            assert payee[key] == value, key


def test_unionpay_inside_sgqr() -> None:
    """The SGQR spec sample carries UnionPay tag 15 next to PayNow (held as a separate entry)."""
    entry = next(vector for vector in FOREIGN_VECTORS if vector["qr"].startswith("(see"))
    sample = next(v for v in PARSEABLE if v["scheme"].startswith("sgqr (multi-scheme,"))
    assert parse(sample["qr"]).payee["unionpay_15"] == entry["expected"]["unionpay_15"]


def test_duitnow_zero_amount_is_no_amount() -> None:
    body = "00020201021126420014A000000615000101066033460210MD001295465303458540500.005802MY"
    assert parse(with_crc(body)).amount is None


def test_non_emv_codes() -> None:
    by_scheme = {vector["scheme"]: vector for vector in PARSEABLE}
    mpm = by_scheme["alipay+ MPM (code standard v3)"]
    assert parse(mpm["qr"]).payee["objects"] == mpm["expected"]["data_objects"]
    cpm = by_scheme["alipay+ CPM payment code"]
    payee = parse(cpm["qr"]).payee
    assert (payee["cii"], payee["uin"]) == (cpm["expected"]["cii"], cpm["expected"]["uin"])
    for vector in (v for v in PARSEABLE if v["scheme"] == "upi-uri"):
        parsed = parse(vector["qr"])
        assert {key: parsed.payee[key] for key in vector["expected"]} == vector["expected"]
        assert (parsed.country, parsed.currency) == ("IN", "356")
        assert parsed.crc_valid is None


@pytest.mark.parametrize("text", ["", "hello", "https://example.com/pay", "00", "upi://pay?pn=x"])
def test_unknown_codes(text: str) -> None:
    assert parse(text).scheme == "unknown"


def test_too_long_is_refused_before_parsing() -> None:
    with pytest.raises(QRDecodeError):
        parse("0" * 3000)


@pytest.mark.parametrize(
    ("target", "amount", "index"),
    [("0801234567", None, 0), ("+66-89-123-4567", None, 1), ("0123456789012", None, 2),
     ("000-000-0000", Decimal("4.22"), 3)],
)
def test_promptpay_generator(target: str, amount: Decimal | None, index: int) -> None:
    assert generate_promptpay(target, amount) == PARSEABLE[index]["qr"]


def test_promptpay_generator_round_trip() -> None:
    qr = generate_promptpay("140000801111111")
    assert parse(qr).payee["proxy"] == "140000801111111"
    with pytest.raises(QRInputError):
        generate_promptpay("123")


def _vector(suffix: str) -> str:
    return next(vector["qr"] for vector in PARSEABLE if vector["qr"].endswith(suffix))


@pytest.mark.parametrize(
    ("arguments", "suffix"),
    [
        ({"bin_code": "970423", "account": "0099999999"}, "CBB4"),
        ({"bin_code": "970422", "account": "0023457923442", "amount": 40123,
          "purpose": "test text string"}, "D9C6"),
        ({"bin_code": "970415", "account": "0011001932418", "amount": 120000,
          "purpose": "ủng hộ lũ lụt"}, "C15C"),
        ({"bin_code": "970416", "account": "257678859", "amount": 1000,
          "purpose": "Chuyen tien"}, "BBB8"),
        ({"bin_code": "970407", "account": "19030413601018"}, "0283"),
        ({"bin_code": "970436", "account": "9704368625581601018", "amount": 2000000,
          "service": "QRIBFTTC"}, "A2DC"),
        ({"bin_code": "970403", "account": "9704031101234567", "amount": 180000,
          "service": "QRIBFTTC", "bill_number": "NPS6869", "purpose": "thanh toan don hang"},
         "A203"),
    ],
)
def test_vietqr_generator(arguments: dict[str, Any], suffix: str) -> None:
    assert generate_vietqr(**arguments) == _vector(suffix)


def test_vietqr_plain_text() -> None:
    assert plain_text("chuyển khoản Đà Nẵng") == "chuyen khoan Da Nang"
    with pytest.raises(QRInputError):
        generate_vietqr("97042", "1")
