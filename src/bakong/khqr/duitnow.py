"""DuitNow QR (PayNet, Malaysia) code generation (crossborder-qr.md §2.3).

Tag 26 holds GUID A0000006150001, the acquirer ID in 01 (6 digits) and the merchant account in
02. Payload format indicator `02` (PayNet spec v1.5), MCC in 52 (`0000` for P2P), currency `458`,
country `MY`, the merchant's name in 59 and city in 60. The layout follows the public PayNet
samples: 00, 01 (11, or 12 with an amount), 26, 52, 53, 54, 58, 59, 60, 63.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bakong.errors import QRInputError
from bakong.khqr.crc import with_crc
from bakong.khqr.tlv import write

__all__ = ["generate_duitnow", "ringgit"]

GUID = "A0000006150001"


def _refuse(code: str, detail: str) -> QRInputError:
    return QRInputError(code, detail, 0)


def ringgit(amount: Decimal | str | int) -> str:
    """`amount` (MYR) as tag 54 writes it, with two decimals; refused unless 0 < amount < 10^10."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise _refuse("duitnow_amount_invalid", f"not an amount: {amount!r}") from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
        raise _refuse("duitnow_amount_invalid", f"amount out of range: {amount!r}")
    return f"{value.quantize(Decimal('0.01')):f}"


def _text(name: str, value: str, size: int) -> str:
    if not value or len(value) > size or not value.isprintable():
        raise _refuse(f"duitnow_{name}_invalid", f"{name} is 1 to {size} printable characters")
    return value


def generate_duitnow(
    acquirer_id: str,
    merchant_account: str,
    *,
    name: str,
    city: str,
    mcc: str = "0000",
    amount: Decimal | str | None = None,
) -> str:
    """A DuitNow code paying `merchant_account` at acquirer `acquirer_id`; `amount` in MYR."""
    if len(acquirer_id) != 6 or not acquirer_id.isascii() or not acquirer_id.isdigit():
        raise _refuse("duitnow_acquirer_invalid", f"an acquirer ID is 6 digits: {acquirer_id!r}")
    account = _text("account", merchant_account, 30)
    if not account.isascii() or not account.isalnum():
        raise _refuse("duitnow_account_invalid", "a merchant account is letters and digits")
    if len(mcc) != 4 or not mcc.isascii() or not mcc.isdigit():
        raise _refuse("duitnow_mcc_invalid", f"an MCC is 4 digits: {mcc!r}")
    fields = [
        write("00", "02"),
        write("01", "11" if amount is None else "12"),
        write("26", write("00", GUID) + write("01", acquirer_id) + write("02", account)),
        write("52", mcc),
        write("53", "458"),
    ]
    if amount is not None:
        fields.append(write("54", ringgit(amount)))
    fields += [write("58", "MY"), write("59", _text("name", name, 25)),
               write("60", _text("city", city, 15))]  # fmt: skip
    return with_crc("".join(fields))
