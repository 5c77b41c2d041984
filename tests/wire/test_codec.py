"""Canonical encoding: decode accepts exactly the bytes encode produces, nothing else."""

from __future__ import annotations

import msgspec
import pytest

from bakong.errors import DecodeError
from bakong.wire.codec import Record, decode_canonical, encode


class Point(Record, frozen=True):
    x: int
    label: str


def test_round_trip() -> None:
    point = Point(x=5, label="a")
    assert decode_canonical(encode(point), Point, bytes_max=100) == point
    assert encode(point) == b"\x92\x05\xa1a"  # an array of the fields in declaration order


def test_oversized_is_rejected_before_decoding() -> None:
    with pytest.raises(DecodeError) as error:
        decode_canonical(b"\x92" + b"\x00" * 200, Point, bytes_max=100)
    assert error.value.code == "oversized"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "malformed"),
        (b"\xc1", "malformed"),
        (b"\x93\x05\xa1a\x01", "malformed"),  # an unknown extra field
        (b"\x92\xa1a\x05", "malformed"),  # wrong types
        (b"\x92\x05\xa1a\x00", "malformed"),  # trailing bytes
        (b"\x92\xd0\x05\xa1a", "non_canonical"),  # 5 as int8 instead of fixint
        (b"\x92\x05\xd9\x01a", "non_canonical"),  # str8 instead of fixstr
        (b"\x82\xa1x\x05\xa5label\xa1a", "malformed"),  # a map where an array belongs
        (b"\x92\x05\xa1\x95", "malformed"),  # invalid UTF-8 (found by `bakong fuzz tx`)
    ],
)
def test_bad_bytes_get_a_typed_error(data: bytes, code: str) -> None:
    with pytest.raises(DecodeError) as error:
        decode_canonical(data, Point, bytes_max=100)
    assert error.value.code == code


def test_not_bytes_is_malformed() -> None:
    with pytest.raises(DecodeError):
        decode_canonical("text", Point, bytes_max=100)  # type: ignore[arg-type]


def test_deterministic_order_of_dicts() -> None:
    assert encode({"b": 1, "a": 2}) == msgspec.msgpack.encode({"a": 2, "b": 1})
