"""Seeded inputs for the differential test and the fuzzer: generator options and QR strings.

`generate_input` draws arguments for `generateIndividual` / `generateMerchant` around every SDK
rule (lengths at and past each limit, both currencies and wrong ones, whole and fractional
amounts, expiries in the past, in seconds, 14 digits long, Khmer, CJK and emoji text).
`mutate` applies the mutations named in issue 5 to a QR string: truncation, length fields,
CRC, tag order, duplicated and dropped tags, field lengths, Khmer text, timestamps, point of
initiation, unknown tags, raw templates and random characters; most mutants get a fresh CRC so
that the checks after the CRC gate are reached.
"""

from __future__ import annotations

import random
from typing import Any

from bakong.errors import QRDecodeError
from bakong.khqr.crc import crc_hex
from bakong.khqr.decode import decode
from bakong.khqr.ecmascript import units
from bakong.khqr.tags import KNOWN_SET, SUBFIELDS

__all__ = ["generate_input", "mutate", "now_for", "random_text", "reseal", "valid_input"]

NOW_MS = 1_763_700_000_000  # 2025-11-21, a fixed clock for generated codes

_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 #-_.@/"
_KHMER = [chr(point) for point in range(0x1780, 0x17DE)]
_CJK = list("文山金边最佳运输北京")
_WORDS = ["ចន ស្មីន", "ភ្នំពេញ", "សៀមរាប", "文山", "金边", "Coffee Shop", "John Smith"]
_ASTRAL = ["\U0001f600", "\U0001f4b5", "\U00020000"]
_LENGTHS = ["ab", " 5", "5 ", "-3", "-9", "+4", "0x", "0X", "99", "00", "-0", "1e", "\u00a07", "  "]


def random_text(rng: random.Random, size: int) -> str:
    """`size` UTF-16 units of text: mostly ASCII, some Khmer, CJK, and rarely emoji."""
    style = rng.random()
    chars: list[str] = []
    while units("".join(chars)) < size:
        if style < 0.6:
            chars.append(rng.choice(_ASCII))
        elif style < 0.8:
            chars.append(rng.choice(_KHMER))
        elif style < 0.9:
            chars.append(rng.choice(_CJK))
        else:
            chars.append(rng.choice(_ASCII + "".join(_KHMER[:5])) if rng.random() < 0.8 else "")
            if rng.random() < 0.2:
                chars.append(rng.choice(_ASTRAL))
    text = "".join(chars)
    while units(text) > size:
        text = text[:-1]
    return text


def _sized(rng: random.Random, limit: int, spread: int = 3) -> str:
    """Text at, just under or just over `limit` units, or short, or a known word."""
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(_WORDS)
    if roll < 0.55:
        return random_text(rng, rng.randint(1, max(1, limit - 1)))
    return random_text(rng, max(0, limit + rng.randint(-spread, spread)))


