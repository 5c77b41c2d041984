"""CRC-16/CCITT-FALSE, the checksum in tag 63 (khqr.md §1, crossborder-qr.md §0).

Poly 0x1021, init 0xFFFF, no reflection, no final xor, over the UTF-8 bytes of the whole payload
up to and including the literal `6304`; written as 4 upper-case hex digits. Check values:
`crc_hex("123456789") == "29B1"`, `crc_hex("") == "FFFF"`. `binascii.crc_hqx` is exactly this
CRC when started at 0xFFFF, and runs in C.

Lone surrogates are encoded as U+FFFD, as Node's `Buffer.from` does, so that we compute the same
CRC as the SDK for any JavaScript string.
"""

from __future__ import annotations

import binascii

from bakong.khqr.ecmascript import utf8

__all__ = ["crc16", "crc_hex", "crc_matches", "with_crc"]

_HEX = frozenset("0123456789ABCDEFabcdef")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of `data`."""
    return binascii.crc_hqx(data, 0xFFFF)


def crc_hex(text: str) -> str:
    """The 4 upper-case hex digits of the CRC of `text`'s UTF-8 bytes."""
    return f"{binascii.crc_hqx(utf8(text), 0xFFFF):04X}"


def with_crc(payload: str) -> str:
    """`payload` (which must not end in a CRC yet) followed by `6304` and its CRC."""
    body = payload + "6304"
    return body + crc_hex(body)


def crc_matches(qr: str) -> bool:
    """Whether `qr` ends in `6304` plus 4 hex digits that match the CRC of what precedes them.

    The comparison ignores case: a lower-case CRC is accepted, as the SDK does (V117).
    """
    tail = qr[-4:]
    if len(qr) < 8 or qr[-8:-4] != "6304" or not _HEX.issuperset(tail):
        return False
    return crc_hex(qr[:-4]) == tail.upper()
