"""The cross-border messages and their signatures (`bakong.crossborder.messages`): strict,
bounded decoding and Ed25519 body signatures that refuse every kind of wrong."""

from __future__ import annotations

import pytest

from bakong import limits
from bakong.crossborder.messages import (
    MINOR_UNITS,
    IsoProblem,
    Lookup,
    Pacs002,
    Pacs008,
    decode,
    encode,
    get_signed_bytes,
    key_id,
    parse_key_id,
    sign_body,
    verify_body,
)
from bakong.errors import ConfigError
from bakong.keystore import generate_key


def message() -> Pacs008:
    return Pacs008("m1", "e1", 1, "xlnk", "Sokha C.", "shop@aclb", "KHR", 5_000, "md5")


def test_a_message_survives_the_round_trip_and_unknown_fields_are_refused() -> None:
    assert decode(encode(message()), Pacs008) == message()
    with pytest.raises(IsoProblem) as raised:
        decode(encode(message())[:-1] + b',"extra":1}', Pacs008)
    assert (raised.value.code, raised.value.http_status) == ("bad_message", 400)
    with pytest.raises(IsoProblem):
        decode(b"not json", Pacs008)


@pytest.mark.parametrize(
    "body",
    [
        b'{"end_to_end_id":"' + b"x" * 36 + b'","status":"ACCC"}',  # over Max35Text
        b'{"end_to_end_id":"e 1","status":"ACCC"}',  # a space in an id
        b'{"end_to_end_id":"e1","status":"DONE"}',  # not an ISO status
    ],
)
def test_fields_are_bounded(body: bytes) -> None:
    with pytest.raises(IsoProblem):
        decode(body, Pacs002)


def test_amounts_are_positive_and_bounded_and_oversized_bodies_refused() -> None:
    for amount in (0, -1, limits.iso_amount_max + 1):
        bad = encode(message()).replace(b'"amount":5000', f'"amount":{amount}'.encode())
        with pytest.raises(IsoProblem):
            decode(bad, Pacs008)
    with pytest.raises(IsoProblem) as raised:
        decode(b" " * (limits.iso_body_bytes_max + 1), Lookup)
    assert raised.value.http_status == 413
    assert MINOR_UNITS["KHR"] == 0 and MINOR_UNITS["THB"] == 2


def test_a_signature_verifies_and_names_its_signer() -> None:
    key, other = generate_key(), generate_key()
    body = encode(message())
    headers = sign_body(key, body)
    assert headers["X-Bakong-Signer"] == key_id(key.public_key)
    assert verify_body([other.public_key, key.public_key], headers, body) == key.public_key
    lowered = {name.lower(): value for name, value in headers.items()}
    assert verify_body([key.public_key], lowered, body) == key.public_key
    cases = [
        ({}, "signature_missing"),
        (headers, "signer_unknown", [other.public_key]),
        ({**headers, "X-Bakong-Signature": "!!"}, "signature_malformed"),
        (sign_body(key, body + b"x"), "signature_invalid"),
    ]
    for case in cases:
        keys = case[2] if len(case) == 3 else [key.public_key]  # type: ignore[misc]
        with pytest.raises(IsoProblem) as raised:
            verify_body(keys, case[0], body)  # type: ignore[arg-type]
        assert (raised.value.code, raised.value.http_status) == (case[1], 401)


def test_a_get_signs_its_path_so_it_cannot_be_replayed_elsewhere() -> None:
    key = generate_key()
    headers = sign_body(key, get_signed_bytes("/iso/pacs002/e1"))
    assert verify_body([key.public_key], headers, get_signed_bytes("/iso/pacs002/e1"))
    with pytest.raises(IsoProblem):
        verify_body([key.public_key], headers, get_signed_bytes("/iso/pacs002/e2"))


def test_a_configured_public_key_is_64_hex_digits() -> None:
    key = generate_key()
    assert parse_key_id(key_id(key.public_key) + "\n") == key.public_key
    for bad in ("", "zz" * 32, "ab" * 31):
        with pytest.raises(ConfigError):
            parse_key_id(bad)
