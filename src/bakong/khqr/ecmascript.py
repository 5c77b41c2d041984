"""JavaScript value semantics that the KHQR SDK's answers depend on (khqr.md §1, §4, §5).

The SDK (`bakong-khqr@1.0.20`) is JavaScript. Its verdicts follow from a handful of language
operations, which this module reproduces exactly so that our codec agrees with it on every string:

- Strings are sequences of UTF-16 code units: `String.length` counts an astral character (an
  emoji) as 2. `utf16` turns a Python string into one whose code points are those units, so that
  `len` and slicing match JavaScript; `from_utf16` turns it back.
- `Buffer.from(s)` (the CRC input) encodes UTF-8 and writes U+FFFD for a lone surrogate: `utf8`.
- `parseInt(s)` reads TLV length fields: leading JavaScript white space, a sign, a `0x` prefix,
  then the longest run of digits; `None` stands for NaN.
- `Number(s)` reads timestamps: `to_number`, NaN as `math.nan`.
- `String(x)` prints amounts and timestamps: `number_to_string` (ECMA-262 Number::toString).
- `x.toFixed(2)` prints USD amounts: `to_fixed`.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "from_utf16",
    "number_to_string",
    "parse_int",
    "to_fixed",
    "to_number",
    "units",
    "utf16",
    "utf8",
    "valid_time",
]

# ECMA-262 WhiteSpace and LineTerminator: what parseInt and Number skip around a number.
_SPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DIGITS_10 = "0123456789"
_DIGITS_16 = "0123456789abcdefABCDEF"
_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\Z")
_PREFIXED = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_RADIX_DIGITS = {16: "0123456789abcdefABCDEF", 8: "01234567", 2: "01"}
_TIME_MS_MAX = 8.64e15  # ECMA-262 TimeClip: the largest time value a Date can hold


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def utf16(text: str) -> str:
    """`text` with each astral character split into its two surrogate code points."""
    if text.isascii() or _ASTRAL.search(text) is None:
        return text
    return _ASTRAL.sub(_split_astral, text)


def _split_astral(match: re.Match[str]) -> str:
    point = ord(match.group()) - 0x10000
    return chr(0xD800 + (point >> 10)) + chr(0xDC00 + (point & 0x3FF))


def from_utf16(text: str) -> str:
    """Undo `utf16`: join surrogate pairs into astral characters, keep lone surrogates."""
    if text.isascii() or not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def units(text: str) -> int:
    """JavaScript `text.length`: the number of UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for char in text if char > "\uffff")


def utf8(text: str) -> bytes:
    """Node's `Buffer.from(text)`: UTF-8, with U+FFFD for each lone surrogate."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return joined.encode("utf-8")


def parse_int(text: str) -> int | None:
    """ECMAScript `parseInt(text)` with no radix; `None` for NaN. `-0` comes back as 0."""
    start = 0
    while start < len(text) and text[start] in _SPACE:
        start += 1
    sign = 1
    if start < len(text) and text[start] in "+-":
        sign = -1 if text[start] == "-" else 1
        start += 1
    radix, digits = 10, _DIGITS_10
    if text[start : start + 2] in ("0x", "0X"):
        radix, digits = 16, _DIGITS_16
        start += 2
    end = start
    while end < len(text) and text[end] in digits:
        end += 1
    if end == start:
        return None
    return sign * int(text[start:end], radix)


def to_number(text: str | None) -> float:
    """ECMAScript `Number(text)`: `None` is `null` (0); NaN when the text is not a number."""
    if text is None:
        return 0.0
    start, end = 0, len(text)
    while start < end and text[start] in _SPACE:
        start += 1
    while end > start and text[end - 1] in _SPACE:
        end -= 1
    body = text[start:end]
    if not body:
        return 0.0
    radix = _PREFIXED.get(body[:2])
    if radix is not None:
        rest = body[2:]
        if rest and all(char in _RADIX_DIGITS[radix] for char in rest):
            return float(int(rest, radix))
        return math.nan
    if _DECIMAL.match(body) is None:
        return math.nan
    if body.endswith("Infinity"):
        return -math.inf if body.startswith("-") else math.inf
    return float(body)


def valid_time(value: float) -> bool:
    """Whether `new Date(value).getTime()` is a number (ECMA-262 TimeClip)."""
    return math.isfinite(value) and abs(value) <= _TIME_MS_MAX


def number_to_string(value: float) -> str:
    """ECMAScript `String(value)` for a number (Number::toString, radix 10)."""
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "0"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value < 0:
        return "-" + number_to_string(-value)
    digits, point = _shortest_digits(value)
    return _format_digits(digits, point)


def _shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of a positive finite `value` and the decimal point position.

    `value == 0.DIGITS * 10**point`. Python's repr and V8 both print the shortest digit string
    that reads back as the same double, the nearest one when there are several.
    """
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0"), point


def _format_digits(digits: str, point: int) -> str:
    count = len(digits)
    if count <= point <= 21:
        return digits + "0" * (point - count)
    if 0 < point <= 21:
        return digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    exponent = point - 1
    sign = "+" if exponent >= 0 else "-"
    head = digits[0] + ("." + digits[1:] if count > 1 else "")
    return f"{head}e{sign}{abs(exponent)}"


def to_fixed(value: float, places: int) -> str:
    """ECMAScript `value.toFixed(places)`: exact binary value, ties away from zero."""
    if not math.isfinite(value) or abs(value) >= 1e21:
        return number_to_string(value)
    quantum = Decimal(1).scaleb(-places)
    text = f"{abs(Decimal(value)).quantize(quantum, rounding=ROUND_HALF_UP):f}"
    return "-" + text if value < 0 else text