def _account_id(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.75:
        bank = rng.choice(["devb", "aclb", "abaa", "nbcq", "ftcc"])
        return random_text(rng, rng.randint(1, 30 - len(bank))).replace("@", "_") + "@" + bank
    if roll < 0.85:
        return random_text(rng, rng.randint(26, 36)).replace("@", "") + "@x"
    return rng.choice(["", "john_smith", "a@b@c", "@", "x@", "ចន@devb", "a" * 33])


def _amount(rng: random.Random) -> float | int | None:
    roll = rng.random()
    if roll < 0.2:
        return None
    if roll < 0.5:
        return rng.choice([1, 100, 5000, 50000, 10**12, 10**13, 0, -5])
    if roll < 0.85:
        places = rng.choice([0, 1, 2, 2, 3])
        return round(rng.uniform(0, 10 ** rng.randint(1, 11)), places)
    return rng.choice([1.5, 1.12, 1.005, 0.1, 9999999999.99, 12345678901234, 1e21, 1.5e-7, 1e-7])


def _expiry(rng: random.Random, now: int) -> int | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.75:
        return now + rng.randint(1, 600_000)
    return rng.choice(
        [now, now - 1, now - 86_400_000, now // 1000, now * 10, -123456789012, 0, 10**13 - 1]
    )


def _currency(rng: random.Random) -> int | str | None:
    return rng.choice([None, 116, 840, 116, 840, "116", "840", 978, "USD", "8400", 0, "", " 84"])


def _optional(rng: random.Random, now: int) -> dict[str, Any]:
    """The SDK's optional object, camelCase keys, each field present with some probability."""
    fields: dict[str, Any] = {}
    texts = {
        "accountInformation": 32,
        "acquiringBank": 32,
        "billNumber": 25,
        "mobileNumber": 25,
        "storeLabel": 25,
        "terminalLabel": 25,
        "purposeOfTransaction": 25,
        "languagePreference": 2,
        "merchantNameAlternateLanguage": 25,
        "merchantCityAlternateLanguage": 15,
        "upiMerchantAccount": 99,
    }
    for key, limit in texts.items():
        if rng.random() < 0.3:
            fields[key] = rng.choice(["", None]) if rng.random() < 0.1 else _sized(rng, limit)
    if rng.random() < 0.8:
        fields["currency"] = _currency(rng)
    fields["amount"] = _amount(rng)
    fields["expirationTimestamp"] = _expiry(rng, now)
    if rng.random() < 0.3:
        fields["merchantCategoryCode"] = rng.choice(
            ["5999", "599", "59999", "5a99", "0000", "-100", "", "4111", "٣٣٣٣"]
        )
    return fields


def generate_input(rng: random.Random) -> dict[str, Any]:
    """A request for the oracle's `generate` op: kind, SDK-shaped info and the clock.

    Half are a valid request with one field moved to an edge (one rule at a time); the other
    half draw every field around its limits at once.
    """
    if rng.random() < 0.5:
        request = valid_input(rng)
        _perturb(rng, request)
        return request
    now = NOW_MS + rng.randint(0, 10**9)
    info: dict[str, Any] = {
        "bakongAccountID": _account_id(rng),
        "merchantName": _sized(rng, 25) if rng.random() < 0.95 else "",
        "merchantCity": rng.choice([None, "", "Siem Reap", _sized(rng, 15)]),
        "optional": _optional(rng, now),
    }
    kind = "merchant" if rng.random() < 0.5 else "individual"
    if kind == "merchant":
        info["merchantID"] = rng.choice(["", None]) if rng.random() < 0.05 else _sized(rng, 32)
        info["acquiringBank"] = rng.choice(["", None]) if rng.random() < 0.05 else _sized(rng, 32)
    return {"op": "generate", "kind": kind, "info": info, "now": now}


_EDGES: dict[str, int] = {
    "bakongAccountID": 32,
    "merchantName": 25,
    "merchantCity": 15,
    "merchantID": 32,
    "acquiringBank": 32,
    "accountInformation": 32,
    "billNumber": 25,
    "mobileNumber": 25,
    "storeLabel": 25,
    "terminalLabel": 25,
    "purposeOfTransaction": 25,
    "languagePreference": 2,
    "merchantNameAlternateLanguage": 25,
    "merchantCityAlternateLanguage": 15,
    "upiMerchantAccount": 99,
}
_TOP = ("bakongAccountID", "merchantName", "merchantCity", "merchantID", "acquiringBank")


def _perturb(rng: random.Random, request: dict[str, Any]) -> None:
    """Move one field of a generate request to an edge value."""
    info = request["info"]
    optional = info["optional"]
    key = rng.choice([*_EDGES, "currency", "amount", "expirationTimestamp", "mcc", "text"])
    if key in _EDGES:
        value: Any = _sized(rng, _EDGES[key], 2) if rng.random() < 0.8 else rng.choice(["", None])
        if key == "bakongAccountID":
            value = _account_id(rng)
        (info if key in _TOP else optional)[key] = value
    elif key == "currency":
        optional["currency"] = _currency(rng)
    elif key == "amount":
        optional["amount"] = _amount(rng)
    elif key == "expirationTimestamp":
        optional["expirationTimestamp"] = _expiry(rng, request["now"])
    elif key == "mcc":
        optional["merchantCategoryCode"] = rng.choice(["599", "59999", "5a99", "0000", "-100"])
    elif rng.random() < 0.5:
        info["merchantName"] = rng.choice(["A\ud800B", "\U0001f600" * 12, "\U0001f600" * 13])
    else:  # templates at and over 99 characters (tag 62, or tag 29/30)
        size = rng.randint(14, 25)
        for field in ("billNumber", "mobileNumber", "storeLabel", "terminalLabel"):
            optional[field] = random_text(rng, size)
        info["bakongAccountID"] = "a" * rng.randint(25, 27) + "@devb"
        info["merchantID"] = random_text(rng, rng.randint(28, 32))
        info["acquiringBank"] = random_text(rng, rng.randint(28, 32))
        optional["accountInformation"] = info["merchantID"]


def valid_input(rng: random.Random) -> dict[str, Any]:
    """A generate request that mostly succeeds: fields within their limits, KHR or USD."""
    now = NOW_MS + rng.randint(0, 10**9)
    optional: dict[str, Any] = {"currency": rng.choice([116, 840])}
    for key in ("billNumber", "mobileNumber", "storeLabel", "terminalLabel"):
        if rng.random() < 0.3:
            optional[key] = random_text(rng, rng.randint(1, 10))
    if rng.random() < 0.3:
        optional["purposeOfTransaction"] = rng.choice(["Buy coffee", "ទិញកាហ្វេ", "oversea"])
    if rng.random() < 0.3:
        optional["accountInformation"] = rng.choice(["85512233455", "012345678"])
    if rng.random() < 0.4:
        optional["languagePreference"] = rng.choice(["km", "KM", "zh"])
        optional["merchantNameAlternateLanguage"] = rng.choice(_WORDS)
        optional["merchantCityAlternateLanguage"] = rng.choice(["ភ្នំពេញ", "金边", "សៀមរាប"])
    if rng.random() < 0.2 and optional["currency"] == 116:
        optional["upiMerchantAccount"] = "1974011600520446ACLB10002312081"
    if rng.random() < 0.2:
        optional["merchantCategoryCode"] = rng.choice(["5411", "0000", "7011"])
    if rng.random() < 0.6:
        usd = optional["currency"] == 840
        choices = [100, 5000, 1.5, 20.25, 7, 0.01, 9999999999.99] if usd else [100, 5000, 250000]
        optional["amount"] = rng.choice(choices)
        optional["expirationTimestamp"] = now + rng.randint(60_000, 600_000)
    info: dict[str, Any] = {
        "bakongAccountID": rng.choice(["john_smith@devb", "khqr@aclb", "ishinvin@devb"]),
        "merchantName": rng.choice(["John Smith", "Coffee Shop", "ចន ស្មីន", "文山"]),
        "merchantCity": rng.choice(["Phnom Penh", "Siem Reap", "សៀមរាប", None]),
        "optional": optional,
    }
    kind = "merchant" if rng.random() < 0.5 else "individual"
    if kind == "merchant":
        info["merchantID"] = rng.choice(["123456", "85512464917"])
        info["acquiringBank"] = rng.choice(["Dev Bank", "ACLEDA Bank Plc"])
    return {"op": "generate", "kind": kind, "info": info, "now": now}


# -- mutations of QR strings -------------------------------------------------------------------


def _spans(text: str, offset: int = 0) -> list[tuple[int, int, int]]:
    """`(start, value_start, value_end)` of each strictly readable TLV, stopping at the first bad
    one; positions are offsets into the enclosing string."""
    found: list[tuple[int, int, int]] = []
    position = 0
    while position + 4 <= len(text):
        head = text[position : position + 4]
        if not head.isascii() or not head.isdigit():
            break
        stop = position + 4 + int(head[2:])
        if stop > len(text):
            break
        found.append((offset + position, offset + position + 4, offset + stop))
        position = stop
    return found


def _body(qr: str) -> str:
    return qr[:-8] if len(qr) >= 8 and qr[-8:-4] == "6304" else qr


def reseal(body: str) -> str:
    """`body` with `6304` and the CRC appended."""
    return body + "6304" + crc_hex(body + "6304")


def _fields(body: str) -> list[str]:
    return [body[start:stop] for start, _, stop in _spans(body)]


def _nested(body: str) -> list[tuple[int, int, int]]:
    """Top-level spans plus the spans inside templates 26-51, 62, 64 and 80-99."""
    spans = _spans(body)
    inner: list[tuple[int, int, int]] = []
    for start, value_start, value_stop in spans:
        tag = int(body[start : start + 2])
        if 26 <= tag <= 51 or tag in (62, 64) or tag >= 80:
            inner += _spans(body[value_start:value_stop], value_start)
    return spans + inner


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{units(value):02d}{value}"


def _replace_value(body: str, span: tuple[int, int, int], value: str) -> str:
    start, _, stop = span
    return body[:start] + _tlv(body[start : start + 2], value) + body[stop:]


def _m_truncate(rng: random.Random, body: str) -> str:
    return body[: rng.randrange(len(body) + 1)] if body else body


def _m_length(rng: random.Random, body: str) -> str:
    spans = _nested(body)
    if not spans:
        return body
    start, _, stop = rng.choice(spans)
    digits = int(body[start + 2 : start + 4])
    choice = rng.choice([*_LENGTHS, f"{max(digits - 1, 0):02d}", f"{min(digits + 1, 99):02d}"])
    return body[: start + 2] + choice + body[start + 4 :]


def _m_order(rng: random.Random, body: str) -> str:
    fields = _fields(body)
    roll = rng.random()
    if len(fields) < 2:
        return body
    if roll < 0.4:
        rng.shuffle(fields)
    elif roll < 0.7:
        index = rng.randrange(len(fields))
        fields.insert(rng.choice([index, rng.randrange(len(fields))]), fields[index])
    else:
        del fields[rng.randrange(len(fields))]
    return "".join(fields)


_LIMITS = {"52": 4, "53": 3, "54": 13, "58": 3, "59": 25, "60": 15, "15": 99, "00": 2, "01": 2}


def _m_field(rng: random.Random, body: str) -> str:
    spans = _nested(body)
    if not spans:
        return body
    span = rng.choice(spans)
    tag = body[span[0] : span[0] + 2]
    limit = _LIMITS.get(tag, 25)
    if rng.random() < 0.3:
        value = rng.choice(["", "-1", "abc", "0", "00.00", "116", "840", "978", "USD", "11", "12"])
    else:
        value = random_text(rng, max(0, limit + rng.randint(-3, 3)))
    if units(value) > 99:
        return body
    return _replace_value(body, span, value)


def _m_text(rng: random.Random, body: str) -> str:
    spans = _nested(body)
    texts = [span for span in spans if body[span[0] : span[0] + 2] in ("59", "60", "01", "02")]
    if not texts:
        return body
    span = rng.choice(texts)
    value = rng.choice(_WORDS) if rng.random() < 0.5 else random_text(rng, rng.randint(1, 26))
    if rng.random() < 0.3:
        value += rng.choice(_ASTRAL)
    return _replace_value(body, span, value)


def _m_timestamp(rng: random.Random, body: str) -> str:
    now = NOW_MS + rng.randint(-10**9, 10**9)
    values = [
        str(now),
        str(now // 1000),
        str(now * 10),
        f"0x{now:x}",
        f" {now}",
        "1e12",
        "-123456789012",
        "",
        "abc",
        "0000000000000",
        str(now)[:-1] + ".",
        "Infinity",
    ]
    created = rng.choice([str(now - rng.randint(0, 10**6)), *rng.sample(values, 2)])
    expires = rng.choice([str(now + rng.randint(-10**6, 10**6)), *rng.sample(values, 3)])
    parts = [_tlv("00", created) if rng.random() < 0.9 else "", _tlv("01", expires)]
    if rng.random() < 0.1:
        parts.reverse()
    template = _tlv("99", "".join(parts))
    fields = [field for field in _fields(body) if not field.startswith("99")]
    fields.insert(rng.randint(0, len(fields)), template)
    return "".join(fields)


def _m_poi(rng: random.Random, body: str) -> str:
    fields = [field for field in _fields(body) if not field.startswith("01")]
    value = rng.choice(["11", "12", "12", "13", "1", "", "112"])
    fields.insert(rng.randint(0, min(2, len(fields))), _tlv("01", value))
    return "".join(fields)


def _m_insert(rng: random.Random, body: str) -> str:
    fields = _fields(body)
    tag = rng.choice(["02", "04", "15", "26", "30", "29", "40", "61", "62", "64", "65", "80", "99"])
    value = rng.choice(
        [
            "0503abc",
            "0006abaP2P",
            "",
            "0009khqr@aclb",
            "0102zz",
            "01ab",
            "00020103x",
            "0108ចន ស្មីន",
            random_text(rng, rng.randint(0, 20)),
        ]
    )
    fields.insert(rng.randint(0, len(fields)), _tlv(tag, value))
    return "".join(fields)


# Tags the SDK does not read at the top level, and sub-tags each template does not name.
_UNKNOWN_TOP = [f"{n:02d}" for n in range(100) if f"{n:02d}" not in KNOWN_SET]
_NAMED_SUBS = {tag: tuple(names) for tag, names in SUBFIELDS.items()}
_NAMED_SUBS["30"] = _NAMED_SUBS["29"]
_ODD_TAGS = ["ab", "6 ", " 6", "-1", "1e", "០១"]


def _lookalike(rng: random.Random, body: str, sub_tags: tuple[str, ...] = ()) -> str:
    """A value for an unknown tag that looks like something else: a whole field of `body` (or
    one of its sub-fields), another field's value, a TLV of a named sub-tag, several TLVs, the
    CRC field, a template of known sub-tags, or plain text."""
    spans = _nested(body)
    roll = rng.random()
    if roll < 0.2 and spans:
        start, _, stop = rng.choice(spans)
        return body[start:stop]
    if roll < 0.3 and spans:
        _, value_start, stop = rng.choice(spans)
        return body[value_start:stop]
    if roll < 0.5:
        tags = sub_tags or ("00", "01", "02", "03", "07", "08", "59", "99")
        parts = [_tlv(rng.choice(tags), random_text(rng, rng.randint(0, 12)))]
        if rng.random() < 0.4:
            parts.append(_tlv(rng.choice(tags + ("05", "50")), rng.choice(["", "x", "12"])))
        return "".join(parts)
    if roll < 0.6:
        return "6304" + rng.choice(["ABCD", "0000", "a1b2"])
    if roll < 0.7:
        return rng.choice(["0009khqr@aclb", "00020101021229", "0102km0104ចន", "0113" + str(NOW_MS)])
    if roll < 0.8:
        return ""
    return random_text(rng, rng.randint(1, 30))


def _m_unknown_top(rng: random.Random, body: str) -> str:
    """Unknown top-level tags: inserted anywhere, sometimes twice in a row or right after a
    field with the same tag, with look-alike values."""
    fields = _fields(body)
    roll = rng.random()
    tag = rng.choice(_UNKNOWN_TOP) if roll < 0.9 else rng.choice(_ODD_TAGS)
    extra = _tlv(tag, _lookalike(rng, body)) if tag[0] in "0123456789" else tag + "03abc"
    if units(extra) - 4 > 99:
        return body
    index = rng.randint(0, len(fields))
    if rng.random() < 0.15:  # the same unknown tag twice in a row: the SDK stops reading there
        fields.insert(index, _tlv(tag[:2], rng.choice(["", "x", "0102ab"])))
    fields.insert(index, extra)
    return "".join(fields)


def _template_spans(body: str) -> list[tuple[int, int, int]]:
    return [span for span in _spans(body) if body[span[0] : span[0] + 2] in _NAMED_SUBS]


def _m_unknown_sub(rng: random.Random, body: str) -> str:
    """Sub-fields of templates 29/30, 62, 64 and 99: an unknown sub-tag inserted among them
    (with a look-alike value), a named sub-tag repeated, a sub-tag named only in another
    template, or every sub-field replaced by unknown ones (the raw-string case)."""
    spans = _template_spans(body)
    if not spans:
        return _m_new_template(rng, body)
    span = rng.choice(spans)
    tag = body[span[0] : span[0] + 2]
    subs = _fields(body[span[1] : span[2]])
    named = _NAMED_SUBS[tag]
    unknown = [f"{n:02d}" for n in range(100) if f"{n:02d}" not in named]
    roll = rng.random()
    if roll < 0.5:
        sub = rng.choice(unknown) if rng.random() < 0.8 else rng.choice(_ODD_TAGS)
        subs.insert(rng.randint(0, len(subs)), _tlv(sub[:2], _lookalike(rng, body, named)))
    elif roll < 0.7 and subs:
        subs.insert(rng.randint(0, len(subs)), rng.choice(subs))
    elif roll < 0.85:
        others = [sub for other in _NAMED_SUBS.values() for sub in other if sub not in named]
        choice = rng.choice(others or unknown)
        subs.insert(rng.randint(0, len(subs)), _tlv(choice, random_text(rng, rng.randint(0, 9))))
    else:
        count = max(1, len(subs))
        subs = [_tlv(rng.choice(unknown), _lookalike(rng, body, named)) for _ in range(count)]
    value = "".join(subs)
    return body if units(value) > 99 else _replace_value(body, span, value)


def _m_new_template(rng: random.Random, body: str) -> str:
    """A template the code did not have, of named and unknown sub-fields, anywhere."""
    fields = _fields(body)
    tag = rng.choice(list(_NAMED_SUBS))
    named = _NAMED_SUBS[tag]
    subs = []
    for _ in range(rng.randint(0, 3)):
        sub = rng.choice(named) if rng.random() < 0.5 else f"{rng.randrange(100):02d}"
        subs.append(_tlv(sub, _lookalike(rng, body, named)[:20]))
    fields.insert(rng.randint(0, len(fields)), _tlv(tag, "".join(subs)[:99]))
    return "".join(fields)


def _m_char(rng: random.Random, body: str) -> str:
    if not body:
        return body
    index = rng.randrange(len(body))
    char = rng.choice([rng.choice(_ASCII), "0", "9", rng.choice(_KHMER), " ", "\ud800"])
    return body[:index] + char + body[index + 1 :]


_MUTATORS = [
    _m_truncate,
    _m_length,
    _m_length,
    _m_order,
    _m_field,
    _m_field,
    _m_text,
    _m_timestamp,
    _m_poi,
    _m_insert,
    _m_char,
    _m_unknown_top,
    _m_unknown_top,
    _m_unknown_sub,
    _m_unknown_sub,
    _m_unknown_sub,
    _m_new_template,
]


def mutate(rng: random.Random, qr: str) -> str:
    """One to three random mutations of `qr`; usually resealed with a correct CRC."""
    body = _body(qr)
    for _ in range(rng.choice([1, 1, 2, 3])):
        body = rng.choice(_MUTATORS)(rng, body)
    roll = rng.random()
    if roll < 0.8:
        return reseal(body)
    if roll < 0.9:
        return body + qr[-8:]
    sealed = reseal(body)
    return rng.choice([sealed[:-4] + sealed[-4:].lower(), sealed + " ", sealed[:-1], body])


def now_for(rng: random.Random, qr: str) -> int:
    """A clock near the interesting instants of `qr`: its timestamps, or the fixed clock."""
    try:
        fields = decode(qr)
    except QRDecodeError:
        fields = {}
    stamps = [
        int(value)
        for value in (fields.get("creationTimestamp"), fields.get("expirationTimestamp"))
        if value and value.isascii() and value.isdigit()
    ]
    if stamps and rng.random() < 0.9:
        return rng.choice(stamps) + rng.choice([-1, 0, 1, 60_000])
    return NOW_MS + rng.randint(0, 10**9)
