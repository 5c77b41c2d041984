"""Read QR codes back from a photo or screenshot with zxing-cpp (issue 5, "Images").

zxing-cpp finds codes at any rotation and under perspective, blur and uneven light, and decodes
byte segments as UTF-8, so Khmer text in a KHQR survives. `scan` returns the text of every QR
code in the picture, in the order zxing reports them; an unreadable file raises `QRDecodeError`.
"""

from __future__ import annotations

from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

from bakong import limits
from bakong.errors import QRDecodeError

__all__ = ["scan", "scan_image"]

_QR = zxingcpp.barcode_formats_from_str("QRCode")


def scan_image(image: Image.Image) -> list[str]:
    """The texts of the QR codes in `image`."""
    if image.width * image.height > limits.qr_image_pixels_max:
        raise QRDecodeError("image_too_large", f"{image.width}x{image.height} pixels")
    found = zxingcpp.read_barcodes(image.convert("L"), formats=_QR)
    return [barcode.text for barcode in found if barcode.valid]


def scan(path: str | Path) -> list[str]:
    """The texts of the QR codes in the picture at `path` (PNG, JPEG, WebP, ...)."""
    try:
        with Image.open(path) as image:
            image.load()
            return scan_image(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise QRDecodeError("image_unreadable", f"{path}: {error}") from None
