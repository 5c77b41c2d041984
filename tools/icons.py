"""The wallet's app icons (`python -m tools.icons`): PNGs for the web app manifest, by Pillow.

Writes `src/bakong/gateway/pages/static/icons/`: `icon-192.png` and `icon-512.png` (rounded
corners on a transparent ground, for `"purpose": "any"`) and `maskable-192.png` and
`maskable-512.png` (full bleed: the launcher crops them to its own shape, so everything that
matters sits inside the central 80 % circle, the maskable safe zone). The motif is the three
finder squares of a QR code around a coin: paying by QR. The output is committed; run this
again only to change the drawing.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from tools import ROOT

__all__ = ["draw_icon", "main"]

OUT = ROOT / "src" / "bakong" / "gateway" / "pages" / "static" / "icons"
BRAND = (11, 83, 148, 255)  # the pages' --brand
WHITE = (255, 255, 255, 255)
GOLD = (255, 190, 60, 255)
SUPERSAMPLE = 4  # drawn large and scaled down: smooth edges without anti-aliasing support


def _finder(draw: ImageDraw.ImageDraw, x: float, y: float, size: float) -> None:
    """A QR finder pattern: a ring and a dot, `size` wide, top left at (x, y)."""
    module = size / 7
    draw.rounded_rectangle((x, y, x + size, y + size), radius=module * 1.2, fill=WHITE)
    inner = (x + module, y + module, x + size - module, y + size - module)
    draw.rounded_rectangle(inner, radius=module * 0.8, fill=BRAND)
    dot = (x + 2 * module, y + 2 * module, x + size - 2 * module, y + size - 2 * module)
    draw.rounded_rectangle(dot, radius=module * 0.6, fill=WHITE)


def draw_icon(size: int, maskable: bool) -> Image.Image:
    """The icon at `size` pixels square."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=BRAND)
        safe = big * 0.8  # the motif stays in the safe zone's inscribed square
        origin = (big - safe / 2**0.5) / 2
        span = safe / 2**0.5
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=BRAND)
        origin = big * 0.16
        span = big * 0.68
    finder = span * 0.36
    _finder(draw, origin, origin, finder)
    _finder(draw, origin + span - finder, origin, finder)
    _finder(draw, origin, origin + span - finder, finder)
    coin = span * 0.36
    x = origin + span - coin
    draw.ellipse((x, x, x + coin, x + coin), fill=GOLD)
    ring = coin * 0.2
    draw.ellipse((x + ring, x + ring, x + coin - ring, x + coin - ring), outline=BRAND,
                 width=max(1, round(coin * 0.07)))  # fmt: skip
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for size in (192, 512):
        for maskable in (False, True):
            name = f"{'maskable' if maskable else 'icon'}-{size}.png"
            draw_icon(size, maskable).save(out / name, optimize=True)
            written.append(out / name)
    return written


if __name__ == "__main__":
    for path in main():
        print(path.relative_to(ROOT))
