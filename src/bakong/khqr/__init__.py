"""KHQR and foreign QR codes (pure): EMVCo TLV, CRC, KHQR verify/decode/generate, foreign schemes.

The KHQR half agrees with NBC's official SDK, npm `bakong-khqr@1.0.20`, string for string
(shared reference `khqr.md`); the foreign half reads the schemes Bakong's cross-border links reach
(`crossborder-qr.md`). Nothing here reads a clock: pass `now_ms` in.

Modules: `tlv` (TLV reading and writing), `crc`, `ecmascript` (the JavaScript semantics the SDK's
answers depend on), `tags` and `codes` (tag table, limits, the 51 error codes), `fields` and
`rules` (the SDK's slicing and per-tag checks), `verify`, `decode`, `generate`, `foreign`
(scheme routing), `payees`, `nonemv` (UPI, Alipay+), `promptpay` and `vietqr` (generators).
"""

from __future__ import annotations

from bakong.khqr.crc import crc16, crc_hex, crc_matches
from bakong.khqr.decode import decode, md5
from bakong.khqr.foreign import SCHEMES, Parsed, parse
from bakong.khqr.generate import Generated, Options, generate_individual, generate_merchant
from bakong.khqr.promptpay import generate_promptpay
from bakong.khqr.verify import Verdict, verify
from bakong.khqr.vietqr import generate_vietqr

__all__ = [
    "SCHEMES",
    "Generated",
    "Options",
    "Parsed",
    "Verdict",
    "crc16",
    "crc_hex",
    "crc_matches",
    "decode",
    "generate_individual",
    "generate_merchant",
    "generate_promptpay",
    "generate_vietqr",
    "md5",
    "parse",
    "verify",
]
