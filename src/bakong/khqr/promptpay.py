"""PromptPay (Thai QR) code generation (crossborder-qr.md §2.1).

A credit-transfer code carries tag 29 with GUID A000000677010111 and one proxy: a mobile number
in 01 (13 characters: `0066` and the national number without its leading 0), a national or tax
ID in 02 (13 digits) or an e-wallet ID in 03 (15 digits). Non-digits are stripped first, so
`080-123-4567` and `+66-89-123-4567` work. The layout follows the common generator
(dtinth/promptpay-qr): 00, 01 (11, or 12 with an amount), 29, 58 `TH`, 53 `764`, 54, 63.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bakong.errors import QRInputError
from bakong.khqr.crc import with_crc
from bakong.khqr.tlv import write

__all__ = ["generate_promptpay"]

GUID = "A000000677010111"


def _proxy(target: str) -> tuple[str, str]:
    digits = "".join(char for char in target if char.isascii() and char.isdigit())
    if len(digits) >= 15:
        return "03", digits
    if len(digits) == 13:
        return "02", digits
    if len(digits) < 9:
        raise QRInputError("promptpay_target_invalid", f"not a phone or ID: {target!r}", 0)
    national = digits[2:] if digits.startswith("66") else digits.removeprefix("0")
    return "01", ("0066" + national)[-13:].rjust(13, "0")


def _amount(amount: Decimal | str) -> str:
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise QRInputError("promptpay_amount_invalid", f"not an amount: {amount!r}", 4) from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
        raise QRInputError("promptpay_amount_invalid", f"amount out of range: {amount!r}", 4)
    return f"{value.quantize(Decimal('0.01')):f}"


def generate_promptpay(target: str, amount: Decimal | str | None = None) -> str:
    """A PromptPay code paying `target` (phone, national/tax ID or e-wallet), `amount` in THB."""
    sub, proxy = _proxy(target)
    fields = [
        write("00", "01"),
        write("01", "11" if amount is None else "12"),
        write("29", write("00", GUID) + write(sub, proxy)),
        write("58", "TH"),
        write("53", "764"),
    ]
    if amount is not None:
        fields.append(write("54", _amount(amount)))
    return with_crc("".join(fields))
