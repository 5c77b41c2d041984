"""How the SDK splits a KHQR string into fields (khqr.md §5, SDK `decodeValidation.js`).

Top level: slice TLVs left to right with `sdk_cut`; stop when a tag equals the previous one (the
previous one after renaming 30 to 29); keep only the tags the SDK knows (`tags.KNOWN`, plus 30).
Templates 29/30, 62, 64 and 99: slice sub-TLVs until the value is used up, keeping the sub-tags
the SDK names.

Two slices make no progress and would spin the SDK forever: a sub-TLV whose length reads as NaN
(or points back to its start), and the same at the top level on tag 30, because 30 is compared
with the previous tag after being renamed 29, so the stop rule never fires (the SDK then also
grows its tag list without bound). We raise `NeverEnds` instead, and the callers turn that into
a verdict or a typed error.
"""

from __future__ import annotations

from bakong.khqr.tags import KNOWN_SET, SUBFIELDS
from bakong.khqr.tlv import sdk_cut

__all__ = ["NeverEnds", "subfields", "top_level"]


class NeverEnds(Exception):
    """The SDK's slicing loop would never end on this string (see the module docstring)."""

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


def top_level(qr: str) -> list[tuple[str, str]]:
    """The SDK's top-level `(tag, value)` list, raw tags kept (30 is not renamed here)."""
    found: list[tuple[str, str]] = []
    last = ""
    rest = qr
    while rest:
        tag, value, after = sdk_cut(rest)
        if tag == last:
            break
        if tag == "30" and len(after) == len(rest):
            raise NeverEnds(tag)
        rest = after
        if tag in KNOWN_SET:
            found.append((tag, value))
        last = "29" if tag == "30" else tag
    return found


def subfields(tag: str, value: str, merchant: bool = False) -> dict[str, str] | None:
    """The named sub-fields of template `tag` (29 for 30 too), or `None` if it names none.

    `None` matters: the SDK then handles the raw string instead of an object. With `merchant`,
    sub-tag 01 of tag 29 is named `merchantID` (decode's rule for tag 30).
    """
    names = SUBFIELDS[tag]
    found: dict[str, str] | None = None
    while value:
        sub, sub_value, rest = sdk_cut(value)
        if len(rest) == len(value):
            raise NeverEnds(tag)
        name = names.get(sub)
        if name is not None:
            if merchant and name == "accountInformation":
                name = "merchantID"
            if found is None:
                found = {}
            found[name] = sub_value
        value = rest
    return found
