"""The printable store card: a merchant's static KHQR for the counter, as PNG or PDF.

An A6 portrait card (`limits.store_card_width_px` wide at `limits.store_card_dpi`): the red
KHQR header, the business name in Latin letters and, when the bank recorded one, in Khmer;
the static code itself, without a logo in its middle (every module is read, nothing is
covered); the bank that acquires the payments and the account ID; and the instruction "Scan
with any KHQR app", in English and Khmer.

Rules:
- The code is drawn module by module from the same symbol `bakong.qrimage` draws (segno,
  level M), black on white with a quiet zone of four modules, so a phone reads back exactly
  the string the till's `POST /v1/merchant/codes` gives for a static code.
- Khmer is shaped by Pillow's raqm layout (HarfBuzz) with a Khmer OS font (Debian's
  `fonts-khmeros`); without raqm or the font the Khmer lines are left out rather than drawn
  as broken glyphs. Latin text is DejaVu Sans when present, else Pillow's own font.
- A name too long for the card is drawn smaller, down to a third of its size, then cut with
  an ellipsis: the card never overflows.
- The PDF is the same image on one page of the card's size (Pillow's PDF writer), so print
  shops and office printers take either.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

from bakong import limits
from bakong.qrimage.card import INK, MUTED, RED, symbol

__all__ = ["StoreCard", "render_pdf", "render_png"]

_LATIN = Path("/usr/share/fonts/truetype/dejavu")
_KHMER = [
    Path("/usr/share/fonts/truetype/khmeros/KhmerOSsys.ttf"),
    Path("/usr/share/fonts/truetype/khmeros/KhmerOS.ttf"),
]
INSTRUCTION = "Scan with any KHQR app"
INSTRUCTION_KM = "ស្កេនដោយប្រើកម្មវិធី KHQR ណាមួយ"
_QUIET_MODULES = 4
_ELLIPSIS = "…"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class StoreCard:
    """What the card shows."""

    qr: str  # the merchant's static KHQR
    name: str  # the business name as printed in the code (Latin)
    name_km: str | None  # the business name in Khmer, if the bank recorded one
    bank: str  # the acquiring bank's name
    account_id: str


@cache
def _latin(size: int, bold: bool) -> Font:
    path = _LATIN / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


@cache
def _khmer(size: int) -> Font | None:
    """A Khmer font shaped by raqm, or None when either is missing."""
    if not features.check("raqm"):
        return None
    for path in _KHMER:
        if path.is_file():
            return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)
    return None


def _fitted(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> tuple[str, Font]:
    """`text` and a bold font for it no wider than `width`: smaller, then cut (module rules)."""
    smallest = max(1, size // 3)
    for trial in range(size, smallest - 1, -max(1, size // 20)):
        font = _latin(trial, True)
        if draw.textlength(text, font=font) <= width:
            return text, font
    font = _latin(smallest, True)
    while text and draw.textlength(text + _ELLIPSIS, font=font) > width:
        text = text[:-1]
    return text + _ELLIPSIS, font


def _draw_code(draw: ImageDraw.ImageDraw, qr: str, left: int, top: int, side: int) -> int:
    """The code in a `side`-pixel square at (left, top), quiet zone included; its bottom."""
    matrix = symbol(qr).matrix
    count = len(matrix) + 2 * _QUIET_MODULES
    module = side // count
    assert module >= 1, "the card is too small for this code"
    offset_x = left + (side - count * module) // 2 + _QUIET_MODULES * module
    offset_y = top + _QUIET_MODULES * module
    for row_index, row in enumerate(matrix):
        for column, dark in enumerate(row):
            if dark:
                x = offset_x + column * module
                y = offset_y + row_index * module
                draw.rectangle([x, y, x + module - 1, y + module - 1], fill=INK)
    return top + count * module


def _centred(draw: ImageDraw.ImageDraw, y: int, text: str, font: Font, fill: str) -> None:
    width = draw.im.size[0]
    draw.text((width // 2, y), text, fill=fill, font=font, anchor="ms")


def card_image(card: StoreCard) -> Image.Image:
    """The card as a Pillow image (module rules)."""
    width = limits.store_card_width_px
    height = width * 148 // 105  # A6's sides
    unit = width // 100
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    header = 13 * unit
    notch = header * 2 // 3
    corners = [(0, 0), (width, 0), (width, header - notch), (width - notch, header), (0, header)]
    draw.polygon(corners, fill=RED)
    _centred(draw, header * 2 // 3, "KHQR", _latin(6 * unit, True), "white")
    y = header + 11 * unit
    text, font = _fitted(draw, card.name, 7 * unit, width - 12 * unit)
    _centred(draw, y, text, font, INK)
    khmer = _khmer(6 * unit)
    if card.name_km and khmer is not None:
        y += 9 * unit
        _centred(draw, y, card.name_km, khmer, INK)
    side = 80 * unit
    bottom = _draw_code(draw, card.qr, (width - side) // 2, y + 3 * unit, side)
    y = bottom + 4 * unit
    _centred(draw, y, INSTRUCTION, _latin(4 * unit, True), INK)
    small_khmer = _khmer(4 * unit)
    if small_khmer is not None:
        y += 7 * unit
        _centred(draw, y, INSTRUCTION_KM, small_khmer, INK)
    y += 7 * unit
    _centred(draw, y, card.bank, _latin(3 * unit, False), MUTED)
    _centred(draw, y + 5 * unit, card.account_id, _latin(3 * unit, False), MUTED)
    return image


def render_png(card: StoreCard) -> bytes:
    out = io.BytesIO()
    card_image(card).save(out, format="PNG", optimize=True, dpi=(limits.store_card_dpi,) * 2)
    return out.getvalue()


def render_pdf(card: StoreCard) -> bytes:
    out = io.BytesIO()
    card_image(card).save(out, format="PDF", resolution=float(limits.store_card_dpi))
    return out.getvalue()
