"""QR images (I/O): render a KHQR as a PNG or SVG card, and read codes back from pictures.

`card` lays out the KHQR card (KHQR Content Guideline: a red header, the merchant name, the
amount with its currency, a dashed rule, then the code); `render` draws it as PNG (Pillow) or
SVG; `scan` reads every QR code in a photo or screenshot with zxing-cpp.
"""

from __future__ import annotations

from bakong.qrimage.render import render_png, render_svg
from bakong.qrimage.scan import scan

__all__ = ["render_png", "render_svg", "scan"]
