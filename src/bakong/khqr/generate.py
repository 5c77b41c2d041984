"""KHQR generation with the SDK's rules (khqr.md §2-§5, SDK `generateKHQR.js`, `information.js`).

`generate_individual` (tag 29) and `generate_merchant` (tag 30) write what bakong-khqr@1.0.20's
`generateIndividual` / `generateMerchant` write with their clock at `now_ms`, and refuse what
they refuse with the same first error code (`QRInputError.error_code`), checking in the SDK's
order: UnionPay account (43), account template (1, 6, 3, 30, 32, 31, 33, 35), MCC (18, 51),
currency (9, 19, 28), UnionPay with USD (44), amount (4), name (2, 7), city (21), tag 62
(10, 34, 11, 12, 42), tag 64 (39, 38, 40, 41), then the expiry of a dynamic code (45, 49, 47,
50, 46).

The SDK's rules, in short: optional values that are `None`, `""` or numeric 0 are dropped; no
amount (or 0) makes a static code (`01=11`, no 54, no 99); otherwise `01=12` and an expiry in
epoch milliseconds is required, written in tag 99 after the creation time `now_ms`; KHR amounts
must be whole (`100.0` is written `100`); USD amounts have at most 2 decimals and are written with
exactly 2 when they have any (`1.5` is `1.50`, `10` is `10`); MCC defaults to 5999 and the city
to Phnom Penh.

Where the SDK emits something no reader can use or crashes, we refuse instead:
- an alternate-language name without a language preference (the SDK returns a TypeError object
  as the QR): 38, as ts-khqr reports;
- an amount whose JavaScript string is in exponent form (`1e+21`, which the SDK writes as is): 4;
  like the two below, checked last, where the SDK would return its code;
- a template (29/30 or 62) over 99 characters (the SDK writes a 3-digit length): 52;
- text with a lone surrogate (the SDK's md5 throws a URIError): 53.
"""

from __future__ import annotations

import math

import msgspec

from bakong.errors import QRInputError
from bakong.khqr import tags as t
from bakong.khqr.codes import NAMES, message
from bakong.khqr.crc import crc_hex
from bakong.khqr.decode import md5
from bakong.khqr.ecmascript import (
    number_to_string,
    parse_int,
    to_fixed,
    to_number,
    units,
    valid_time,
)

__all__ = ["Generated", "Options", "generate_individual", "generate_merchant"]


