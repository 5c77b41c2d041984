"""Ed25519 through PyNaCl, and the key file format."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bakong.errors import KeyFileError, LocalError
from bakong.keystore import generate_key, read_key_file, write_key_file
from bakong.wire.keys import SigningKey, format_key_file, parse_key_file, verify

SEED = bytes(range(32))


def test_sign_and_verify() -> None:
    key = SigningKey(SEED)
    signature = key.sign(b"message")
    assert verify(key.public_key, b"message", signature)
    assert not verify(key.public_key, b"messagE", signature)
    assert not verify(SigningKey(b"\x01" * 32).public_key, b"message", signature)


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [
        (b"", b"\x00" * 64),
        (b"\x00" * 32, b""),
        (b"\xff" * 32, b"\xff" * 64),
        (b"\x00" * 33, b"\x00" * 64),
    ],
)
def test_verify_never_raises(public_key: bytes, signature: bytes) -> None:
    assert verify(public_key, b"m", signature) is False


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(LocalError):
        SigningKey(b"short")


def test_key_file_round_trip() -> None:
    key = SigningKey(SEED)
    assert parse_key_file(format_key_file(key)).public_key == key.public_key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        "not json",
        '{"type": "rsa", "seed": "00", "public_key": "00"}',
        '{"type": "ed25519", "seed": "zz", "public_key": "00"}',
        '{"type": "ed25519", "seed": "0001", "public_key": "00"}',
        '{"type": "ed25519", "seed": "' + "00" * 32 + '", "public_key": "' + "11" * 32 + '"}',
        "x" * 5000,
    ],
)
def test_bad_key_files_are_refused(text: str) -> None:
    with pytest.raises(KeyFileError):
        parse_key_file(text)


def test_key_files_are_written_0600_and_open_ones_refused(tmp_path: Path) -> None:
    path = tmp_path / "validator.key"
    key = generate_key()
    write_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path).public_key == key.public_key
    with pytest.raises(FileExistsError):
        write_key_file(path, key)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError) as error:
        read_key_file(path)
    assert error.value.code == "key_file_permissions"
    with pytest.raises(KeyFileError):
        read_key_file(tmp_path / "missing.key")
