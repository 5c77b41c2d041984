"""Foreign QR schemes: which one a code belongs to, and its payee (crossborder-qr.md §1-§2).

`parse(qr)` recognises KHQR and the schemes Bakong's cross-border links reach. EMVCo codes are
read with the strict TLV reader (`tlv.tree`), then every template 02-51 is scanned for a GUID
it knows (§1: the scheme is not always in tag 26; SGQR carries PayNow in 36, Lao OnePay carries
UnionPay 15 and LAPNet 38). When several match, the domestic rail of the country in tag 58 wins
(§2.11: "Prefer the domestic rail of 58's country over UnionPay"), then a fixed priority.

Non-EMVCo codes: UPI URIs (`upi://pay?...`, §2.9) and Alipay+ (§2.6: the MPM URL with a base64
GPLD payload, legacy Alipay URLs, and numeric payment codes).

The result names the scheme (`SCHEMES`), the country and currency (ISO 4217 numeric, as in tag
53), the amount (absent when zero: some static DuitNow codes carry `00.00`), a normalised payee
and whether the CRC is right (`None` for codes that have none). A UnionPay tag 15 seen next to
another scheme is reported inside the payee as `unionpay_15`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

import msgspec

from bakong.errors import QRDecodeError
from bakong.khqr import payees
from bakong.khqr.crc import crc_matches
from bakong.khqr.nonemv import non_emv
from bakong.khqr.tags import qr_chars_max
from bakong.khqr.tlv import Tree, tree

__all__ = ["SCHEMES", "Parsed", "parse"]

SCHEMES: Final = (
    "khqr",
    "promptpay",
    "vietqr",
    "duitnow",
    "laoqr",
    "unionpay",
    "paynow",
    "sgqr",
    "qris",
    "alipayplus",
    "upi",
    "unknown",
)

# The domestic rail of each country (tag 58), preferred when a code matches several schemes.
_DOMESTIC: Final = {
    "KH": "khqr",
    "TH": "promptpay",
    "VN": "vietqr",
    "MY": "duitnow",
    "LA": "laoqr",
    "SG": "paynow",
    "ID": "qris",
}
_PRIORITY: Final = (
    "khqr",
    "promptpay",
    "vietqr",
    "duitnow",
    "laoqr",
    "paynow",
    "qris",
    "alipayplus",
    "sgqr",
    "unionpay",
)


class Parsed(msgspec.Struct, frozen=True):
    """A recognised QR code: scheme, country, currency, amount, payee and CRC verdict."""

    scheme: str
    country: str | None
    currency: str | None
    amount: str | None
    payee: Tree
    crc_valid: bool | None


def parse(qr: str) -> Parsed:
    """Recognise `qr`; `QRDecodeError` only when it is over `qr_chars_max` characters."""
    if len(qr) > qr_chars_max:
        raise QRDecodeError("qr_too_long", f"a QR has at most {qr_chars_max} characters")
    found = non_emv(qr)
    if found is not None:
        scheme, country, currency, amount, payee = found
        return Parsed(scheme, country, currency, _amount(amount), payee, None)
    try:
        fields = tree(qr)
    except QRDecodeError:
        valid = crc_matches(qr) if qr.startswith("00") else None
        return Parsed("unknown", None, None, None, {}, valid)
    country, currency = _text(fields, "58"), _text(fields, "53")
    scheme = _route(fields, country)
    payee = payees.extract(scheme, fields)
    return Parsed(scheme, country, currency, _amount(_text(fields, "54")), payee, crc_matches(qr))


def _text(fields: Tree, tag: str) -> str | None:
    value = fields.get(tag)
    return value if isinstance(value, str) else None


def _amount(value: str | None) -> str | None:
    """The amount, or `None` when absent or zero (`00.00` in static DuitNow codes)."""
    if value is None:
        return None
    try:
        return None if Decimal(value) == 0 else value
    except InvalidOperation:
        return value


def _route(fields: Tree, country: str | None) -> str:
    matched = payees.matches(fields, country)
    if not matched:
        return "unknown"
    domestic = _DOMESTIC.get(country or "")
    if domestic in matched:
        return domestic
    return next(scheme for scheme in _PRIORITY if scheme in matched)
