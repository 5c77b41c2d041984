"""KHQR generation: published SDK outputs reproduced exactly, and the SDK's rules one by one."""

from __future__ import annotations

import pytest

from bakong.errors import QRInputError
from bakong.khqr import crc_hex, decode, md5, verify
from bakong.khqr.generate import Options, generate_individual, generate_merchant
from tests.khqr.data import KHQR_VECTORS

QR = {vector["id"]: vector["qr"] for vector in KHQR_VECTORS}


def test_published_individual_khr_dynamic() -> None:
    """V059: bakong-khqr-php README, generateIndividual of 500 KHR."""
    options = Options(amount=500, currency=116, expiration_timestamp=1742250654184)
    made = generate_individual(
        "jonhsmith@nbcq", "Jonh Smith", "PHNOM PENH", options, now_ms=1742250594187
    )
    assert made.qr == QR["V059"]
    assert made.md5 == md5(QR["V059"]) == "838f6d998f6d700c42391aab5c5be555"


def test_published_merchant_static() -> None:
    """V060: generateMerchant with a mobile number, static (no 54, no 99)."""
    options = Options(mobile_number="85512345678")
    made = generate_merchant(
        "jonhsmith@nbcq", "Jonh Smith", "Siem Reap", "123456", "Dev Bank", options, now_ms=1
    )
    assert made.qr == QR["V060"]


def test_published_usd_whole_amount() -> None:
    """V062 (the PHP port's output) writes 100 USD as `100.0`; the SDK writes `100`."""
    options = Options(amount=100, currency=840, expiration_timestamp=1742249627316)
    made = generate_individual(
        "john_smith@devb", "John Smith", None, options, now_ms=1742249567316
    )
    body = QR["V062"][:-4].replace("5405100.0", "5403100")
    assert made.qr == body + crc_hex(body)


def test_published_every_field() -> None:
    """V100: every optional field, UnionPay tag 15, MCC 1234, Khmer alternate names."""
    options = Options(
        currency=116,
        amount=100,
        account_information="85512233455",
        acquiring_bank="Dev Bank",
        bill_number="#12345",
        mobile_number="85512233455",
        store_label="Coffee Shop",
        terminal_label="Cashier_1",
        purpose_of_transaction="Buy coffee",
        language_preference="km",
        merchant_name_alternate_language="ចន ស្មីន",
        merchant_city_alternate_language="ភ្នំពេញ",
        upi_merchant_account="1234567812345678ABCDEFGHIJKLMNO",
        expiration_timestamp=4101354327000,
        merchant_category_code="1234",
    )
    made = generate_individual(
        "john_smith@devb", "John Smith", "PHNOM PENH", options, now_ms=1745915488053
    )
    assert made.qr == QR["V100"]
    assert made.md5 == "9dc0fe3e9ea50b99ddccd47055333ed8"


