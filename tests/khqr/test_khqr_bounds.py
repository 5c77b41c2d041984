"""Bounds and the SDK's endless loops: refused before parsing, answered with a typed error."""

from __future__ import annotations

import pytest

from bakong.errors import QRDecodeError
from bakong.khqr import decode, md5, verify
from bakong.khqr.crc import with_crc
from bakong.khqr.tags import qr_chars_max

VALID = "00020101021129170013merchant@nbcq5204599953038405802KH5917Lucky Supermarket6010Phnom Penh"


def test_over_the_limit_is_refused_before_parsing() -> None:
    long = with_crc(VALID + "99" * qr_chars_max)
    assert verify(long, 0).deviation == "too_long"
    assert verify(long, 0).error_code == 8
    with pytest.raises(QRDecodeError, match="qr_too_long"):
        decode(long)
    emoji = with_crc(VALID + "\U0001f600" * (qr_chars_max // 2))  # fits in code points only
    assert len(emoji) <= qr_chars_max and verify(emoji, 0).deviation == "too_long"


@pytest.mark.parametrize(
    "body",
    [
        VALID.replace("0013merchant", "00abmerchant"),  # sub-tag length "ab": NaN in the SDK
        "000201" + "30ab",  # tag 30 with a NaN length at the top level
    ],
)
def test_strings_the_sdk_slices_forever(body: str) -> None:
    qr = with_crc(body)
    verdict = verify(qr, 0)
    assert (verdict.valid, verdict.error_code, verdict.deviation) == (False, 8, "template_loops")
    with pytest.raises(QRDecodeError, match="qr_template_loops"):
        decode(qr)


def test_lone_surrogates() -> None:
    qr = with_crc(VALID.replace("Lucky", "Luck\ud800"))
    assert verify(qr, 0).valid  # the SDK's CRC input has U+FFFD there, as ours
    assert decode(qr)["merchantName"] == "Luck\ud800 Supermarket"
    with pytest.raises(QRDecodeError, match="qr_not_unicode"):
        md5(qr)
