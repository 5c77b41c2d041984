"""KHQR decoding into the SDK's 25 keys, and the md5 the Bakong Open API keys payments by.

`decode(qr)` returns what `BakongKHQR.decode(qr).data` of bakong-khqr@1.0.20 returns (khqr.md §5):
no validation at all (`"zz"` decodes to all nulls), the top-level slice of `fields.top_level`
with later duplicates winning, tag 30 read as tag 29 with sub-tag 01 named `merchantID`, and
`merchantType` the last of `"29"`/`"30"` seen.

Two SDK behaviours are deliberately not reproduced, and `decode` raises `QRDecodeError` instead:
a string over `qr_chars_max` characters (refused before parsing), and a template the SDK would
slice forever (its decode never returns). One SDK artefact is left out of the result: when a
template names none of its known sub-tags, the SDK spreads the raw string into its answer,
adding keys "0", "1", ... (one per character); our answer always has exactly the 25 keys.

`md5(qr)` is the lower-case hex MD5 of the UTF-8 bytes of the whole string (khqr.md §1).
"""

from __future__ import annotations

import hashlib

from bakong.errors import QRDecodeError
from bakong.khqr.ecmascript import from_utf16, utf16
from bakong.khqr.fields import NeverEnds, subfields, top_level
from bakong.khqr.tags import DECODE_KEYS, PRIMITIVE_KEYS, TEMPLATES, qr_chars_max

__all__ = ["decode", "md5"]

Decoded = dict[str, str | None]

_EMPTY: Decoded = dict.fromkeys(DECODE_KEYS)


def decode(qr: str) -> Decoded:
    """The SDK's 25 decode keys for `qr`, in the SDK's order; values are strings or `None`."""
    text = _bounded(qr)
    values: dict[str, str] = {}
    merchant_type: str | None = None
    merchant = False
    for tag, value in _sliced(text):
        if tag == "30":
            merchant_type = "30"
            merchant = True
            tag = "29"
        elif tag == "29":
            merchant_type = "29"
        values[tag] = value
    result = dict(_EMPTY)
    result["merchantType"] = merchant_type
    for tag, found in values.items():  # each tag sets its own keys, so order does not matter
        if tag in TEMPLATES:
            if found:
                result.update(_named(tag, found, merchant))
        else:
            result[PRIMITIVE_KEYS[tag]] = found
    if text is not qr:
        return {key: None if value is None else from_utf16(value) for key, value in result.items()}
    return result


def _sliced(text: str) -> list[tuple[str, str]]:
    try:
        return top_level(text)
    except NeverEnds as error:
        raise QRDecodeError(
            "qr_template_loops", f"tag {error.tag}: its length field never moves the slicing on"
        ) from None


def _named(tag: str, value: str, merchant: bool) -> dict[str, str]:
    try:
        return subfields(tag, value, merchant) or {}
    except NeverEnds as error:
        raise QRDecodeError(
            "qr_template_loops", f"tag {error.tag}: sub-fields cannot be sliced to the end"
        ) from None


def _bounded(qr: str) -> str:
    if not isinstance(qr, str):
        raise QRDecodeError("qr_not_text", f"a QR is a string, not {type(qr).__name__}")
    if len(qr) > qr_chars_max:
        raise QRDecodeError("qr_too_long", f"a QR has at most {qr_chars_max} characters")
    text = utf16(qr)
    if len(text) > qr_chars_max:
        raise QRDecodeError("qr_too_long", f"a QR has at most {qr_chars_max} characters")
    return text


def md5(qr: str) -> str:
    """Lower-case hex MD5 of the UTF-8 bytes of `qr`, CRC included (the Open API payment key)."""
    try:
        data = qr.encode("utf-8")
    except (UnicodeEncodeError, AttributeError):
        raise QRDecodeError("qr_not_unicode", "a QR with a lone surrogate has no md5") from None
    return hashlib.md5(data).hexdigest()
