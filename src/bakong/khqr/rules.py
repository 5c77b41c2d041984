"""Per-tag validation rules of the SDK's verify (khqr.md §2, §3, §5.7; SDK `src/MerchantCode`).

Each rule is the constructor check of the SDK class for that tag, in the SDK's order, with
lengths in UTF-16 code units (the caller has applied `ecmascript.utf16`). A template arrives
either as its named sub-fields or, when it names none, as the raw string; the SDK treats the two
differently (a raw tag 29 has no account ID: 1; a raw 99 on a dynamic QR has no expiry: 45).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from bakong.khqr import tags as t
from bakong.khqr.ecmascript import number_to_string, parse_int, to_number, valid_time

__all__ = ["check_primitive", "check_template"]

_DIGITS = frozenset("0123456789")
_CURRENCIES = (t.KHR, t.USD)


def check_primitive(tag: str, value: str) -> int:
    """The SDK's error code for primitive `tag` holding `value`, or 0."""
    return _PRIMITIVE[tag](value)


def _payload_format(value: str) -> int:
    return 23 if not value else 16 if len(value) > t.payload_format_chars_max else 0


def _poi(value: str) -> int:
    if len(value) > t.poi_chars_max:
        return 17
    return 0 if value in (t.STATIC, t.DYNAMIC) else 48


def _upi(value: str) -> int:
    return 43 if len(value) > t.upi_account_chars_max else 0


def _currency(value: str) -> int:
    if not value:
        return 9
    if len(value) > t.currency_chars_max:
        return 19
    return 0 if parse_int(value) in _CURRENCIES else 28


def _amount(value: str) -> int:
    return 4 if len(value) > t.amount_chars_max or "-" in value or not value else 0


def _country(value: str) -> int:
    return 26 if not value else 20 if len(value) > t.country_code_chars_max else 0


def _name(value: str) -> int:
    return 2 if not value else 7 if len(value) > t.merchant_name_chars_max else 0


def _city(value: str) -> int:
    return 27 if not value else 21 if len(value) > t.merchant_city_chars_max else 0


def _crc(value: str) -> int:
    return 24 if not value else 22 if len(value) > t.crc_chars_max else 0


def _mcc(value: str) -> int:
    if not value:
        return 25
    if len(value) > t.mcc_chars_max:
        return 18
    return 0 if all(char in _DIGITS for char in value) else 51


_PRIMITIVE: Final[dict[str, Callable[[str], int]]] = {
    "00": _payload_format,
    "01": _poi,
    "15": _upi,
    "52": _mcc,
    "53": _currency,
    "54": _amount,
    "58": _country,
    "59": _name,
    "60": _city,
    "63": _crc,
}


def check_template(
    tag: str, value: dict[str, str] | str, poi: str | None, now_ms: int
) -> tuple[int, str | None]:
    """The SDK's error code for template `tag` (and a deviation note), or `(0, None)`.

    `poi` is the point of initiation written before this tag, used by tag 99 only.
    """
    if tag == "29":
        return _account(value), None
    if tag == "62":
        return (0 if isinstance(value, str) else _additional(value)), None
    if tag == "64":
        return (0, None) if isinstance(value, str) else _language(value)
    assert tag == "99", tag
    return (_timestamp(value, now_ms) if poi == t.DYNAMIC else 0), None


def _account(value: dict[str, str] | str) -> int:
    """Tag 29/30 (SDK `GlobalUniqueIdentifier`, not a merchant: 01 is account information)."""
    if isinstance(value, str):
        return 1
    account = value.get("bakongAccountID")
    if not account:
        return 1
    if len(account) > t.account_id_chars_max:
        return 6
    if "@" not in account:
        return 3
    information = value.get("accountInformation")
    if information is not None and len(information) > t.account_information_chars_max:
        return 35
    bank = value.get("acquiringBank")
    if bank is not None:
        if not bank:
            return 31
        if len(bank) > t.acquiring_bank_chars_max:
            return 33
    return 0


_ADDITIONAL = (
    ("billNumber", 10),
    ("mobileNumber", 34),
    ("storeLabel", 11),
    ("terminalLabel", 12),
    ("purposeOfTransaction", 42),
)


def _additional(value: dict[str, str]) -> int:
    """Tag 62 (SDK `AdditionalData`): each present field 1-25 characters, in the SDK's order."""
    for name, code in _ADDITIONAL:
        field = value.get(name)
        if field is not None and (not field or len(field) > t.additional_field_chars_max):
            return code
    return 0


def _language(value: dict[str, str]) -> tuple[int, str | None]:
    """Tag 64 (SDK `MerchantInformationLanguageTemplate`)."""
    preference = value.get("languagePreference")
    name = value.get("merchantNameAlternateLanguage")
    city = value.get("merchantCityAlternateLanguage")
    if preference and not name:
        return 39, None
    if name is not None:
        if preference is None:
            return 38, "sdk_type_error"
        if not preference or len(preference) > t.language_preference_chars_max:
            return 38, None
        if not name or len(name) > t.alternate_name_chars_max:
            return 40, None
    if city is not None and (not city or len(city) > t.alternate_city_chars_max):
        return 41, None
    return 0, None


def _timestamp(value: dict[str, str] | str, now_ms: int) -> int:
    """Tag 99 of a dynamic QR (SDK `TimeStamp` with POI 12): expiry present, 13 digits, future."""
    if isinstance(value, str):
        return 45
    expiration = to_number(value.get("expirationTimestamp"))
    if expiration != expiration or expiration == 0:
        return 45
    if len(number_to_string(expiration)) != t.timestamp_chars:
        return 49
    if not valid_time(expiration):
        return 47
    if expiration < to_number(value.get("creationTimestamp")):
        return 50
    if expiration < now_ms:
        return 46
    return 0
