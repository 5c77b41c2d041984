"""Every published KHQR vector: verdict and code at `checked_at_ms` and at the reference time,
decode output and md5 exactly as the SDK recorded them (khqr.md §11)."""

from __future__ import annotations

from typing import Any

import pytest

from bakong.khqr import crc_hex, crc_matches, decode, md5, verify
from bakong.khqr.codes import message
from tests.khqr.data import KHQR_VECTORS


def _ids(vector: dict[str, Any]) -> str:
    return str(vector["id"])


def test_vector_counts() -> None:
    assert len(KHQR_VECTORS) == 100
    assert sum(vector["valid"] for vector in KHQR_VECTORS) == 20


@pytest.mark.parametrize("vector", KHQR_VECTORS, ids=_ids)
def test_verdict_at_checked_time(vector: dict[str, Any]) -> None:
    verdict = verify(vector["qr"], vector["checked_at_ms"])
    assert verdict.valid is vector["valid"]
    assert verdict.error_code == vector["error_code"]
    if vector["error_code"] is not None:
        assert verdict.error_message == vector["error_message"] == message(verdict.error_code)


@pytest.mark.parametrize("vector", KHQR_VECTORS, ids=_ids)
def test_verdict_at_reference_time(vector: dict[str, Any]) -> None:
    verdict = verify(vector["qr"], vector["reference_time_ms"])
    assert verdict.valid is vector["valid_at_reference_time"]
    assert verdict.error_code == vector["error_code_at_reference_time"]


@pytest.mark.parametrize("vector", KHQR_VECTORS, ids=_ids)
def test_decode_and_md5(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    decoded = decode(vector["qr"])
    assert decoded == expected["decode"]
    assert list(decoded) == list(expected["decode"])
    assert md5(vector["qr"]) == expected["md5"]
    assert (crc_hex(vector["qr"][:-4]) == vector["qr"][-4:].upper()) is expected["crc_ok"]


def test_published_md5_claims() -> None:
    """Every md5 a source printed matches, except SDK-DOC's for V071 (khqr.md §11.5)."""
    claims = {
        vector["id"]: (md5(vector["qr"]), claim)
        for vector in KHQR_VECTORS
        for key, claim in vector["expected"].get("published", {}).items()
        if key.startswith("md5")
    }
    assert len(claims) == 11
    assert [name for name, (ours, claim) in claims.items() if ours != claim] == ["V071"]


def test_crc_gate() -> None:
    """The CRC must follow `6304`, may be lower case (V117), and nothing may follow it (V146)."""
    good = next(vector["qr"] for vector in KHQR_VECTORS if vector["id"] == "V075")
    assert crc_matches(good)
    assert crc_matches(good[:-4] + good[-4:].lower())
    assert not crc_matches(good + " ")
    assert verify(good + " ", 0).error_code == 8
    assert verify(good[:-4] + good[-4:].lower(), 0).valid


def test_dynamic_qr_expires() -> None:
    """V018 is valid at its creation time and expired (46) one millisecond after its expiry."""
    qr = next(vector["qr"] for vector in KHQR_VECTORS if vector["id"] == "V018")
    expiry = int(decode(qr)["expirationTimestamp"] or 0)
    assert verify(qr, expiry).valid
    assert verify(qr, expiry + 1).error_code == 46
