"""How the SDK splits a KHQR string into fields (khqr.md §5, SDK `decodeValidation.js`).

Top level: slice TLVs left to right with `sdk_cut`; stop when a tag equals the previous one (the
previous one after renaming 30 to 29); keep only the tags the SDK knows (`tags.KNOWN`, plus 30).
Templates 29/30, 62, 64 and 99: slice sub-TLVs until the value is used up, keeping the sub-tags
the SDK names.

Two slices make no progress and would spin the SDK forever: a sub-TLV whose length reads as NaN
(or points back to its start), and the same at the top level on tag 30, because 30 is compared
with the previous tag after being renamed 29, so the stop rule never fires (the SDK then also
grows its tag list without bound). We raise `NeverEnds` (a `QRDecodeError`) instead: `verify`
turns it into a verdict, `decode` names the loop it found.
"""

from __future__ import annotations

from bakong.errors import QRDecodeError
from bakong.khqr.tags import KNOWN_SET, SUBFIELDS
from bakong.khqr.tlv import sdk_cut

__all__ = ["NeverEnds", "subfields", "top_level"]


class NeverEnds(QRDecodeError):
    """The SDK's slicing loop would never end on this string (see the module docstring)."""

    def __init__(self, tag: str) -> None:
        super().__init__("qr_template_loops", f"tag {tag}: the SDK's slicing never ends")
        self.tag = tag


# Two ASCII digits -> their value: the common case, read without calling `sdk_cut`.
_LENGTHS = {f"{number:02d}": number for number in range(100)}
# A 4-digit header "TTLL" -> (tag, length, whether the SDK keeps the tag, the tag as remembered
# for the duplicate check): one dictionary lookup per top-level field in the common case.
_HEADERS = {
    f"{tag:02d}{length:02d}": (
        f"{tag:02d}",
        length,
        f"{tag:02d}" in KNOWN_SET,
        "29" if tag == 30 else f"{tag:02d}",
    )
    for tag in range(100)
    for length in range(100)
}


def top_level(qr: str, rename: bool = False) -> list[tuple[str, str]]:
    """The SDK's top-level `(tag, value)` list; tag 30 comes back as 29 with `rename`."""
    found: list[tuple[str, str]] = []
    keep, headers = found.append, _HEADERS
    last = ""
    position, size = 0, len(qr)
    while position < size:
        header = headers.get(qr[position : position + 4])
        if header is None:
            found = _top_level_slow(qr[position:], found, last)
            break
        tag, length, known, remembered = header
        if tag == last:
            break
        stop = position + 4 + length
        if known:
            keep((remembered if rename else tag, qr[position + 4 : stop]))
        last = remembered
        position = stop
    else:
        return found
    if rename:
        return [("29" if tag == "30" else tag, value) for tag, value in found]
    return found


def _top_level_slow(rest: str, found: list[tuple[str, str]], last: str) -> list[tuple[str, str]]:
    """`top_level` from the first length field that is not two digits on, via `sdk_cut`."""
    while rest:
        tag, value, after = sdk_cut(rest)
        if tag == last:
            break
        if tag == "30" and len(after) == len(rest):
            raise NeverEnds(tag)
        if tag in KNOWN_SET:
            found.append((tag, value))
        last = "29" if tag == "30" else tag
        rest = after
    return found


def subfields(tag: str, value: str, merchant: bool = False) -> dict[str, str] | None:
    """The named sub-fields of template `tag` (29 for 30 too), or `None` if it names none.

    `None` matters: the SDK then handles the raw string instead of an object. With `merchant`,
    sub-tag 01 of tag 29 is named `merchantID` (decode's rule for tag 30).
    """
    names = _MERCHANT_NAMES if merchant and tag == "29" else SUBFIELDS[tag]
    found: dict[str, str] | None = None
    lengths = _LENGTHS
    position, size = 0, len(value)
    while position < size:
        length = lengths.get(value[position + 2 : position + 4])
        if length is None:
            return _subfields_slow(names, tag, value[position:], found)
        name = names.get(value[position : position + 2])
        stop = position + 4 + length
        if name is not None:
            if found is None:
                found = {}
            found[name] = value[position + 4 : stop]
        position = stop
    return found


_MERCHANT_NAMES = {**SUBFIELDS["29"], "01": "merchantID"}


def _subfields_slow(
    names: dict[str, str], tag: str, rest: str, found: dict[str, str] | None
) -> dict[str, str] | None:
    """`subfields` from the first length field that is not two digits on, via `sdk_cut`."""
    while rest:
        sub, sub_value, after = sdk_cut(rest)
        if len(after) == len(rest):
            raise NeverEnds(tag)
        name = names.get(sub)
        if name is not None:
            if found is None:
                found = {}
            found[name] = sub_value
        rest = after
    return found