class Options(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"):
    """The SDK's `optional` object; field names map to its camelCase keys."""

    currency: int | str | None = None  # 116 (KHR, the default) or 840 (USD)
    amount: float | None = None
    account_information: str | None = None  # individual only
    acquiring_bank: str | None = None  # individual only (a merchant's is a required argument)
    bill_number: str | None = None
    mobile_number: str | None = None
    store_label: str | None = None
    terminal_label: str | None = None
    purpose_of_transaction: str | None = None
    language_preference: str | None = None
    merchant_name_alternate_language: str | None = None
    merchant_city_alternate_language: str | None = None
    upi_merchant_account: str | None = None
    expiration_timestamp: int | None = None  # epoch ms; required when there is an amount
    merchant_category_code: str | None = None


class Generated(msgspec.Struct, frozen=True):
    """A generated KHQR and its md5."""

    qr: str
    md5: str


def _refused(code: int) -> QRInputError:
    """The refusal with the SDK's numeric `code`, named as the SDK names it."""
    return QRInputError(NAMES[code].lower(), message(code), code)


def generate_individual(
    account_id: str,
    merchant_name: str,
    merchant_city: str | None,
    options: Options | None = None,
    *,
    now_ms: int,
) -> Generated:
    """An individual's KHQR (tag 29), as `BakongKHQR().generateIndividual` writes it."""
    return _generate(account_id, merchant_name, merchant_city, None, options, now_ms)


def generate_merchant(
    account_id: str,
    merchant_name: str,
    merchant_city: str | None,
    merchant_id: str | None,
    acquiring_bank: str | None,
    options: Options | None = None,
    *,
    now_ms: int,
) -> Generated:
    """A merchant's KHQR (tag 30), as `BakongKHQR().generateMerchant` writes it."""
    merchant = (merchant_id, acquiring_bank)
    return _generate(account_id, merchant_name, merchant_city, merchant, options, now_ms)


def _generate(
    account_id: str,
    name: str,
    city: str | None,
    merchant: tuple[str | None, str | None] | None,
    options: Options | None,
    now_ms: int,
) -> Generated:
    qr = _write(account_id, name, city, merchant, _kept(options or Options()), now_ms)
    return Generated(qr, md5(qr))


def _kept(options: Options) -> Options:
    """The SDK's `removeEmptyElement`: drop `""` and numeric 0, as `v != ""` does in JavaScript."""
    changes: dict[str, object] = {}
    for field in options.__struct_fields__:
        value = getattr(options, field)
        if isinstance(value, str) and value == "":
            changes[field] = None
        elif isinstance(value, int | float) and not isinstance(value, bool) and _js(value) == 0:
            changes[field] = None
    return msgspec.structs.replace(options, **changes) if changes else options


def _js(value: float) -> float:
    """A Python number as the JavaScript number JSON would make of it."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _write(
    account_id: str,
    name: str,
    city: str | None,
    merchant: tuple[str | None, str | None] | None,
    options: Options,
    now_ms: int,
) -> str:
    dynamic = options.amount is not None
    upi = options.upi_merchant_account
    if upi and units(upi) > t.upi_account_chars_max:
        raise _refused(43)
    account = _account(account_id, merchant, options)
    mcc = _mcc(options.merchant_category_code or t.DEFAULT_MCC)
    currency = _currency(options.currency)
    if upi and _loose_equals(currency, t.USD):
        raise _refused(44)
    fields = [
        _tlv("00", "01"),
        _tlv("01", t.DYNAMIC if dynamic else t.STATIC),
        _tlv("15", upi) if upi else "",
        _tlv("30" if merchant else "29", account),
        _tlv("52", mcc),
        _tlv("53", str(currency)),
    ]
    amount = ""
    if options.amount is not None:
        amount = _amount(options.amount, _loose_equals(currency, t.KHR))
        fields.append(_tlv("54", amount))
    fields += [_tlv("58", t.DEFAULT_COUNTRY), _tlv("59", _name(name)), _tlv("60", _city(city))]
    additional = _additional(options)
    language = _language(options)
    fields.append(_tlv("62", additional) if additional else "")
    fields.append(_tlv("64", language) if language else "")
    if dynamic:
        fields.append(_tlv("99", _timestamps(options.expiration_timestamp, now_ms)))
    payload = "".join(fields) + "6304"
    qr = payload + crc_hex(payload)
    if any("\ud800" <= char <= "\udfff" for char in qr):
        raise _refused(53)
    if max(units(account), units(additional)) > t.template_chars_max:
        raise _refused(52)
    if "e" in amount:
        raise _refused(4)
    return qr


def _tlv(tag: str, value: str) -> str:
    """The SDK's `TagLengthString`: the length in UTF-16 units, 2 digits (3 from 100 on)."""
    return f"{tag}{units(value):02d}{value}"


def _account(
    account_id: str, merchant: tuple[str | None, str | None] | None, options: Options
) -> str:
    """Tag 29/30's value (SDK `GlobalUniqueIdentifier`)."""
    if not account_id:
        raise _refused(1)
    if units(account_id) > t.account_id_chars_max:
        raise _refused(6)
    if "@" not in account_id:
        raise _refused(3)
    value = _tlv("00", account_id)
    if merchant is not None:
        merchant_id, bank = merchant
        value += _tlv("01", _required(merchant_id, 30, t.merchant_id_chars_max, 32))
        return value + _tlv("02", _required(bank, 31, t.acquiring_bank_chars_max, 33))
    information = options.account_information
    if information is not None:
        if units(information) > t.account_information_chars_max:
            raise _refused(35)
        value += _tlv("01", information)
    if options.acquiring_bank is not None:
        value += _tlv("02", _required(options.acquiring_bank, 31, t.acquiring_bank_chars_max, 33))
    return value


def _required(value: str | None, missing: int, chars_max: int, too_long: int) -> str:
    if not value:
        raise _refused(missing)
    if units(value) > chars_max:
        raise _refused(too_long)
    return value


def _mcc(value: str) -> str:
    if units(value) > t.mcc_chars_max:
        raise _refused(18)
    if not value.isascii() or not value.isdigit():
        raise _refused(51)
    return value


def _currency(value: int | str | None) -> int | str:
    """Tag 53 (SDK `TransactionCurrency`); a number skips the length check, as in JavaScript."""
    if value is None:
        return t.KHR
    if isinstance(value, str):
        if units(value) > t.currency_chars_max:
            raise _refused(19)
        number = parse_int(value)
    else:
        number = value
    if number not in (t.KHR, t.USD):
        raise _refused(28)
    return value


def _loose_equals(value: int | str, number: int) -> bool:
    """JavaScript `value == number`."""
    return (to_number(value) if isinstance(value, str) else value) == number


def _amount(amount: float, khr: bool) -> str:
    """Tag 54 (SDK rules, khqr.md §4): whole KHR; USD with at most 2 decimals, then exactly 2."""
    value = _js(amount)
    if not math.isfinite(value):
        raise _refused(4)
    text = number_to_string(value)
    if khr:
        if math.fmod(value, 1) != 0:
            raise _refused(4)
    elif "." in text:
        if len(text.split(".")[1]) > 2:
            raise _refused(4)
        text = to_fixed(value, 2)
    if len(text) > t.amount_chars_max or "-" in text or not text:
        raise _refused(4)
    return text


def _name(value: str) -> str:
    if not value:
        raise _refused(2)
    if units(value) > t.merchant_name_chars_max:
        raise _refused(7)
    return value


def _city(value: str | None) -> str:
    city = value or t.DEFAULT_CITY
    if units(city) > t.merchant_city_chars_max:
        raise _refused(21)
    return city


_ADDITIONAL = (
    ("bill_number", "01", 10),
    ("mobile_number", "02", 34),
    ("store_label", "03", 11),
    ("terminal_label", "07", 12),
    ("purpose_of_transaction", "08", 42),
)


def _additional(options: Options) -> str:
    """Tag 62's value (SDK `AdditionalData`); empty when no field is given."""
    value = ""
    for field, sub, code in _ADDITIONAL:
        text: str | None = getattr(options, field)
        if text is not None:
            if units(text) > t.additional_field_chars_max:
                raise _refused(code)
            value += _tlv(sub, text)
    return value


def _language(options: Options) -> str:
    """Tag 64's value (SDK `MerchantInformationLanguageTemplate`); empty when none is given."""
    preference = options.language_preference
    name = options.merchant_name_alternate_language
    city = options.merchant_city_alternate_language
    if preference and not name:
        raise _refused(39)
    value = ""
    if name is not None:
        if preference is None or units(preference) > t.language_preference_chars_max:
            raise _refused(38)
        if units(name) > t.alternate_name_chars_max:
            raise _refused(40)
        value += _tlv("00", preference) + _tlv("01", name)
    if city is not None:
        if units(city) > t.alternate_city_chars_max:
            raise _refused(41)
        value += _tlv("02", city)
    return value


def _timestamps(expiration: int | None, now_ms: int) -> str:
    """Tag 99 of a dynamic code (SDK `TimeStamp`): creation `now_ms`, then the expiry."""
    if expiration is None:
        raise _refused(45)
    value = _js(expiration)
    if len(number_to_string(value)) != t.timestamp_chars:
        raise _refused(49)
    if not valid_time(value):
        raise _refused(47)
    if value < now_ms:
        raise _refused(50)
    return _tlv("00", number_to_string(float(now_ms))) + _tlv("01", number_to_string(value))
