"""KHQR and foreign QR codes (pure): EMVCo TLV, CRC, KHQR verify/decode/generate, foreign schemes.

The KHQR half agrees with NBC's official SDK, npm `bakong-khqr@1.0.20`, string for string
(shared reference `khqr.md`); the foreign half reads the schemes Bakong's cross-border links reach
(`crossborder-qr.md`). Nothing here reads a clock: pass `now_ms` in.
"""

from __future__ import annotations

from bakong.khqr.crc import crc16, crc_hex, crc_matches
from bakong.khqr.decode import decode, md5
from bakong.khqr.verify import Verdict, verify

__all__ = [
    "Verdict",
    "crc16",
    "crc_hex",
    "crc_matches",
    "decode",
    "md5",
    "verify",
]
