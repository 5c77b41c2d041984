"""KHQR tag IDs, field limits and decode keys (khqr.md §2, §3; SDK `src/constant`).

Lengths are in characters as JavaScript counts them (UTF-16 code units, khqr.md §1). Limit names
put the unit last, as in `bakong.limits`.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DECODE_KEYS",
    "KNOWN",
    "REQUIRED",
    "SUBFIELDS",
    "TEMPLATES",
    "qr_chars_max",
    "qr_chars_min",
]

# The whole QR string. The largest QR symbol (version 40, level L) holds 2953 bytes, so no longer
# text can come from a scan; anything longer is refused before parsing. (EMVCo MPM says 512
# characters, but real multi-scheme SGQR codes run past 1,000.) Our generator writes at most 511.
qr_chars_max: Final = 2953
qr_chars_min: Final = 12  # the SDK's `emv.INVALID_LENGTH.KHQR`

# Field maxima (SDK `emv.INVALID_LENGTH`).
account_id_chars_max: Final = 32
account_information_chars_max: Final = 32
merchant_id_chars_max: Final = 32
acquiring_bank_chars_max: Final = 32
merchant_name_chars_max: Final = 25
merchant_city_chars_max: Final = 15
amount_chars_max: Final = 13
country_code_chars_max: Final = 3
currency_chars_max: Final = 3
mcc_chars_max: Final = 4
payload_format_chars_max: Final = 2
poi_chars_max: Final = 2
crc_chars_max: Final = 4
additional_field_chars_max: Final = 25  # bill number, mobile, store, terminal, purpose
language_preference_chars_max: Final = 2
alternate_name_chars_max: Final = 25
alternate_city_chars_max: Final = 15
upi_account_chars_max: Final = 99
timestamp_chars: Final = 13  # epoch milliseconds, always 13 digits
template_chars_max: Final = 99  # a TLV length is two decimal digits

STATIC: Final = "11"
DYNAMIC: Final = "12"
KHR: Final = 116
USD: Final = 840
DEFAULT_MCC: Final = "5999"
DEFAULT_CITY: Final = "Phnom Penh"
DEFAULT_COUNTRY: Final = "KH"

# Top-level tags the SDK reads, in its table order (which is also decode's processing order).
KNOWN: Final = ("00", "01", "15", "29", "52", "53", "54", "58", "59", "60", "62", "64", "99", "63")
KNOWN_SET: Final = frozenset(KNOWN) | {"30"}
TEMPLATES: Final = frozenset({"29", "62", "64", "99"})

# Required tags in the order verify reports them missing, with the code for each (khqr.md §5.6).
REQUIRED: Final = (
    ("00", 23),
    ("29", 5),
    ("52", 25),
    ("53", 9),
    ("58", 26),
    ("59", 2),
    ("60", 27),
    ("63", 24),
)

# Sub-tag -> decode key, per template (SDK `KHQRSubtag.compare`).
SUBFIELDS: Final[dict[str, dict[str, str]]] = {
    "29": {"00": "bakongAccountID", "01": "accountInformation", "02": "acquiringBank"},
    "62": {
        "01": "billNumber",
        "02": "mobileNumber",
        "03": "storeLabel",
        "07": "terminalLabel",
        "08": "purposeOfTransaction",
    },
    "64": {
        "00": "languagePreference",
        "01": "merchantNameAlternateLanguage",
        "02": "merchantCityAlternateLanguage",
    },
    "99": {"00": "creationTimestamp", "01": "expirationTimestamp"},
}

# Primitive top-level tag -> decode key.
PRIMITIVE_KEYS: Final[dict[str, str]] = {
    "00": "payloadFormatIndicator",
    "01": "pointofInitiationMethod",
    "15": "unionPayMerchant",
    "52": "merchantCategoryCode",
    "53": "transactionCurrency",
    "54": "transactionAmount",
    "58": "countryCode",
    "59": "merchantName",
    "60": "merchantCity",
    "63": "crc",
}

# The SDK's 25 decode keys, in its output order (khqr.md §5).
DECODE_KEYS: Final = (
    "merchantType",
    "bakongAccountID",
    "accountInformation",
    "merchantID",
    "acquiringBank",
    "billNumber",
    "mobileNumber",
    "storeLabel",
    "terminalLabel",
    "purposeOfTransaction",
    "languagePreference",
    "merchantNameAlternateLanguage",
    "merchantCityAlternateLanguage",
    "creationTimestamp",
    "expirationTimestamp",
    "payloadFormatIndicator",
    "pointofInitiationMethod",
    "unionPayMerchant",
    "merchantCategoryCode",
    "transactionCurrency",
    "transactionAmount",
    "countryCode",
    "merchantName",
    "merchantCity",
    "crc",
)

assert len(DECODE_KEYS) == 25
assert set(PRIMITIVE_KEYS) | TEMPLATES == set(KNOWN)
assert qr_chars_min < qr_chars_max
