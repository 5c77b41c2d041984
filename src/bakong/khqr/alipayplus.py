"""Alipay+ merchant code generation, embedded in an EMVCo code (crossborder-qr.md §2.6).

Alipay+ codes are not EMVCo themselves: the merchant's code is an HTTPS URL (`https://qr.alipay
.com/<code>` in the legacy form). Acquirers print it inside an EMVCo merchant QR as a template
with GUID `com.alipay` and the URL in 01 (tag 27 in the SGQR sample), which is the form made
here: it carries the currency (53), the amount (54), the country (58), the name and the city,
so a scanner knows what it pays before asking Alipay+. Layout: 00, 01, 27, 52, 53, 54, 58, 59,
60, 63.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bakong.errors import QRInputError
from bakong.khqr.crc import with_crc
from bakong.khqr.tlv import write

__all__ = ["generate_alipayplus", "merchant_url"]

GUID = "com.alipay"
URL_PREFIX = "https://qr.alipay.com/"


def _refuse(code: str, detail: str) -> QRInputError:
    return QRInputError(code, detail, 0)


def merchant_url(code: str) -> str:
    """The legacy Alipay merchant URL of `code` (letters and digits, 8 to 40 of them)."""
    if not 8 <= len(code) <= 40 or not code.isascii() or not code.isalnum():
        raise _refuse("alipayplus_code_invalid", "a merchant code is 8 to 40 letters and digits")
    return URL_PREFIX + code.lower()


def _text(name: str, value: str, size: int) -> str:
    if not value or len(value) > size or not value.isprintable():
        raise _refuse(f"alipayplus_{name}_invalid", f"{name} is 1 to {size} printable characters")
    return value


def _amount(amount: Decimal | str) -> str:
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise _refuse("alipayplus_amount_invalid", f"not an amount: {amount!r}") from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
        raise _refuse("alipayplus_amount_invalid", f"amount out of range: {amount!r}")
    return f"{value.quantize(Decimal('0.01')):f}"


def generate_alipayplus(
    code: str,
    *,
    name: str,
    city: str,
    mcc: str = "5999",
    currency: str = "156",
    country: str = "CN",
    amount: Decimal | str | None = None,
) -> str:
    """An EMVCo code carrying the Alipay+ merchant `code`; `amount` in CNY (two decimals)."""
    if len(mcc) != 4 or not mcc.isascii() or not mcc.isdigit():
        raise _refuse("alipayplus_mcc_invalid", f"an MCC is 4 digits: {mcc!r}")
    if len(currency) != 3 or not currency.isascii() or not currency.isdigit():
        raise _refuse("alipayplus_currency_invalid", f"a currency is 3 digits: {currency!r}")
    if len(country) != 2 or not country.isascii() or not country.isupper():
        raise _refuse("alipayplus_country_invalid", f"a country is 2 capitals: {country!r}")
    fields = [
        write("00", "01"),
        write("01", "11" if amount is None else "12"),
        write("27", write("00", GUID) + write("01", merchant_url(code))),
        write("52", mcc),
        write("53", currency),
    ]
    if amount is not None:
        fields.append(write("54", _amount(amount)))
    fields += [write("58", country), write("59", _text("name", name, 25)),
               write("60", _text("city", city, 15))]  # fmt: skip
    return with_crc("".join(fields))
