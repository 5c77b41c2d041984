"""UnionPay International merchant-presented QR code generation (crossborder-qr.md §2.5).

Primitive tag 15 is the UnionPay merchant account, 31 characters: the acquirer IIN (8 digits),
the forwarding IIN (8 digits) and the merchant ID (15 letters and digits). The currency is the
merchant's local one (ISO 4217 numeric, `156` in China by default) with its country in 58.
Additional data (62) may carry a bill number (01), a reference (05) and a terminal (07). The
layout follows the public UnionPay samples: 00, 01 (11, or 12 with an amount), 15, 52, 53, 54,
58, 59, 60, 62, 63.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bakong.errors import QRInputError
from bakong.khqr.crc import with_crc
from bakong.khqr.tlv import write

__all__ = ["generate_unionpay"]


def _refuse(code: str, detail: str) -> QRInputError:
    return QRInputError(code, detail, 0)


def _digits(name: str, value: str, size: int) -> str:
    if len(value) != size or not value.isascii() or not value.isdigit():
        raise _refuse(f"unionpay_{name}_invalid", f"{name} is {size} digits: {value!r}")
    return value


def _text(name: str, value: str, size: int) -> str:
    if not value or len(value) > size or not value.isprintable():
        raise _refuse(f"unionpay_{name}_invalid", f"{name} is 1 to {size} printable characters")
    return value


def _amount(amount: Decimal | str, decimals: int) -> str:
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise _refuse("unionpay_amount_invalid", f"not an amount: {amount!r}") from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
        raise _refuse("unionpay_amount_invalid", f"amount out of range: {amount!r}")
    if decimals == 0:
        if value != value.to_integral_value():
            raise _refuse("unionpay_amount_invalid", "this currency has no minor unit")
        return str(int(value))
    return f"{value.quantize(Decimal(1).scaleb(-decimals)):f}"


def generate_unionpay(
    acquirer_iin: str,
    forwarding_iin: str,
    merchant_id: str,
    *,
    name: str,
    city: str,
    mcc: str = "5999",
    currency: str = "156",
    country: str = "CN",
    decimals: int = 2,
    amount: Decimal | str | None = None,
    bill_number: str | None = None,
    reference: str | None = None,
    terminal: str | None = None,
) -> str:
    """A UnionPay code paying `merchant_id`; `amount` in the currency's major unit, written
    with `decimals` decimals (2 for CNY)."""
    account = _digits("acquirer_iin", acquirer_iin, 8) + _digits(
        "forwarding_iin", forwarding_iin, 8
    )
    if len(merchant_id) != 15 or not merchant_id.isascii() or not merchant_id.isalnum():
        raise _refuse("unionpay_merchant_invalid", "a merchant ID is 15 letters and digits")
    if len(country) != 2 or not country.isascii() or not country.isupper():
        raise _refuse("unionpay_country_invalid", f"a country is 2 capitals: {country!r}")
    fields = [
        write("00", "01"),
        write("01", "11" if amount is None else "12"),
        write("15", account + merchant_id),
        write("52", _digits("mcc", mcc, 4)),
        write("53", _digits("currency", currency, 3)),
    ]
    if amount is not None:
        fields.append(write("54", _amount(amount, decimals)))
    fields += [write("58", country), write("59", _text("name", name, 25)),
               write("60", _text("city", city, 15))]  # fmt: skip
    subs = (("01", bill_number), ("05", reference), ("07", terminal))
    additional = "".join(
        write(sub, _text("additional", value, 25)) for sub, value in subs if value is not None
    )
    if additional:
        fields.append(write("62", additional))
    return with_crc("".join(fields))
