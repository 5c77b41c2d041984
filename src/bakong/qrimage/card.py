"""The KHQR card layout, shared by the PNG and SVG renderers (KHQR Content Guideline v1.4).

The card is 20:29, white with a red header (`KHQR` in white) whose lower right corner is cut;
below it the merchant name, the amount in large type with the currency code after it, a dashed
rule, and the QR code with its quiet zone. Every measure is a fraction of the card width, so the
two renderers agree at any size. The text comes from the code itself (`bakong.khqr.decode`).
"""

from __future__ import annotations

import msgspec
import segno

from bakong.errors import QRDecodeError
from bakong.khqr.decode import decode

__all__ = ["Card", "layout"]

RED = "#E1232E"
INK = "#000000"
MUTED = "#5A5A5A"
RULE = "#B3B3B3"
CURRENCY = {"116": "KHR", "840": "USD"}


class Card(msgspec.Struct, frozen=True):
    """Everything a renderer draws, in pixels of a card `width` wide."""

    width: int
    height: int
    header: int  # header height
    notch: int  # size of the header's cut corner
    name: str
    name_y: int
    name_size: int
    amount: str
    currency: str
    amount_y: int
    amount_size: int
    rule_y: int
    modules: list[list[bool]]  # the QR matrix, quiet zone excluded
    module: int  # pixels per module
    qr_x: int
    qr_y: int


def _amount_text(amount: str | None) -> str:
    """`50000` as `50,000`, `1.50` as `1.50`; no amount is `0`, as the guideline shows."""
    if not amount:
        return "0"
    whole, dot, fraction = amount.partition(".")
    if whole.isascii() and whole.isdigit():
        return f"{int(whole):,}{dot}{fraction}"
    return amount


def symbol(qr: str) -> segno.QRCode:
    """The QR symbol for `qr`: a full QR (never Micro QR), UTF-8, error correction level M."""
    return segno.make_qr(qr, error="m", boost_error=False, encoding="utf-8")


def layout(qr: str, width: int = 400) -> Card:
    """The card for `qr`, `width` pixels wide."""
    try:
        fields = decode(qr)
    except QRDecodeError:
        fields = {}
    matrix = [[bool(cell) for cell in row] for row in symbol(qr).matrix]
    side = len(matrix)
    module = max(1, (width * 3 // 4) // side)
    header = width * 13 // 100
    name_y = header + width * 11 // 100
    amount_y = name_y + width * 13 // 100
    rule_y = amount_y + width * 8 // 100
    qr_y = rule_y + width * 6 // 100
    height = max(width * 29 // 20, qr_y + side * module + width // 8)
    return Card(
        width=width,
        height=height,
        header=header,
        notch=header * 2 // 3,
        name=fields.get("merchantName") or "",
        name_y=name_y,
        name_size=width * 5 // 100,
        amount=_amount_text(fields.get("transactionAmount")),
        currency=CURRENCY.get(fields.get("transactionCurrency") or "", ""),
        amount_y=amount_y,
        amount_size=width * 9 // 100,
        rule_y=rule_y,
        modules=matrix,
        module=module,
        qr_x=(width - side * module) // 2,
        qr_y=qr_y,
    )
