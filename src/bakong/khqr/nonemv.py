"""QR codes that are not EMVCo TLV: UPI URIs and Alipay+ codes (crossborder-qr.md §2.6, §2.9).

- UPI (NPCI UPI Linking Specifications v1.6): `upi://pay?pa=<VPA>&pn=<name>&am=<amount>&cu=INR
  &...`, percent-encoded; `pa` is mandatory.
- Alipay+ MPM code standard v3: `HTTPS://<domain>/MPM/3/<base64(GPLD payload)>`. The payload is
  `GPLD` + a 3-digit length, then data objects of a 4-character ID, a 3-digit length and the
  value (`PLVS`, `CDSD`, `CIRD`, ...); values that are themselves EMVCo TLV are nested.
- Legacy Alipay and Alipay+ order codes: `https://qr.alipay.com/...`, `https://alipay.com/...`.
- Alipay+ CPM payment codes: 24 digits = CII (6) + BTI (2, `02` = UPM) + UIN (16); legacy codes
  have 17-19 digits and start with `28`.

Identification of other Alipay+ codes is rule-based and served by Alipay+ itself (§2.6); an
HTTPS URL that matches none of the forms above is not claimed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from bakong.errors import QRDecodeError
from bakong.khqr.tlv import Tree, read

__all__ = ["non_emv"]

_ALIPAY_HOSTS: Final = ("qr.alipay.com", "alipay.com", "render.alipay.com")
_ISO_NUMERIC: Final = {"INR": "356"}

Found = tuple[str, str | None, str | None, str | None, Tree]


def non_emv(qr: str) -> Found | None:
    """`(scheme, country, currency, amount, payee)` for a UPI or Alipay+ code, else `None`."""
    lowered = qr[:8].lower()
    if lowered.startswith("upi://"):
        return _upi(qr)
    if lowered.startswith(("https://", "http://")):
        return _alipay_url(qr)
    if qr.isascii() and qr.isdigit():
        if len(qr) == 24:
            payee: Tree = {"format": "cpm", "cii": qr[:6], "bti": qr[6:8], "uin": qr[8:]}
            return "alipayplus", None, None, None, payee
        if 17 <= len(qr) <= 19 and qr.startswith("28"):
            return "alipayplus", None, None, None, {"format": "cpm_legacy", "code": qr}
    return None


def _upi(qr: str) -> Found:
    parts = urlsplit(qr)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if parts.netloc.lower() != "pay" or not params.get("pa"):
        return "unknown", None, None, None, {}
    payee: Tree = {"action": parts.netloc.lower(), **params}
    currency = params.get("cu")
    if currency is not None:
        currency = _ISO_NUMERIC.get(currency.upper(), currency)
    return "upi", "IN", currency, params.get("am"), payee


def _alipay_url(qr: str) -> Found | None:
    parts = urlsplit(qr)
    host = (parts.hostname or "").lower()
    segments = parts.path.split("/")
    if len(segments) == 4 and segments[1].upper() == "MPM" and segments[2].isdigit():
        objects = _gpld(segments[3])
        if objects is not None:
            payee: Tree = {"format": "mpm", "domain": host, "version": segments[2]}
            payee["objects"] = objects
            return "alipayplus", None, None, None, payee
    if host in _ALIPAY_HOSTS:
        return "alipayplus", None, None, None, {"format": "url", "domain": host, "url": qr}
    return None


def _gpld(encoded: str) -> Tree | None:
    """The data objects of a base64 GPLD payload, or `None` if it is not one."""
    try:
        payload = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        text = payload.decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith("GPLD") or text[4:7] != f"{len(text) - 7:03d}":
        return None
    objects: Tree = {}
    position = 7
    while position < len(text):
        name, size = text[position : position + 4], text[position + 4 : position + 7]
        if len(size) < 3 or not size.isdigit():
            return None
        value = text[position + 7 : position + 7 + int(size)]
        try:
            objects[name] = dict(read(value)) if len(value) >= 4 else value
        except QRDecodeError:
            objects[name] = value
        position += 7 + int(size)
    return objects
