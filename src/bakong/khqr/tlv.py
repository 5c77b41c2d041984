"""EMVCo tag-length-value: the strict reader and writer, and the SDK's lenient slicer.

Each data object is a 2-digit ID, a 2-digit decimal length and the value; lengths count
characters, not bytes (khqr.md §1, crossborder-qr.md §0). Templates nest TLVs in their value.

Two readers live here, on purpose:

- `read` is the strict EMVCo reader used for foreign schemes: every ID and length must be two
  ASCII digits and every value must be complete, or it raises `QRDecodeError`.
- `sdk_cut` is the SDK's `cutString`, reproduced exactly because KHQR verdicts depend on it: the
  length is JavaScript `parseInt` of the next two characters (so `" 5"`, `"5x"` and `"-3"` all
  read as numbers and `"ab"` as NaN), and the value and the rest are JavaScript `slice`s.
  `verify` and `decode` slice with it so that a misaligned string fails exactly as in the SDK.

Callers pass strings in UTF-16 units (`ecmascript.utf16`) where JavaScript lengths matter.
"""

from __future__ import annotations

from typing import TypeAlias

from bakong.errors import QRDecodeError
from bakong.khqr.ecmascript import from_utf16, parse_int, units, utf16

__all__ = ["read", "sdk_cut", "tree", "write"]

_DIGITS = frozenset("0123456789")
_TEMPLATE_IDS = frozenset(f"{number:02d}" for number in [*range(26, 52), 62, 64, *range(80, 100)])

Tree: TypeAlias = "dict[str, str | Tree]"


def sdk_cut(text: str) -> tuple[str, str, str]:
    """The SDK's `cutString(text)`: `(tag, value, rest)` with JavaScript parseInt and slice.

    `rest` is always a suffix of `text`; it is `text` itself when the length reads as NaN or
    points back to the start, which is how the SDK's template loops never end.
    """
    head = text[2:4]
    if len(head) == 2 and head[0] in _DIGITS and head[1] in _DIGITS:
        length: int | None = int(head)
    else:
        length = parse_int(head)
    if length is None:
        return text[:2], "", text
    stop = 4 + length
    if stop >= 0:
        return text[:2], text[4:stop], text[stop:]
    start = max(len(text) + stop, 0)
    return text[:2], text[4:start], text[start:]


def read(text: str) -> list[tuple[str, str]]:
    """Strictly split `text` into `(id, value)` pairs, in order; raise `QRDecodeError` if malformed.

    Lengths count UTF-16 code units like the SDK; for text without astral characters that is
    Python's `len`.
    """
    if not text.isascii() and max(text) > "\uffff":
        return _read_units(text)
    pairs: list[tuple[str, str]] = []
    position, size = 0, len(text)
    while position < size:
        header = text[position : position + 4]
        if len(header) < 4 or not all(char in _DIGITS for char in header):
            raise QRDecodeError("tlv_malformed", f"bad tag or length at character {position}")
        stop = position + 4 + int(header[2:])
        if stop > size:
            raise QRDecodeError("tlv_truncated", f"tag {header[:2]} runs past the end")
        pairs.append((header[:2], text[position + 4 : stop]))
        position = stop
    return pairs


def _read_units(text: str) -> list[tuple[str, str]]:
    return [(tag, from_utf16(value)) for tag, value in read(utf16(text))]


def tree(text: str) -> Tree:
    """Strictly parse `text` into `{id: value}`, nesting one level into templates.

    Templates are IDs 26-51, 62, 64 and 80-99; a template value that does not parse as TLV is
    kept as a string (the EMVCo "unreserved" IDs 80-99 may hold anything). Later duplicates win.
    """
    result: Tree = {}
    for tag, value in read(text):
        result[tag] = value
        if tag in _TEMPLATE_IDS and value:
            try:
                result[tag] = dict(read(value))
            except QRDecodeError:
                pass
    return result


def write(tag: str, value: str) -> str:
    """One data object: `tag`, the 2-digit length of `value` in characters, and `value`."""
    length = units(value)
    assert len(tag) == 2 and tag[0] in _DIGITS and tag[1] in _DIGITS, tag
    assert 0 <= length <= 99, (tag, length)
    return f"{tag}{length:02d}{value}"
