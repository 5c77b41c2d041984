"""The KHQR SDK's error codes (khqr.md §7.1, `src/constant/errorCode.js` of bakong-khqr@1.0.20).

Codes 1-51 and their messages are the SDK's, verbatim, including its spelling. Codes 52 and 53
are ours: the SDK has no answer there (it emits a malformed code, or throws), and we refuse with
a code instead. `SDK_CODE_MAX` marks the boundary.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MESSAGES", "NAMES", "SDK_CODE_MAX", "message"]

# code -> (key, message)
_TABLE: Final[dict[int, tuple[str, str]]] = {
    1: ("BAKONG_ACCOUNT_ID_REQUIRED", "Bakong Account ID cannot be null or empty"),
    2: ("MERCHANT_NAME_REQUIRED", "Merchant name cannot be null or empty"),
    3: ("BAKONG_ACCOUNT_ID_INVALID", "Bakong Account ID is invalid"),
    4: ("TRANSACTION_AMOUNT_INVALID", "Amount is invalid"),
    5: ("MERCHANT_TYPE_REQUIRED", "Merchant type cannot be null or empty"),
    6: ("BAKONG_ACCOUNT_ID_LENGTH_INVALID", "Bakong Account ID Length is Invalid"),
    7: ("MERCHANT_NAME_LENGTH_INVALID", "Merchant Name Length is invalid"),
    8: ("KHQR_INVALID", "KHQR provided is invalid"),
    9: ("CURRENCY_TYPE_REQUIRED", "Currency type cannot be null or empty"),
    10: ("BILL_NUMBER_LENGTH_INVALID", "Bill Name Length is invalid"),
    11: ("STORE_LABEL_LENGTH_INVALID", "Store Label Length is invalid"),
    12: ("TERMINAL_LABEL_LENGTH_INVALID", "Terminal Label Length is invalid"),
    13: (
        "CONNECTION_TIMEOUT",
        "Cannot reach Bakong Open API service. Please check internet connection",
    ),
    14: ("INVALID_DEEP_LINK_SOURCE_INFO", "Source Info for Deep Link is invalid"),
    15: ("INTERNAL_SREVER", "Internal server error"),
    16: ("PAYLOAD_FORMAT_INDICATOR_LENGTH_INVALID", "Payload Format indicator Length is invalid"),
    17: ("POINT_INITIATION_LENGTH_INVALID", "Point of initiation Length is invalid"),
    18: ("MERCHANT_CODE_LENGTH_INVALID", "Merchant code Length is invalid"),
    19: ("TRANSACTION_CURRENCY_LENGTH_INVALID", "Transaction currency Length is invalid"),
    20: ("COUNTRY_CODE_LENGTH_INVALID", "Country code Length is invalid"),
    21: ("MERCHANT_CITY_LENGTH_INVALID", "Merchant city Length is invalid"),
    22: ("CRC_LENGTH_INVALID", "CRC Length is invalid"),
    23: ("PAYLOAD_FORMAT_INDICATOR_TAG_REQUIRED", "Payload format indicator tag required"),
    24: ("CRC_TAG_REQUIRED", "CRC tag required"),
    25: ("MERCHANT_CATEGORY_TAG_REQUIRED", "Merchant category tag required"),
    26: ("COUNTRY_CODE_TAG_REQUIRED", "Country Code cannot be null or empty"),
    27: ("MERCHANT_CITY_TAG_REQUIRED", "Merchant City cannot be null or empty"),
    28: ("UNSUPPORTED_CURRENCY", "Unsupported currency"),
    29: ("INVALID_DEEP_LINK_URL", "Deep Link URL is not valid"),
    30: ("MERCHANT_ID_REQUIRED", "Merchant ID cannot be null or empty"),
    31: ("ACQUIRING_BANK_REQUIRED", "Acquiring Bank cannot be null or empty"),
    32: ("MERCHANT_ID_LENGTH_INVALID", "Merchant ID Length is invalid"),
    33: ("ACQUIRING_BANK_LENGTH_INVALID", "Acquiring Bank Length is invalid"),
    34: ("MOBILE_NUMBER_LENGTH_INVALID", "Mobile Number Length is invalid"),
    35: ("ACCOUNT_INFORMATION_LENGTH_INVALID", "Account Information Length is invalid"),
    36: ("TAG_NOT_IN_ORDER", "Tag is not in order"),
    37: ("LANGUAGE_PREFERENCE_REQUIRED", "Language Preference cannot be null or empty"),
    38: ("LANGUAGE_PREFERENCE_LENGTH_INVALID", "Language Preference Length is invalid"),
    39: (
        "MERCHANT_NAME_ALTERNATE_LANGUAGE_REQUIRED",
        "Merchant Name Alternate Language cannot be null or empty",
    ),
    40: (
        "MERCHANT_NAME_ALTERNATE_LANGUAGE_LENGTH_INVALID",
        "Merchant Name Alternate Language Length is invalid",
    ),
    41: (
        "MERCHANT_CITY_ALTERNATE_LANGUAGE_LENGTH_INVALID",
        "Merchant City Alternate Language Length is invalid",
    ),
    42: ("PURPOSE_OF_TRANSACTION_LENGTH_INVALID", "Purpose of Transaction Length is invalid"),
    43: ("UPI_ACCOUNT_INFORMATION_LENGTH_INVALID", "Upi Account Information Length is invalid"),
    44: (
        "UPI_ACCOUNT_INFORMATION_INVALID_CURRENCY",
        "Upi Account Information Length does not accept USD",
    ),
    45: ("EXPIRATION_TIMESTAMP_REQUIRED", "Expiration timestamp is required for dynamic KHQR"),
    46: ("KHQR_EXPIRED", "This dynamic KHQR has expired"),
    47: ("INVALID_DYNAMIC_KHQR", "This dynamic KHQR has invalid field transaction amount"),
    48: ("POINT_OF_INITIATION_METHOD_INVALID", "Point of Initiation Method is invalid"),
    49: ("EXPIRATION_TIMESTAMP_LENGTH_INVALID", "Expiration timestamp length is invalid"),
    50: ("EXPIRATION_TIMESTAMP_IN_THE_PAST", "Expiration timestamp is in the past"),
    51: ("INVALID_MERCHANT_CATEGORY_CODE", "Invalid merchant category code"),
    # Ours. The SDK writes a 3-digit length for a template over 99 characters (a code no reader
    # can parse); we refuse it.
    52: ("TEMPLATE_LENGTH_INVALID", "Template (tag 29/30 or 62) is longer than 99 characters"),
    # Ours. The SDK throws a URIError from md5() on a lone surrogate; we refuse it.
    53: ("TEXT_INVALID", "Text contains a lone surrogate and is not valid Unicode"),
}

SDK_CODE_MAX: Final = 51
NAMES: Final[dict[int, str]] = {code: key for code, (key, _) in _TABLE.items()}
MESSAGES: Final[dict[int, str]] = {code: text for code, (_, text) in _TABLE.items()}

KHQR_INVALID: Final = 8

assert sorted(_TABLE) == list(range(1, SDK_CODE_MAX + 3))


def message(code: int) -> str:
    """The SDK's message for `code`."""
    return MESSAGES[code]
