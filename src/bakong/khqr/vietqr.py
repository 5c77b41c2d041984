"""VietQR (NAPAS 247) code generation (crossborder-qr.md §2.2).

Tag 38 holds GUID A000000727, the beneficiary (01: 00 the bank BIN, 6 digits; 01 the account or
card number) and the service (02): `QRIBFTTA` to an account, `QRIBFTTC` to a card. Currency
`704`, country `VN`; the purpose goes in 62.08 without diacritics (`chuyển khoản` becomes
`chuyen khoan`), at most 25 characters, and a bill number in 62.01. The layout follows the
public generators (subiz/vietqr, vietnam-qr-pay): 00, 01 (11, or 12 with an amount), 38, 53, 54,
58, 62, 63.
"""

from __future__ import annotations

import unicodedata

from bakong.errors import QRInputError
from bakong.khqr.crc import with_crc
from bakong.khqr.tlv import write

__all__ = ["generate_vietqr", "plain_text"]

GUID = "A000000727"
SERVICES = ("QRIBFTTA", "QRIBFTTC")
purpose_chars_max = 25


def plain_text(text: str) -> str:
    """`text` without Vietnamese diacritics, ASCII only (`đ` becomes `d`)."""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(char for char in folded if char.isascii())


def _refuse(code: str, detail: str) -> QRInputError:
    return QRInputError(code, detail, 0)


def generate_vietqr(
    bin_code: str,
    account: str,
    *,
    service: str = "QRIBFTTA",
    amount: int | None = None,
    purpose: str | None = None,
    bill_number: str | None = None,
) -> str:
    """A VietQR code paying `account` at bank `bin_code`; `amount` in whole VND."""
    if len(bin_code) != 6 or not bin_code.isascii() or not bin_code.isdigit():
        raise _refuse("vietqr_bin_invalid", f"a bank BIN is 6 digits: {bin_code!r}")
    if not account or len(account) > 19 or not account.isascii() or not account.isalnum():
        raise _refuse("vietqr_account_invalid", f"not an account or card number: {account!r}")
    if service not in SERVICES:
        raise _refuse("vietqr_service_invalid", f"service must be one of {SERVICES}")
    if amount is not None and not 0 < amount < 10**13:
        raise _refuse("vietqr_amount_invalid", f"amount out of range: {amount}")
    beneficiary = write("00", bin_code) + write("01", account)
    fields = [
        write("00", "01"),
        write("01", "11" if amount is None else "12"),
        write("38", write("00", GUID) + write("01", beneficiary) + write("02", service)),
        write("53", "704"),
    ]
    if amount is not None:
        fields.append(write("54", str(amount)))
    fields.append(write("58", "VN"))
    additional = write("01", bill_number) if bill_number else ""
    if purpose:
        additional += write("08", plain_text(purpose)[:purpose_chars_max])
    if additional:
        fields.append(write("62", additional))
    return with_crc("".join(fields))
