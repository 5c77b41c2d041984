"""KHQR verification with the SDK's exact check order and error codes (khqr.md §5).

`verify(qr, now_ms)` answers what `BakongKHQR.verify` of bakong-khqr@1.0.20 answers with its clock
at `now_ms`, plus the error code of the first failing check (the one `ts-khqr.verifyDetail`
reports), in this order:

1. `/6304[A-Fa-f0-9]{4}$/`, the CRC (case-insensitive) and a length of at least 12, else 8;
2. the top-level slice (`fields.top_level`);
3. dynamic rules: POI 12 needs 54 (47) and 99 (45); 54 needs 99 (45), even when static;
4. the first missing required tag: 00, 29, 52, 53, 58, 59, 60, 63 (23, 5, 25, 9, 26, 2, 27, 24);
5. each tag in order of appearance, by the rules of `rules.py`.

Where the SDK has no verdict we give one and say so in `Verdict.deviation`:
- `"too_long"`: over `qr_chars_max` characters, refused before parsing (code 8);
- `"template_loops"`: a string the SDK would slice forever (it never returns; code 8), see
  `fields.NeverEnds`;
- `"sdk_type_error"`: a tag-64 alternate name without a language preference makes the SDK throw
  a TypeError, which its `verify` swallows as invalid; we report 38, as ts-khqr does.
"""

from __future__ import annotations

import msgspec

from bakong.khqr.codes import KHQR_INVALID, message
from bakong.khqr.crc import crc_matches
from bakong.khqr.ecmascript import utf16
from bakong.khqr.fields import NeverEnds, subfields, top_level
from bakong.khqr.rules import check_primitive, check_template
from bakong.khqr.tags import DYNAMIC, REQUIRED, TEMPLATES, qr_chars_max, qr_chars_min

__all__ = ["Verdict", "verify"]


class Verdict(msgspec.Struct, frozen=True):
    """The answer of `verify`: valid, or the SDK's first error code and its message."""

    valid: bool
    error_code: int | None = None
    error_message: str | None = None
    deviation: str | None = None


VALID = Verdict(True)


def _invalid(code: int, deviation: str | None = None) -> Verdict:
    return Verdict(False, code, message(code), deviation)


def verify(qr: str, now_ms: int) -> Verdict:
    """Verify `qr` as bakong-khqr@1.0.20 would with its clock at `now_ms` (epoch milliseconds)."""
    if len(qr) > qr_chars_max:
        return _invalid(KHQR_INVALID, "too_long")
    text = utf16(qr)
    if len(text) > qr_chars_max:
        return _invalid(KHQR_INVALID, "too_long")
    if len(text) < qr_chars_min or not crc_matches(text):
        return _invalid(KHQR_INVALID)
    try:
        found = top_level(text, rename=True)
    except NeverEnds:
        return _invalid(KHQR_INVALID, "template_loops")
    code = _presence(found)
    if code:
        return _invalid(code)
    return _check_fields(found, now_ms)


def _presence(found: list[tuple[str, str]]) -> int:
    """Steps 3 and 4: the dynamic-QR rules, then the first missing required tag."""
    present = {tag for tag, _ in found}
    if ("01", DYNAMIC) in found:
        if "54" not in present:
            return 47
        if "99" not in present:
            return 45
    if "54" in present and "99" not in present:
        return 45
    for tag, code in REQUIRED:
        if tag not in present:
            return code
    return 0


def _check_fields(found: list[tuple[str, str]], now_ms: int) -> Verdict:
    """Step 5: validate each tag in order; 99 sees the POI written before it."""
    poi: str | None = None
    for tag, value in found:
        if tag not in TEMPLATES:
            code = check_primitive(tag, value)
            if code:
                return _invalid(code)
            if tag == "01":
                poi = value
        else:
            try:
                named = subfields(tag, value)
            except NeverEnds:
                return _invalid(KHQR_INVALID, "template_loops")
            code, deviation = check_template(tag, value if named is None else named, poi, now_ms)
            if code:
                return _invalid(code, deviation)
    return VALID
