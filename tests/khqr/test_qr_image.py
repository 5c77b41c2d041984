"""Images: generate -> render PNG -> scan -> verify gives back the same string, also after the
picture is rotated, shrunk, blurred and saved as JPEG like a photo; the SVG card draws the same
modules; unreadable files raise the typed error."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from bakong.errors import QRDecodeError
from bakong.khqr import Options, generate_individual, generate_merchant, verify
from bakong.qrimage import render_png, render_svg, scan
from bakong.qrimage.card import layout, symbol
from bakong.qrimage.scan import scan_image

NOW_MS = 1_800_000_000_000


def _codes() -> list[str]:
    dynamic = Options(
        amount=1.5,
        currency=840,
        expiration_timestamp=NOW_MS + 600_000,
        language_preference="km",
        merchant_name_alternate_language="ចន ស្មីន",
        merchant_city_alternate_language="ភ្នំពេញ",
        bill_number="#12345",
    )
    return [
        generate_individual("john_smith@devb", "John Smith", None, dynamic, now_ms=NOW_MS).qr,
        generate_merchant(
            "khqr@aclb", "ACLEDA Café", "Siem Reap", "123456", "ACLEDA Bank", now_ms=NOW_MS
        ).qr,
    ]


@pytest.mark.parametrize("qr", _codes())
def test_round_trip_through_png(qr: str, tmp_path: Path) -> None:
    path = tmp_path / "card.png"
    path.write_bytes(render_png(qr))
    assert scan(path) == [qr]
    assert verify(scan(path)[0], NOW_MS).valid


@pytest.mark.parametrize("qr", _codes())
def test_round_trip_through_a_photo(qr: str) -> None:
    """Rotated 8 degrees on grey, shrunk, blurred and JPEG-compressed: still the same string."""
    card = Image.open(io.BytesIO(render_png(qr, width=600))).convert("RGB")
    photo = card.rotate(8, expand=True, fillcolor=(120, 120, 120))
    photo = photo.resize((photo.width * 2 // 3, photo.height * 2 // 3), Image.Resampling.BILINEAR)
    photo = photo.filter(ImageFilter.GaussianBlur(1.0))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=60)
    assert scan_image(Image.open(io.BytesIO(buffer.getvalue()))) == [qr]


def test_card_shows_name_amount_and_currency() -> None:
    card = layout(_codes()[0])
    assert (card.name, card.amount, card.currency) == ("John Smith", "1.50", "USD")
    assert card.height * 20 >= card.width * 29
    static = layout(_codes()[1])
    assert (static.name, static.amount, static.currency) == ("ACLEDA Café", "0", "KHR")


def test_svg_card_draws_every_module() -> None:
    qr = _codes()[0]
    document = ElementTree.fromstring(render_svg(qr))
    namespace = "{http://www.w3.org/2000/svg}"
    path = document.find(f"{namespace}path")
    assert path is not None
    dark = sum(sum(1 for cell in row if cell) for row in symbol(qr).matrix)
    assert path.attrib["d"].count("M") == dark
    texts = "".join(document.itertext())
    assert "KHQR" in texts and "John Smith" in texts and "USD" in texts


def test_unreadable_images(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    with pytest.raises(QRDecodeError):
        scan(bad)
    with pytest.raises(QRDecodeError):
        scan(tmp_path / "missing.png")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (100, 100), "white").save(blank)
    assert scan(blank) == []
