"""Canonical encoding of every hashed or signed record (design section 8, rule 5).

Rules:
1. Records are frozen `msgspec.Struct`s declared with `array_like=True`: a record is a msgpack
   array of its fields in declaration order, every field present (defaults are encoded too).
2. Encoding uses `order="deterministic"`, so any dict or set is written sorted.
3. Decoding checks the size limit first, decodes with strict types, re-encodes, and requires
   the same bytes. Anything that decodes but is not in canonical form (a wider integer than
   needed, a map where an array belongs, trailing bytes) is rejected before a signature is
   ever looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from bakong.errors import DecodeError

__all__ = ["Record", "decode_canonical", "encode"]

T = TypeVar("T")


class Record(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True, gc=False
):
    """Base of every hashed, signed or stored record: frozen, strict, encoded as an array.

    Frozen records of immutable fields cannot form reference cycles, so the garbage collector
    does not track them (`gc=False`): a block allocates thousands, and tracking them made
    collections a measurable share of executing it."""

_encoder = msgspec.msgpack.Encoder(order="deterministic")
_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


#: encode(record) -> the canonical bytes of `record` (the encoder's own method: ledger loops
#: call it thousands of times a block, and a Python function around it costs a call each time).
encode: Callable[[object], bytes] = _encoder.encode


def _decoder_for(record_type: type[T]) -> msgspec.msgpack.Decoder[T]:
    decoder = _decoders.get(record_type)
    if decoder is None:
        decoder = msgspec.msgpack.Decoder(record_type, strict=True)
        _decoders[record_type] = decoder
    return decoder


def decode_canonical(data: bytes, record_type: type[T], *, bytes_max: int) -> T:
    """Decode `data` as `record_type`, accepting only its canonical encoding.

    Raises `DecodeError` with code `oversized`, `malformed` or `non_canonical`.
    """
    assert bytes_max > 0
    if not isinstance(data, bytes):
        raise DecodeError("malformed", f"expected bytes, got {type(data).__name__}")
    if len(data) > bytes_max:
        raise DecodeError("oversized", f"{len(data)} bytes exceeds the limit of {bytes_max}")
    decoder = _decoder_for(record_type)  # outside the try: a bad schema is our bug, not input
    try:
        record = decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise DecodeError("malformed", str(error)) from None
    except UnicodeDecodeError as error:  # msgspec lets invalid UTF-8 in a str escape as this
        raise DecodeError("malformed", f"invalid UTF-8 in a string: {error.reason}") from None
    except RecursionError:
        raise DecodeError("malformed", "nested too deeply") from None
    if _encoder.encode(record) != data:
        raise DecodeError("non_canonical", "bytes are not the canonical encoding of the record")
    return record

