"""What agreement with the official SDK means, case by case (issue 5, "Conformance").

Each `*_disagreement` function takes one request, the SDK's answer to it and computes ours; it
returns `None` when the two agree and a one-line description otherwise. Agreement is exact:
the same verdict and error code, the same 25 decode values, the same generated string and md5.
The only allowed differences are the documented ones where the SDK gives no usable answer, and
each is checked to be exactly that case:

- the SDK never returns (a template it slices forever): our verify says 8 with deviation
  `template_loops`, our decode raises `qr_template_loops`;
- the SDK throws a TypeError inside verify (a tag-64 name without a preference): we say 38;
- the SDK spreads a raw template string into its decode answer as keys "0", "1", ...: those
  keys must be exactly the characters of that string, and are not in ours;
- generation: the SDK returns a TypeError object as the QR (38 for us), throws a URIError on a
  lone surrogate (53), writes a 3-digit template length (52) or an amount in exponent form (4).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from bakong.errors import QRDecodeError, QRInputError
from bakong.khqr.decode import decode, md5
from bakong.khqr.ecmascript import (
    number_to_string,
    parse_int,
    to_fixed,
    to_number,
    units,
    utf16,
)
from bakong.khqr.fields import subfields, top_level
from bakong.khqr.generate import Generated, Options, generate_individual, generate_merchant
from bakong.khqr.tags import DECODE_KEYS, qr_chars_max
from bakong.khqr.verify import verify

__all__ = [
    "decode_disagreement",
    "generate_disagreement",
    "js_disagreement",
    "verify_disagreement",
]


def _md5_or_none(qr: str) -> str | None:
    try:
        return md5(qr)
    except QRDecodeError:
        return None


def verify_disagreement(qr: str, now: int, sdk: dict[str, Any]) -> str | None:
    """Compare `verify(qr, now)` and the md5 with the SDK's answer."""
    ours = verify(qr, now)
    if ours.deviation == "too_long":
        return None if len(utf16(qr)) > qr_chars_max else f"too_long at {len(qr)}: {ours}"
    if sdk["outcome"] == "hang" or ours.deviation == "template_loops":
        agree = sdk["outcome"] == "hang" and ours.deviation == "template_loops"
        return None if agree else f"SDK {sdk}, ours {ours}"
    if sdk["outcome"] != "ok":
        return f"SDK {sdk}"
    if sdk.get("error") is not None:
        expected: tuple[bool, int | None] = (False, 38)
        if ours.deviation != "sdk_type_error":
            return f"SDK threw {sdk['error']}, ours {ours}"
    else:
        expected = (sdk["code"] is None, sdk["code"])
    if sdk["valid"] != expected[0]:
        return f"SDK verify {sdk['valid']} but its check chain says {sdk}"
    if (ours.valid, ours.error_code) != expected:
        return f"SDK valid={sdk['valid']} code={sdk['code']}, ours {ours}"
    if _md5_or_none(qr) != sdk["md5"]:
        return f"md5: SDK {sdk['md5']}, ours {_md5_or_none(qr)}"
    return None


def _spread(qr: str) -> dict[str, str]:
    """The keys "0", "1", ... that the SDK's decode adds for raw template strings."""
    values: dict[str, str] = {}
    for tag, value in top_level(utf16(qr)):
        values["29" if tag == "30" else tag] = value
    keys: dict[str, str] = {}
    for tag in ("29", "62", "64", "99"):
        value = values.get(tag, "")
        if value and subfields(tag, value) is None:
            keys.update({str(index): char for index, char in enumerate(value)})
    return keys


def decode_disagreement(qr: str, sdk: dict[str, Any]) -> str | None:
    """Compare `decode(qr)` with the SDK's decode data."""
    try:
        ours = decode(qr)
    except QRDecodeError as error:
        if error.code == "qr_too_long" and len(utf16(qr)) > qr_chars_max:
            return None
        if error.code == "qr_template_loops" and sdk["outcome"] == "hang":
            return None
        return f"ours raised {error}, SDK {sdk['outcome']}"
    if sdk["outcome"] != "ok":
        return f"SDK {sdk}, ours {ours}"
    data: dict[str, Any] = sdk["data"]
    named = {key: data.get(key, "<missing>") for key in DECODE_KEYS}
    extra = {key: value for key, value in data.items() if key not in DECODE_KEYS}
    if named != ours:
        diff = {key: (named[key], ours[key]) for key in DECODE_KEYS if named[key] != ours[key]}
        return f"decode differs (SDK, ours): {diff}"
    spread = _spread(qr)
    if extra != spread:
        return f"SDK extra keys {extra}, predicted {spread}"
    return None


