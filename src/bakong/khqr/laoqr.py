"""Lao QR (LAPNet) code generation (crossborder-qr.md §2.4).

Tag 38 holds GUID A005266284662577, the IIN in 01 (8 digits; `27710418` in every sample), the
payment type in 02 (`001` or `002`) and the receiver or merchant ID in 03. Currency `418`,
country `LA`; amounts are whole kip. Name (59) and city (60) are optional, as in the minimal
public sample. Layout: 00, 01 (11, or 12 with an amount), 38, 52, 53, 54, 58, 59, 60, 63.
"""

from __future__ import annotations

from bakong.errors import QRInputError
from bakong.khqr.crc import with_crc
from bakong.khqr.tlv import write

__all__ = ["generate_laoqr"]

GUID = "A005266284662577"
IIN = "27710418"
PAYMENT_TYPES = ("001", "002")


def _refuse(code: str, detail: str) -> QRInputError:
    return QRInputError(code, detail, 0)


def _optional(name: str, value: str | None, size: int) -> list[str]:
    if value is None:
        return []
    if not value or len(value) > size or not value.isprintable():
        raise _refuse(f"laoqr_{name}_invalid", f"{name} is 1 to {size} printable characters")
    return [value]


def generate_laoqr(
    receiver_id: str,
    *,
    iin: str = IIN,
    payment_type: str = "002",
    mcc: str | None = None,
    amount: int | None = None,
    name: str | None = None,
    city: str | None = None,
) -> str:
    """A Lao QR code paying `receiver_id` through LAPNet; `amount` in whole LAK."""
    if len(iin) != 8 or not iin.isascii() or not iin.isdigit():
        raise _refuse("laoqr_iin_invalid", f"an IIN is 8 digits: {iin!r}")
    if payment_type not in PAYMENT_TYPES:
        raise _refuse("laoqr_payment_type_invalid", f"payment type is one of {PAYMENT_TYPES}")
    if not 0 < len(receiver_id) <= 32 or not receiver_id.isascii() or not receiver_id.isalnum():
        raise _refuse("laoqr_receiver_invalid", "a receiver ID is 1 to 32 letters and digits")
    if mcc is not None and (len(mcc) != 4 or not mcc.isascii() or not mcc.isdigit()):
        raise _refuse("laoqr_mcc_invalid", f"an MCC is 4 digits: {mcc!r}")
    if amount is not None and not 0 < amount < 10**13:
        raise _refuse("laoqr_amount_invalid", f"amount out of range: {amount}")
    template = write("00", GUID) + write("01", iin) + write("02", payment_type)
    fields = [
        write("00", "01"),
        write("01", "11" if amount is None else "12"),
        write("38", template + write("03", receiver_id)),
    ]
    fields += [write("52", mcc)] if mcc is not None else []
    fields.append(write("53", "418"))
    fields += [write("54", str(amount))] if amount is not None else []
    fields.append(write("58", "LA"))
    fields += [write("59", value) for value in _optional("name", name, 25)]
    fields += [write("60", value) for value in _optional("city", city, 15)]
    return with_crc("".join(fields))
