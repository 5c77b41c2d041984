"""Unknown tags and sub-tags, and values that look like other fields (issue 14, item 3).

Each case is a code whose answer bakong-khqr@1.0.20 gave when the widened differential
generator (`tools.qrdiff.cases`: `_m_unknown_top`, `_m_unknown_sub`, `_m_new_template`) was
written: the verify code at `NOW_MS` (`None`: valid) and the decode fields that show the rule.
The rules: the SDK reads only the tags and sub-tags it names, slices linearly (a value that
looks like a field is never read as one), stops at a tag equal to the previous one (30 counts
as 29), and a later named sub-field wins. The last test asks the SDK again, so the table cannot
drift from it.
"""

from __future__ import annotations

import pytest

from bakong.khqr import decode, verify
from tools.qrdiff import oracle

NOW_MS = 1_763_700_100_000
_HEAD = "00020101021129190015john_smith@devb"
_TAIL = "5204599953031165802KH5910John Smith6010Phnom Penh"

# name -> (QR, SDK verify code, decode fields)
CASES: dict[str, tuple[str, int | None, dict[str, str | None]]] = {
    "unknown top-level tag holding a whole field": (
        _HEAD + "65145910Other Name" + _TAIL + "630448BA",
        None,
        {"merchantName": "John Smith", "merchantType": "29"},
    ),
    "the same unknown tag twice in a row stops the reading": (
        _HEAD + "6501x6501y" + _TAIL + "6304867C",
        25,
        {"merchantCategoryCode": None, "merchantName": None, "crc": None},
    ),
    "unknown 62 sub-tag holding a bill number": (
        _HEAD + _TAIL + "622105080104fake0105INV-163049E3B",
        None,
        {"billNumber": "INV-1"},
    ),
    "tag 62 of unknown sub-tags only": (
        _HEAD + _TAIL + "62170503abc09060102zz6304277B",
        None,
        {"billNumber": None, "storeLabel": None, "terminalLabel": None},
    ),
    "unknown 29 sub-tag holding an account ID": (
        "000201010211293603130009evil@bank0015john_smith@devb" + _TAIL + "6304F32A",
        None,
        {"bakongAccountID": "john_smith@devb", "accountInformation": None},
    ),
    "a repeated 64 sub-tag: the later wins": (
        _HEAD + _TAIL + "64210002km0102ចន0105ស្មីន6304E521",
        None,
        {"languagePreference": "km", "merchantNameAlternateLanguage": "ស្មីន"},
    ),
    "unknown 99 sub-tag holding a timestamp": (
        "00020101021229190015john_smith@devb5204599953031165802KH5403100"
        "5910John Smith6010Phnom Penh"
        "9951" "00131763700000000" "02131763700600000" "01131763700300000"
        "630496B7",
        None,
        {"creationTimestamp": "1763700000000", "expirationTimestamp": "1763700300000"},
    ),
    "tag 29 after tag 30 stops the reading": (
        "00020101021130200009khqr@aclb010312329190015john_smith@devb" + _TAIL + "630402D6",
        25,
        {"merchantType": "30", "bakongAccountID": "khqr@aclb", "merchantID": "123"},
    ),
    "tag 30 after tag 29: the later wins": (
        _HEAD + _TAIL + "30200009khqr@aclb0103123630401AB",
        None,
        {"merchantType": "30", "bakongAccountID": "khqr@aclb", "merchantID": "123"},
    ),
    "tag 62 holding another template's sub-tag": (
        _HEAD + _TAIL + "62220009khqr@aclb0305Store6304214F",
        None,
        {"bakongAccountID": "john_smith@devb", "storeLabel": "Store"},
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_verify_and_decode_as_the_sdk(name: str) -> None:
    qr, code, fields = CASES[name]
    verdict = verify(qr, NOW_MS)
    assert (verdict.valid, verdict.error_code) == (code is None, code)
    decoded = decode(qr)
    assert {key: decoded[key] for key in fields} == fields


def test_the_table_is_the_sdks_answer() -> None:
    requests = []
    for qr, _, _ in CASES.values():
        requests += [{"op": "verify", "qr": qr, "now": NOW_MS}, {"op": "decode", "qr": qr}]
    answers = oracle.ask(requests)
    for index, (qr, code, fields) in enumerate(CASES.values()):
        checked, decoded = answers[2 * index], answers[2 * index + 1]["data"]
        assert (checked["valid"], checked["code"]) == (code is None, code), qr
        assert {key: decoded[key] for key in fields} == fields, qr