def _ours_generate(request: dict[str, Any]) -> Generated | QRInputError:
    info = request["info"]
    options = msgspec.convert(info.get("optional") or {}, Options)
    try:
        if request["kind"] == "merchant":
            return generate_merchant(
                info["bakongAccountID"],
                info["merchantName"],
                info["merchantCity"],
                info.get("merchantID"),
                info.get("acquiringBank"),
                options,
                now_ms=request["now"],
            )
        return generate_individual(
            info["bakongAccountID"],
            info["merchantName"],
            info["merchantCity"],
            options,
            now_ms=request["now"],
        )
    except QRInputError as error:
        return error


def _long_template(request: dict[str, Any]) -> bool:
    """Whether the request's tag 29/30 or 62 value is over 99 UTF-16 units (our code 52)."""
    info = request["info"]
    optional = info.get("optional") or {}
    if request["kind"] == "merchant":
        parts = [info["bakongAccountID"], info.get("merchantID"), info.get("acquiringBank")]
    else:
        parts = [info["bakongAccountID"], optional.get("accountInformation")]
        parts.append(optional.get("acquiringBank"))
    extra = [optional.get(key) for key in ("billNumber", "mobileNumber", "storeLabel")]
    extra += [optional.get(key) for key in ("terminalLabel", "purposeOfTransaction")]
    size = sum(units(part) + 4 for part in parts if part)
    return size > 99 or sum(units(part) + 4 for part in extra if part) > 99


def _explained(request: dict[str, Any], sdk: dict[str, Any], code: int) -> bool:
    """Whether our refusal `code` is a documented case where the SDK's answer is unusable."""
    optional = (request["info"].get("optional")) or {}
    if sdk["outcome"] == "bad_value":
        named = optional.get("merchantNameAlternateLanguage")
        return code == 38 and bool(named) and not optional.get("languagePreference")
    if sdk["outcome"] == "throw":
        return code == 53 and sdk.get("error") == "URIError"
    if sdk["outcome"] != "ok" or sdk["status"]["code"] != 0:
        return False
    if code == 52:
        return _long_template(request)
    amount = optional.get("amount")
    if code == 4 and isinstance(amount, int | float) and math.isfinite(amount):
        return "e" in number_to_string(float(amount)) and "e" in sdk["data"]["qr"]
    return False


def generate_disagreement(request: dict[str, Any], sdk: dict[str, Any]) -> str | None:
    """Compare our generator with the SDK's on one request."""
    ours = _ours_generate(request)
    if isinstance(ours, QRInputError):
        if sdk["outcome"] == "ok" and sdk["status"]["code"] == 1:
            if sdk["status"]["errorCode"] == ours.error_code:
                return None
        if _explained(request, sdk, ours.error_code):
            return None
        return f"SDK {sdk}, ours refused {ours.error_code}"
    if sdk["outcome"] != "ok" or sdk["status"]["code"] != 0:
        return f"SDK {sdk}, ours {ours}"
    if (sdk["data"]["qr"], sdk["data"]["md5"]) != (ours.qr, ours.md5):
        return f"SDK {sdk['data']}, ours {ours}"
    return None


def _plain(value: float | int | None) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def js_disagreement(request: dict[str, Any], sdk: dict[str, Any]) -> str | None:
    """Compare one of our JavaScript-semantics helpers with the real operation in Node."""
    function, argument = request["fn"], request["arg"]
    if function == "parseInt":
        ours: object = _plain(parse_int(argument))
    elif function == "Number":
        ours = _plain(to_number(argument))
    elif function == "String":
        ours = number_to_string(float(argument))
    else:
        ours = to_fixed(float(argument), 2)
    theirs = sdk.get("value")
    if isinstance(ours, int | float) and isinstance(theirs, int | float):
        ours, theirs = float(ours), float(theirs)
    return None if ours == theirs else f"{function}({argument!r}): SDK {theirs!r}, ours {ours!r}"
