"""Draw the KHQR card (`card.layout`) as PNG with Pillow, or as SVG text.

PNG text uses DejaVu Sans when the system has it (Debian's fonts-dejavu-core), else Pillow's
built-in font; SVG leaves fonts to the viewer, so Khmer names show wherever a Khmer font is
installed. The code itself is drawn module by module from segno's matrix, black on white, with a
quiet zone of at least 4 modules, so a scanner reads it back exactly (tests/khqr/test_qr_image).
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from bakong.qrimage.card import INK, MUTED, RED, RULE, Card, layout

__all__ = ["render_png", "render_svg"]

_FONTS = Path("/usr/share/fonts/truetype/dejavu")


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _header_polygon(card: Card) -> list[tuple[int, int]]:
    """The red header with its lower right corner cut."""
    w, h, n = card.width, card.header, card.notch
    return [(0, 0), (w, 0), (w, h - n), (w - n, h), (0, h)]


def render_png(qr: str, width: int = 400) -> bytes:
    """The KHQR card for `qr` as PNG bytes."""
    card = layout(qr, width)
    image = Image.new("RGB", (card.width, card.height), "white")
    draw = ImageDraw.Draw(image)
    draw.polygon(_header_polygon(card), fill=RED)
    draw.text(
        (card.width // 2, card.header // 2), "KHQR", fill="white",
        font=_font(card.header * 45 // 100, bold=True), anchor="mm",
    )
    margin = card.width // 10
    draw.text((margin, card.name_y), card.name, fill=MUTED, font=_font(card.name_size), anchor="ls")
    amount_font = _font(card.amount_size, bold=True)
    draw.text((margin, card.amount_y), card.amount, fill=INK, font=amount_font, anchor="ls")
    end = margin + int(draw.textlength(card.amount, font=amount_font)) + card.width // 40
    small = _font(card.name_size)
    draw.text((end, card.amount_y), card.currency, fill=MUTED, font=small, anchor="ls")
    dash = card.width // 50
    for x in range(0, card.width, dash * 2):
        draw.line([(x, card.rule_y), (x + dash, card.rule_y)], fill=RULE, width=max(1, dash // 4))
    for row_index, row in enumerate(card.modules):
        for column, dark in enumerate(row):
            if dark:
                x = card.qr_x + column * card.module
                y = card.qr_y + row_index * card.module
                draw.rectangle([x, y, x + card.module - 1, y + card.module - 1], fill=INK)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _modules_path(card: Card) -> str:
    steps = []
    for row_index, row in enumerate(card.modules):
        for column, dark in enumerate(row):
            if dark:
                x = card.qr_x + column * card.module
                y = card.qr_y + row_index * card.module
                steps.append(f"M{x} {y}h{card.module}v{card.module}h-{card.module}z")
    return "".join(steps)


def render_svg(qr: str, width: int = 400) -> str:
    """The KHQR card for `qr` as an SVG document."""
    card = layout(qr, width)
    points = " ".join(f"{x},{y}" for x, y in _header_polygon(card))
    margin = card.width // 10
    dash = card.width // 50
    font = "font-family=\"DejaVu Sans, Noto Sans Khmer, Khmer OS, sans-serif\""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{card.width}" height="{card.height}" '
        f'viewBox="0 0 {card.width} {card.height}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<polygon points="{points}" fill="{RED}"/>'
        f'<text x="{card.width // 2}" y="{card.header // 2}" fill="white" {font} '
        f'font-weight="bold" font-size="{card.header * 45 // 100}" text-anchor="middle" '
        f'dominant-baseline="central">KHQR</text>'
        f'<text x="{margin}" y="{card.name_y}" fill="{MUTED}" {font} '
        f'font-size="{card.name_size}">{escape(card.name)}</text>'
        f'<text x="{margin}" y="{card.amount_y}" {font} font-size="{card.amount_size}">'
        f'<tspan fill="{INK}" font-weight="bold">{escape(card.amount)}</tspan>'
        f'<tspan fill="{MUTED}" font-size="{card.name_size}" dx="{card.width // 40}">'
        f"{escape(card.currency)}</tspan></text>"
        f'<line x1="0" y1="{card.rule_y}" x2="{card.width}" y2="{card.rule_y}" stroke="{RULE}" '
        f'stroke-width="{max(1, dash // 4)}" stroke-dasharray="{dash} {dash}"/>'
        f'<path d="{_modules_path(card)}" fill="{INK}"/>'
        "</svg>"
    )