def test_published_chinese_alternate_language() -> None:
    """V058: the ts-khqr README code (same layout as the SDK), CJK alternate names."""
    options = Options(
        amount=10000,
        account_information="012345678",
        acquiring_bank="Dev Bank",
        bill_number="INV-2022-12-25",
        mobile_number="85512345678",
        store_label="Ishin Shop",
        terminal_label="012345",
        purpose_of_transaction="Payment",
        language_preference="ZH",
        merchant_name_alternate_language="文山",
        merchant_city_alternate_language="金边",
        expiration_timestamp=1755076292336,
    )
    made = generate_individual(
        "ishinvin@devb", "Ishin Vin", "Phnom Penh", options, now_ms=1755076232336
    )
    assert made.qr == QR["V058"]


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        (100.0, 116, "100"),
        (50000, 116, "50000"),
        (1.5, 840, "1.50"),
        (1.12, 840, "1.12"),
        (10, 840, "10"),
        (9999999999.99, 840, "9999999999.99"),
        (0.1, "840", "0.10"),
    ],
)
def test_amount_formatting(amount: float, currency: int | str, written: str) -> None:
    options = Options(amount=amount, currency=currency, expiration_timestamp=2_000_000_000_000)
    made = generate_individual("a@b", "Name", None, options, now_ms=1_900_000_000_000)
    assert decode(made.qr)["transactionAmount"] == written
    assert verify(made.qr, 1_900_000_000_000).valid


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (Options(amount=1.1), 4),  # fractional KHR
        (Options(amount=1.005, currency=840), 4),  # 3 decimals
        (Options(amount=12345678901234, currency=840), 4),  # 14 characters
        (Options(amount=-5), 4),
        (Options(amount=1e21, currency=840, expiration_timestamp=2_000_000_000_000), 4),
        (Options(amount=5), 45),  # dynamic without expiry
        (Options(amount=5, expiration_timestamp=1727260807), 49),  # seconds, not ms
        (Options(amount=5, expiration_timestamp=1_800_000_000_000), 50),  # before creation
        (Options(currency=978), 28),
        (Options(currency="USD"), 28),
        (Options(currency="8400"), 19),
        (Options(currency=840, upi_merchant_account="1" * 31), 44),
        (Options(upi_merchant_account="1" * 100), 43),
        (Options(merchant_category_code="59999"), 18),
        (Options(merchant_category_code="5a99"), 51),
        (Options(bill_number="b" * 26), 10),
        (Options(mobile_number="1" * 26), 34),
        (Options(store_label="s" * 26), 11),
        (Options(terminal_label="t" * 26), 12),
        (Options(purpose_of_transaction="p" * 26), 42),
        (Options(language_preference="km"), 39),
        (Options(merchant_name_alternate_language="ចន"), 38),  # the SDK crashes here
        (Options(language_preference="kmr", merchant_name_alternate_language="x"), 38),
        (Options(language_preference="km", merchant_name_alternate_language="x" * 26), 40),
        (Options(merchant_city_alternate_language="c" * 16), 41),
        (Options(account_information="1" * 33), 35),
        (Options(acquiring_bank="b" * 33), 33),
        (Options(bill_number="b" * 25, mobile_number="m" * 25, store_label="s" * 25,
                 terminal_label="t" * 25), 52),  # tag 62 would be 116 characters
    ],
)
def test_refusals(options: Options, code: int) -> None:
    with pytest.raises(QRInputError) as raised:
        generate_individual("a@b", "Name", None, options, now_ms=1_900_000_000_000)
    assert raised.value.error_code == code


@pytest.mark.parametrize(
    ("account", "name", "city", "code"),
    [
        ("", "Name", None, 1),
        ("a" * 33, "Name", None, 6),
        ("john_smith", "Name", None, 3),
        ("a@b", "", None, 2),
        ("a@b", "n" * 26, None, 7),
        ("a@b", "Name", "c" * 16, 21),
        ("a@b", "A\ud800", None, 53),
    ],
)
def test_required_fields(account: str, name: str, city: str | None, code: int) -> None:
    with pytest.raises(QRInputError) as raised:
        generate_individual(account, name, city, now_ms=1)
    assert raised.value.error_code == code


@pytest.mark.parametrize(
    ("merchant_id", "bank", "code"),
    [("", "Bank", 30), ("1" * 33, "Bank", 32), ("1", None, 31), ("1", "b" * 33, 33)],
)
def test_merchant_fields(merchant_id: str, bank: str | None, code: int) -> None:
    with pytest.raises(QRInputError) as raised:
        generate_merchant("a@b", "Name", None, merchant_id, bank, now_ms=1)
    assert raised.value.error_code == code


def test_defaults_and_dropped_values() -> None:
    """Empty optional values and a zero amount are dropped: a static KHR code, MCC 5999."""
    options = Options(amount=0, bill_number="", currency=0, expiration_timestamp=0)
    made = generate_individual("a@b", "Name", "", options, now_ms=1)
    fields = decode(made.qr)
    assert fields["pointofInitiationMethod"] == "11"
    assert fields["transactionCurrency"] == "116"
    assert fields["merchantCategoryCode"] == "5999"
    assert fields["merchantCity"] == "Phnom Penh"
    assert fields["billNumber"] is None and fields["creationTimestamp"] is None


def test_emoji_lengths_count_utf16_units() -> None:
    """An emoji is two characters to the SDK: 12 fit in a 25-character name, 13 do not."""
    made = generate_individual("a@b", "\U0001f600" * 12, None, now_ms=1)
    assert "5924" + "\U0001f600" * 12 in made.qr
    assert verify(made.qr, 1).valid
    assert decode(made.qr)["merchantName"] == "\U0001f600" * 12
    with pytest.raises(QRInputError):
        generate_individual("a@b", "\U0001f600" * 13, None, now_ms=1)
