"""Key files on disk: generate, write with permissions 0600, and read back safely.

This is the I/O edge of `bakong.wire.keys`: the format lives there, the file system here.
A key file readable by group or others is refused, as ssh refuses an open private key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.utils

from bakong.errors import KeyFileError
from bakong.wire.keys import SigningKey, format_key_file, parse_key_file, seed_size

__all__ = [
    "generate_key",
    "read_key_file",
    "read_private_file",
    "write_key_file",
    "write_private_file",
]


def generate_key() -> SigningKey:
    """A new key from the operating system's randomness (libsodium's randombytes)."""
    return SigningKey(nacl.utils.random(seed_size))


def write_private_file(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write `data` to `path` with mode 0600, created that way so it is never briefly open,
    and synced before returning."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    descriptor = os.open(path, flags, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_private_file(path: Path) -> bytes:
    """The bytes of a secret file, refused if group or others may read it."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                "key_file_permissions",
                f"{path} has mode {stat.S_IMODE(mode):04o}; run chmod 600 {path}",
            )
        return path.read_bytes()
    except OSError as error:
        raise KeyFileError("key_file_unreadable", f"{path}: {error.strerror}") from None


def write_key_file(path: Path, key: SigningKey, *, overwrite: bool = False) -> None:
    """Write `key` to `path` with mode 0600 (`write_private_file`)."""
    write_private_file(path, format_key_file(key).encode(), overwrite=overwrite)


def read_key_file(path: Path) -> SigningKey:
    """Read a key file, refusing one that group or others may read."""
    return parse_key_file(read_private_file(path))
